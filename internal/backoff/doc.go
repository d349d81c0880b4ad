// Package backoff is the growing pause of Gust's restart and retry loops
// (a bucket watch, a stream's provisioning and a read or fetch while a
// cluster elects a leader, a feed instance, the feed manager, an
// activation record that fails to store, an invoker's queue consumer, an
// invocation waiting for its sandbox, a stem cell that failed to start, a
// process proxy's socket, a Docker container's proxy, the CLI's event
// stream): it starts at a minimum, doubles (or grows by a factor of its
// own) after each failure up to a maximum, and is waited out on a context.
package backoff
