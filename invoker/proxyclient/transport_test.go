package proxyclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/invoker/proxyclient"
)

// server is an HTTP server on a Unix socket that counts the connections
// it accepted.
type server struct {
	*httptest.Server
	sock  string
	conns atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{sock: sock}
	s.Server = httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) client() (*http.Client, *proxyclient.Transport) {
	tr := proxyclient.New(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", s.sock)
	})
	return &http.Client{Transport: tr}, tr
}

// echo answers a POST with its body, its Gust-Test header as X-Seen, and
// with ?chunked in chunks.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Seen", r.Header.Get("Gust-Test")+"|"+r.Host+"|"+r.URL.RequestURI())
	if r.URL.Query().Has("chunked") {
		for i := 0; i < 3; i++ {
			_, _ = w.Write(b)
			w.(http.Flusher).Flush()
		}
		return
	}
	_, _ = w.Write(b)
}

func post(t *testing.T, c *http.Client, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Gust-Test", "yes")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestRoundTripKeepsConnections(t *testing.T) {
	s := newServer(t, echo)
	c, _ := s.client()
	for i := range 20 {
		body := strings.Repeat("x", i*1000) // up to beyond a buffer
		resp, got := post(t, c, "http://proxy/run?a=1", body)
		if resp.StatusCode != http.StatusOK || got != body {
			t.Fatalf("request %d: %s, %d bytes back, want %d", i, resp.Status, len(got), len(body))
		}
		if seen := resp.Header.Get("X-Seen"); seen != "yes|proxy|/run?a=1" {
			t.Fatalf("the server saw %q", seen)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("20 requests one after another used %d connections, want 1", n)
	}
}

func TestRoundTripConcurrent(t *testing.T) {
	s := newServer(t, echo)
	c, _ := s.client()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			body := strings.Repeat(string(rune('a'+i%26)), 100+i)
			resp, err := c.Post("http://proxy/run", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != body {
				errs <- errors.New("answer of another request: " + string(b))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRoundTripContextEnds(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		echo(w, r)
	})
	defer close(release)
	c, _ := s.client()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://proxy/slow", strings.NewReader("{}"))
	start := time.Now()
	_, err := c.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the request returned after %v", d)
	}
	// The abandoned connection is not reused: the next request works.
	if _, got := post(t, c, "http://proxy/run", "next"); got != "next" {
		t.Fatalf("next answer %q", got)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("used %d connections, want 2 (the abandoned one closed)", n)
	}
}

func TestRoundTripBodyNotReadClosesConnection(t *testing.T) {
	s := newServer(t, echo)
	c, _ := s.client()
	resp, err := c.Post("http://proxy/run", "text/plain", strings.NewReader(strings.Repeat("z", 100000)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the rest unread: the connection cannot serve another
	if _, got := post(t, c, "http://proxy/run", "after"); got != "after" {
		t.Fatalf("answer %q after an unread body", got)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("used %d connections, want 2", n)
	}
}

// Three requests, one after the other: how many connections they take.
func TestRoundTripConnectionsUsed(t *testing.T) {
	closing := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		echo(w, r)
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		path    string
		want    string // each answer
		conns   int32
	}{
		{"chunked answers keep the connection", echo, "/run?chunked", "ababab", 1},
		{"a server that closes each gets a new one", closing, "/run", "ab", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.handler)
			c, _ := s.client()
			for range 3 {
				if _, got := post(t, c, "http://proxy"+tc.path, "ab"); got != tc.want {
					t.Fatalf("answer %q, want %q", got, tc.want)
				}
			}
			if n := s.conns.Load(); n != tc.conns {
				t.Errorf("used %d connections, want %d", n, tc.conns)
			}
		})
	}
}

func TestRoundTripServerGone(t *testing.T) {
	s := newServer(t, echo)
	c, tr := s.client()
	post(t, c, "http://proxy/run", "x")
	s.Close() // closes the kept connection
	if _, err := c.Post("http://proxy/run", "text/plain", strings.NewReader("y")); err == nil {
		t.Fatal("a request to a closed server succeeded")
	}
	tr.Close()
}

func TestRoundTripUnknownLength(t *testing.T) {
	s := newServer(t, echo)
	c, _ := s.client()
	req, _ := http.NewRequest(http.MethodPost, "http://proxy/run", io.MultiReader(strings.NewReader("ab"), bytes.NewReader([]byte("cd"))))
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "abcd" {
		t.Fatalf("answer %q, want abcd", b)
	}
}

func TestRoundTripRejectsHeaderInjection(t *testing.T) {
	s := newServer(t, echo)
	c, _ := s.client()
	req, _ := http.NewRequest(http.MethodPost, "http://proxy/run", strings.NewReader("{}"))
	req.Header["X-Bad"] = []string{"a\r\nInjected: yes"}
	if _, err := c.Do(req); err == nil {
		t.Fatal("a header value with CRLF was sent")
	}
}

func TestRoundTripBodyOtherThanItsLength(t *testing.T) {
	s := newServer(t, echo)
	c, _ := s.client()
	for _, length := range []int64{2, 6} {
		req, _ := http.NewRequest(http.MethodPost, "http://proxy/run", strings.NewReader("abcd"))
		req.ContentLength = length
		if _, err := c.Do(req); err == nil {
			t.Errorf("a body of 4 bytes went out with ContentLength %d", length)
		}
		if req.ContentLength != length {
			t.Errorf("the request's ContentLength changed to %d", req.ContentLength)
		}
	}
	if _, got := post(t, c, "http://proxy/run", "ok"); got != "ok" {
		t.Fatalf("answer %q after the failed requests", got)
	}
}

// TestRoundTripInformational passes a 102 Processing before the answer to
// the request's ClientTrace, and the answer after it to the caller, on a
// connection kept for the next request.
func TestRoundTripInformational(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusProcessing)
		_, _ = w.Write(b)
	})
	c, _ := s.client()
	for i := range 3 {
		var got []int
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			got = append(got, code)
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodPost, "http://proxy/run", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "hello" || len(got) != 1 || got[0] != http.StatusProcessing {
			t.Fatalf("request %d: %s %q, informational answers %v", i, resp.Status, b, got)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("3 requests one after another used %d connections, want 1", n)
	}
}
