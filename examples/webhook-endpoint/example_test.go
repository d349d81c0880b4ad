package webhookendpoint_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/internal/exampletest"
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

// serve is the test's `gust serve` and the README's commands against it.
type serve struct{ *exampletest.Gust }

func startServe(t *testing.T) *serve {
	t.Helper()
	return &serve{exampletest.Serve(t, "--sandbox", "docker", "--stem-cells", "0", "--pause-grace", "0", "--invoker-memory", "1024")}
}

// sh runs script with bash in the example's directory and returns its
// output; it fails the test when the script fails.
func (g *serve) sh(t *testing.T, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Env = g.ShellEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s\n--- output:\n%s", err, script, out)
	}
	return string(out)
}

// get reads a JSON answer of the API as guest.
func (g *serve) get(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.Addr+path, nil)
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
