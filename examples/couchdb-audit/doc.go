// Package audit is an example (see its README): every change of a CouchDB
// database runs an action that writes an audit document to a second
// database. Its test runs the README's commands against pouchdb-server.
package audit
