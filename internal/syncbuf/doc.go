// Package syncbuf holds Buffer, a bytes.Buffer that one goroutine may write
// while another reads it: the log of a server a test runs, read when the
// test checks it or fails.
package syncbuf
