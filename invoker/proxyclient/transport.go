package proxyclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxIdle bounds the kept-alive connections; more are closed once used.
const maxIdle = 64

// bufSize is the size of each connection's read and write buffers.
const bufSize = 16 << 10

// Transport is an http.RoundTripper to one server, reached by its dial
// function whatever the request's URL says. Its methods are safe for
// concurrent use.
type Transport struct {
	dial func(ctx context.Context) (net.Conn, error)

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// New returns a Transport that opens its connections with dial.
func New(dial func(ctx context.Context) (net.Conn, error)) *Transport {
	return &Transport{dial: dial}
}

// conn is one connection with its buffers.
type conn struct {
	net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// longAgo is a deadline in the past: setting it breaks off a blocked read
// or write at once.
var longAgo = time.Unix(1, 0)

// RoundTrip sends req and reads the answer's header on the calling
// goroutine; the body is read from the connection as the caller reads it,
// and the connection is kept for the next request once the body has been
// read to its end. A request whose context ends is abandoned, and its
// connection closed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close() // a RoundTripper closes the request's body
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	head, body, length, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	c, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	// Cancelling the context breaks off any read or write in progress.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(longAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	_, _ = c.bw.Write(head) // a bufio.Writer reports its errors on Flush
	if body != nil {
		n, err := io.Copy(c.bw, body)
		if err == nil && n != length {
			err = fmt.Errorf("the request body has %d bytes, not the %d of its ContentLength", n, length)
		}
		if err != nil {
			return fail(fmt.Errorf("send request body: %w", err))
		}
	}
	if err := c.bw.Flush(); err != nil {
		return fail(fmt.Errorf("send request: %w", err))
	}
	resp, err := readResponse(c.br, req)
	if err != nil {
		return fail(fmt.Errorf("read response: %w", err))
	}
	reusable := !resp.Close && !req.Close
	release := func(clean bool) {
		if !stop() || !clean || !reusable {
			// The context ended (and may have set c's deadline), the body
			// was not read to its end, or the server closes c.
			c.Close()
			return
		}
		t.put(c)
	}
	if resp.Body == http.NoBody {
		release(true)
		return resp, nil
	}
	resp.Body = &respBody{r: resp.Body, release: release}
	return resp, nil
}

// max1xx bounds the informational answers before a request's final one.
const max1xx = 5

// readResponse reads req's final answer, passing the informational ones
// before it (1xx, such as the action proxy's 102 Processing) to the
// request's httptrace.ClientTrace, as http.Transport does.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(req.Context())
	for range max1xx {
		resp, err := http.ReadResponse(br, req)
		if err != nil || resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, err
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("more than %d informational answers", max1xx)
}

// encodeRequest returns req's request line and header, and the reader of
// its body (nil without one) with the body's length.
func encodeRequest(req *http.Request) (head []byte, body io.Reader, length int64, err error) {
	if req.URL == nil {
		return nil, nil, 0, errors.New("proxyclient: request without a URL")
	}
	body = req.Body
	if body == http.NoBody {
		body = nil
	}
	length = req.ContentLength
	if body != nil && length <= 0 {
		// Unknown length: read it all, to send it with its length.
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("read request body: %w", err)
		}
		body, length = bytes.NewReader(b), int64(len(b))
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b := make([]byte, 0, 256)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue // set here
		}
		for _, v := range vs {
			if strings.ContainsAny(k, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
				return nil, nil, 0, fmt.Errorf("proxyclient: invalid header %q", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if body != nil || method == http.MethodPost || method == http.MethodPut {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, max(length, 0), 10)
		b = append(b, "\r\n"...)
	}
	if req.Close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if body != nil {
		body = io.LimitReader(body, length+1) // one more byte tells a body longer than announced
	}
	return b, body, length, nil
}

// get returns an idle connection, or a new one.
func (t *Transport) get(ctx context.Context) (*conn, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return c, nil
	}
	t.mu.Unlock()
	nc, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: nc, br: bufio.NewReaderSize(nc, bufSize), bw: bufio.NewWriterSize(nc, bufSize)}, nil
}

// put keeps c for a later request.
func (t *Transport) put(c *conn) {
	t.mu.Lock()
	if t.closed || len(t.idle) >= maxIdle {
		t.mu.Unlock()
		c.Close()
		return
	}
	t.idle = append(t.idle, c)
	t.mu.Unlock()
}

// CloseIdleConnections closes the connections kept for later requests.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// Close closes the idle connections and keeps none from now on: the
// connections of requests in progress are closed when they end. Requests
// may still be made; each then uses a connection of its own.
func (t *Transport) Close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.CloseIdleConnections()
}

// respBody is an answer's body: it hands its connection back once read to
// the end, and closes it when closed before.
type respBody struct {
	r       io.ReadCloser
	release func(clean bool)
	once    sync.Once
	done    atomic.Bool
}

func (b *respBody) Read(p []byte) (int, error) {
	if b.done.Load() {
		return 0, io.EOF // the connection may serve another request now
	}
	n, err := b.r.Read(p)
	if err != nil {
		b.done.Store(true)
		b.once.Do(func() { b.release(err == io.EOF) })
	}
	return n, err
}

// Close gives the connection back when the body was read to its end, and
// else closes it: reading what is left could take long.
func (b *respBody) Close() error {
	b.done.Store(true)
	b.once.Do(func() { b.release(false) })
	return nil
}
