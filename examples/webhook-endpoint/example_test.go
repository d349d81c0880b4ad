package webhookendpoint_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/dockertest"
)

// TestREADME runs the README's commands against a fresh `gust serve` with
// a real Docker engine, then checks what they did.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end example; -short")
	}
	dockertest.Require(t, nil)
	g := startServe(t)

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		script.WriteString(m[1])
	}
	out := g.sh(t, script.String())
	if !strings.HasSuffix(strings.TrimSpace(out), `{"received":true,"id":"evt_1001"}`) {
		t.Fatalf("the README's commands printed:\n%s", out)
	}

	var rec map[string]any
	deadline := time.Now().Add(90 * time.Second)
	for rec == nil && time.Now().Before(deadline) {
		var recs []struct {
			Name     string
			Response struct{ Result map[string]any }
		}
		g.get(t, "/api/v1/namespaces/_/activations?docs=true&name=record", &recs)
		if len(recs) > 0 {
			rec = recs[0].Response.Result
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if rec == nil || rec["paid"] != "pi_42" || rec["amount"] != float64(2000) || rec["event"] != "evt_1001" {
		t.Fatalf("record's result %v, want the payment pi_42 of event evt_1001", rec)
	}

	t.Run("a forged delivery is refused and fires nothing", func(t *testing.T) {
		out := g.sh(t, `payload='{"id":"evt_666","type":"payment_intent.succeeded","data":{"object":{"id":"pi_x","amount":1}}}'
t=$(date +%s)
sig=$(printf '%s.%s' "$t" "$payload" | openssl dgst -sha256 -hmac not-the-secret | awk '{print $NF}')
curl -s -w ' %{http_code}' -H "Stripe-Signature: t=$t,v1=$sig" -H 'Content-Type: application/json' -d "$payload" "$(gust action get stripe-webhook --url | tail -1)"`)
		if strings.TrimSpace(out) != `{"error":"signature does not match"} 401` {
			t.Fatalf("forged delivery: %s", out)
		}
		var recs []json.RawMessage
		g.get(t, "/api/v1/namespaces/_/activations?docs=true&name=record", &recs)
		if len(recs) != 1 {
			t.Fatalf("%d record activations, want 1", len(recs))
		}
	})
}

// serve is one `gust serve` run by the test.
type serve struct {
	dir, bin, apiHost string
}

func startServe(t *testing.T) *serve {
	t.Helper()
	dir := t.TempDir()
	g := &serve{dir: dir, bin: filepath.Join(dir, "bin")}
	build := exec.Command("go", "build", "-o", filepath.Join(g.bin, "gust"), "github.com/gusthub/gust/cmd/gust")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build gust: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g.apiHost = "http://" + addr
	var logs bytes.Buffer
	var mu sync.Mutex
	cmd := exec.Command(filepath.Join(g.bin, "gust"), "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", addr,
		"--dev-guest-key", "--sandbox", "docker", "--stem-cells", "0", "--pause-grace", "0", "--invoker-memory", "1024", "--build-images=false")
	cmd.Env = g.env()
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &logs}, lockedWriter{&mu, &logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gust serve: %v", err)
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("gust serve did not stop within 60s")
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("gust serve's log:\n%s", logs.String())
			mu.Unlock()
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
			if resp, err := http.Get(g.apiHost + "/api/v1"); err == nil {
				resp.Body.Close()
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gust serve not ready after 30s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// env is the environment of serve and of the README's commands: the
// test's own config file and home, and the built gust first on the PATH.
func (g *serve) env() []string {
	return append(os.Environ(), "GUST_CONFIG="+filepath.Join(g.dir, "config"), "HOME="+g.dir,
		"PATH="+g.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// sh runs script with bash in the example's directory and returns its
// output; it fails the test when the script fails.
func (g *serve) sh(t *testing.T, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Env = g.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s\n--- output:\n%s", err, script, out)
	}
	return string(out)
}

// get reads a JSON answer of the API as guest.
func (g *serve) get(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.apiHost+path, nil)
	req.Header.Set("Authorization", "Basic MjNiYzQ2YjEtNzFmNi00ZWQ1LThjNTQtODE2YWE0ZjhjNTAyOjEyM3pPM3haQ0xyTU42djJCS0sxZFhZRnBYbFBrY2NPRnFtMTJDZEFzTWdSVTRWck5aOWx5R1ZDR3VNREdJd1A=")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, out) != nil {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
