package gustcmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/upstreamtest"
)

// TestE2EMQTTBrokerLargeMessage: with a real mosquitto, `trigger get` of
// an mqtt/subscribe feed shows connected true; a 20 MB message, five
// times what the feed used to take, reaches a nodejs action whole; once
// the broker is gone, `trigger get` shows connected false and the error.
func TestE2EMQTTBrokerLargeMessage(t *testing.T) {
	requireEngine(t)
	broker := upstreamtest.Mosquitto(t, upstreamtest.MosquittoOptions{})
	dir := t.TempDir()
	g := startGust(t, dir)
	cli := cliEnv(dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/size", nodeAction(
		`function main(p) { return { pad: (p.pad || '').length, topic: p.__event.subject }; }`), nil)
	mustGust(t, cli, "trigger", "create", "blobs", "--feed", "mqtt/subscribe", "-p", "url", "tcp://"+broker.Addr, "-p", "topic", "blobs/#")
	mustGust(t, cli, "rule", "create", "r", "blobs", "size")
	status := func() map[string]any { // from what `trigger get` shows of the feed
		out := mustGust(t, cli, "trigger", "get", "blobs")
		_, feed, ok := strings.Cut(out, "feed /whisk.system/mqtt/subscribe:")
		var read struct {
			Status map[string]any `json:"status"`
		}
		if !ok || json.NewDecoder(strings.NewReader(feed)).Decode(&read) != nil {
			t.Fatalf("trigger get shows no feed status:\n%s", out)
		}
		return read.Status
	}
	waitFor := func(what string, cond func(map[string]any) bool) {
		t.Helper()
		var st map[string]any
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if st = status(); cond(st) {
				return
			}
		}
		t.Fatalf("%s: trigger get shows %v", what, st)
	}
	waitFor("connected", func(st map[string]any) bool { return st["connected"] == true })
	time.Sleep(500 * time.Millisecond) // subscribed

	f := filepath.Join(dir, "payload")
	if err := os.WriteFile(f, []byte(`{"pad":"`+strings.Repeat("x", 20<<20)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	upstreamtest.Run(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(broker.Port), "-t", "blobs/a", "-f", f, "-q", "1")
	waitRecord(t, g, "size", "the 20 MB message's action", func(r record) bool {
		var got struct {
			Pad   int
			Topic string
		}
		return json.Unmarshal(r.Response.Result, &got) == nil && got.Pad == 20<<20 && got.Topic == "blobs/a"
	})

	broker.Stop()
	waitFor("disconnected", func(st map[string]any) bool {
		msg, _ := st["lastError"].(string)
		return st["connected"] == false && strings.Contains(msg, broker.Addr)
	})
}
