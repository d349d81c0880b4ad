// Package backoff is the growing pause of Gust's restart and retry loops
// (a bucket watch, a feed instance, the feed manager, an activation record
// that fails to store, an invocation waiting for its sandbox, a process
// proxy's socket, a Docker container's proxy): it starts at a minimum,
// doubles (or grows by a factor of its own) after each failure up to a
// maximum, and is waited out on a context.
package backoff
