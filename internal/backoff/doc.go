// Package backoff is the growing pause of Gust's restart and retry loops
// (a bucket watch, a feed instance, the feed manager, an activation record
// that fails to store, an invocation waiting for its sandbox, a process
// proxy's socket): it starts at a minimum, doubles after each failure up to
// a maximum, and is waited out on a context.
package backoff
