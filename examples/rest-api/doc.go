// Package restapi is an example: a small REST microservice, a CRUD API of
// books over a CouchDB database, made of four web actions behind API
// routes (`gust api create`, as `wsk api create`). See README.md; its test
// runs the README's commands.
package restapi
