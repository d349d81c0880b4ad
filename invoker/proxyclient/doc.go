// Package proxyclient is the invoker's HTTP/1.1 transport to action
// proxies. An http.Transport runs every connection with a reader and a
// writer goroutine, so that each request hands off to both and back: on a
// small machine those wake-ups cost more than the request itself. This
// Transport runs a request on the caller's goroutine: it writes the
// request and reads the answer on a kept-alive connection to the one
// server it dials, and puts the connection back once the body is read.
//
// It serves what the invoker sends (/init and /run with a body of known
// length) and any http.Client use against one server, without proxies,
// TLS, compression or HTTP/2.
package proxyclient
