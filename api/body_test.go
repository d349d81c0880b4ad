package api_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/api"
)

// rawRequest sends head and then body in parts, waiting pause before each
// part, on a connection of its own, and returns the response's status.
func rawRequest(t *testing.T, base, head string, parts []string, pause time.Duration) (int, time.Duration) {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, p := range parts {
			time.Sleep(pause)
			if _, err := c.Write([]byte(p)); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestStalledBody sends bodies that stop mid-way: each is dropped with 408
// once it sent nothing for the body timeout, while a body that keeps
// arriving, however slowly, is read.
func TestStalledBody(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.BodyTimeout = time.Second })
	head := func(method, path string, n int) string {
		return method + " " + path + " HTTP/1.1\r\nHost: gust\r\nAuthorization: " + guestAuth +
			"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	}
	for _, tc := range []struct {
		method, path string
		status       int // 0: a handler that answers before it reads the body, with its own status
	}{
		{"PUT", "/api/v1/namespaces/_/triggers/stalled", http.StatusRequestTimeout},
		{"PUT", "/api/v1/namespaces/_/actions/stalled", http.StatusRequestTimeout},
		{"POST", "/api/v1/namespaces/_/triggers/stalled", 0},
		{"PATCH", "/api/v1/namespaces/_/rules/stalled", 0},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			// 10 bytes of 100, then nothing: the server may not wait for the
			// rest for longer than the timeout (and the test's minute).
			status, took := rawRequest(t, e.srv.URL, head(tc.method, tc.path, 100), []string{`{"a":"1234`}, 10*time.Millisecond)
			if tc.status != 0 && status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			t.Logf("answered %d after %v", status, took)
		})
	}
	t.Run("slow but steady", func(t *testing.T) {
		body := `{"parameters":[]}`
		parts := strings.Split(body, "")
		status, _ := rawRequest(t, e.srv.URL, head("PUT", "/api/v1/namespaces/_/triggers/steady", len(body)), parts, 200*time.Millisecond)
		if status != http.StatusOK {
			t.Fatalf("status %d, want 200 for a body that arrived a byte every 200 ms", status)
		}
	})
}

// TestInvalidBodyRefusedAtOnce sends the first bytes of a 50 MB action that
// are not JSON, and nothing more: the answer is the 400 of the decoder,
// not a wait for the rest (which would end in 408).
func TestInvalidBodyRefusedAtOnce(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.BodyTimeout = 30 * time.Second })
	head := "PUT /api/v1/namespaces/_/actions/bad HTTP/1.1\r\nHost: gust\r\nAuthorization: " + guestAuth +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(50<<20) + "\r\n\r\n"
	status, took := rawRequest(t, e.srv.URL, head, []string{`{"exec":{"kind":"nodejs:20","code":x`}, 10*time.Millisecond)
	if status != http.StatusBadRequest {
		t.Fatalf("status %d after %v, want 400 from the first bytes", status, took)
	}
}

// TestLargeBodiesWaitTheirTurn sends three bodies of 3 MB at once to a
// server that takes in 4 MB of large bodies at a time: they are answered
// one after another, and none is refused.
func TestLargeBodiesWaitTheirTurn(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.BodyMemory = 4 << 20 })
	code := "// " + strings.Repeat("a", 3<<20-3) // a comment: "aaaa…" alone would read as base64
	errs := make(chan string, 3)
	for i := range 3 {
		go func() {
			r := e.guest("PUT", "/api/v1/namespaces/_/actions/big"+strconv.Itoa(i), `{"exec":{"kind":"nodejs:20","code":"`+code+`"}}`)
			if r.status != http.StatusOK {
				errs <- fmt.Sprintf("big%d: %d %.200s", i, r.status, r.body)
				return
			}
			errs <- ""
		}()
	}
	for range 3 {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
	got := e.must("GET", "/api/v1/namespaces/_/actions/big2", "").object(t)["exec"].(map[string]any)["code"]
	if got != code {
		t.Errorf("code read back with %d bytes, want %d", len(got.(string)), len(code))
	}
}
