package gustcmd

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// TestCLIPollOutlivesARestart: `gust activation poll` polls on while
// nobody answers (gust serve restarting), says so once, and prints the
// activations that come once the API answers again; it used to exit with
// "connection refused".
func TestCLIPollOutlivesARestart(t *testing.T) {
	ts := newTestServer(t)
	// The API is first unreachable: its address reserved, then freed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	done := make(chan cliResult)
	go func() {
		done <- gust(t, ts.env("GUST_APIHOST", "http://"+addr), "activation", "poll", "--exit", "3", "--interval", "50ms")
	}()
	time.Sleep(300 * time.Millisecond)
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ts.srv.Config.Handler}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	time.Sleep(200 * time.Millisecond)
	rec := actions.Activation{Namespace: "guest", Name: "hello", Version: "0.0.1", Subject: "guest", ActivationID: "9a1b2c3d4e5f40718293a4b5c6d7e8f9",
		Start: time.Now().UnixMilli() + 10, Logs: []string{"2024-01-01T00:00:00.000000000Z stdout: after the restart"}}
	rec.End = rec.Start + 1
	if err := ts.activations.Put(t.Context(), &rec); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("poll: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stdout, "Activation: 'hello' (9a1b2c3d4e5f40718293a4b5c6d7e8f9)") || !strings.Contains(r.stdout, "after the restart") {
		t.Errorf("stdout lacks the activation after the restart:\n%s", r.stdout)
	}
	if strings.Count(r.stderr, "Gust does not answer") != 1 || !strings.Contains(r.stderr, "Gust answers again.") {
		t.Errorf("stderr:\n%s\nwant one 'Gust does not answer' and 'Gust answers again.'", r.stderr)
	}
}
