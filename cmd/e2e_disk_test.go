package gustcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallDisk mounts a tmpfs of mb MB on a new directory for the test.
// Mounting needs root: without it the test is skipped, except in CI
// (which runs as root), where it fails.
func smallDisk(t *testing.T, mb int) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("mounting a small tmpfs for the full-disk test needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mb), "tmpfs", dir).CombinedOutput(); err != nil {
		skip("mount a tmpfs for the full-disk test: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the disk has about leave bytes free.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free <= leave {
		t.Fatalf("only %d bytes free before filling", free)
	}
	path := filepath.Join(dir, "filler")
	if err := os.WriteFile(path, make([]byte, free-leave), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFullDisk runs gust serve on a small disk and fills it: writes get
// 507 with what is full, reads keep working, what was stored stays as it
// was (also across a restart), and writes work again once room is made,
// without a restart.
func TestFullDisk(t *testing.T) {
	requireEngine(t)
	dir := smallDisk(t, 128)
	p := startGust(t, dir, "--disk-reserve", "32")
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/actions/echo", nodeAction(`function main(p) { return { n: p.n } }`), nil)
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/triggers/tick", map[string]any{}, nil)
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/rules/tick-echo", map[string]any{"trigger": "/_/tick", "action": "/_/echo"}, nil)
	var rec struct {
		ActivationID string `json:"activationId"`
	}
	p.mustCall(t, http.StatusOK, "POST", "/namespaces/_/actions/echo?blocking=true", map[string]any{"n": 1}, &rec)
	p.mustCall(t, http.StatusAccepted, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 2}, nil)
	p.waitActivations(t, "the fired event's run", func(rs []record) bool { return countNamed(rs, "echo") == 2 })

	reads := []string{"/namespaces/_/actions/echo", "/namespaces/_/triggers/tick", "/namespaces/_/rules/tick-echo",
		"/namespaces/_/activations/" + rec.ActivationID}
	read := func(p *gustProcess) [][]byte {
		var out [][]byte
		for _, path := range reads {
			var raw json.RawMessage
			p.mustCall(t, http.StatusOK, "GET", path, nil, &raw)
			out = append(out, raw)
		}
		return out
	}
	before := read(p)
	same := func(p *gustProcess, when string) {
		t.Helper()
		for i, got := range read(p) {
			if !bytes.Equal(got, before[i]) {
				t.Errorf("GET %s %s:\n got %s\nwant %s", reads[i], when, got, before[i])
			}
		}
	}

	filler := fill(t, dir, 16<<20)
	var refusal struct {
		Error string `json:"error"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.call(t, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 3}, &refusal) != http.StatusInsufficientStorage {
		if time.Now().After(deadline) {
			t.Fatalf("a fire on a full disk was not refused: %s", refusal.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(refusal.Error, "disk of its data directory") || !strings.Contains(refusal.Error, "is full") {
		t.Errorf("refusal %q does not say the disk is full", refusal.Error)
	}
	t.Logf("refused: %s", refusal.Error)
	for _, w := range []struct{ method, path string }{
		{"POST", "/namespaces/_/actions/echo?blocking=true"},
		{"PUT", "/namespaces/_/actions/other"},
		{"POST", "/namespaces/_/triggers/tick"},
	} {
		if got := p.call(t, w.method, w.path, nodeAction("function main() { return {} }"), nil); got != http.StatusInsufficientStorage {
			t.Errorf("%s %s on a full disk: %d, want 507", w.method, w.path, got)
		}
	}
	same(p, "on a full disk")
	p.mustCall(t, http.StatusOK, "GET", "/namespaces/_/activations?limit=5", nil, nil)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for p.call(t, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 4}, nil) != http.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatal("fires still refused once room was made")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.waitActivations(t, "the run of the event fired once room was made", func(rs []record) bool {
		for _, r := range rs {
			if r.Name == "echo" && sameJSON(r.Response.Result, `{"n":4}`) {
				return true
			}
		}
		return false
	})
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/actions/other", nodeAction("function main() { return {} }"), nil)
	same(p, "once room was made")

	p.stop(t)
	p = startGust(t, dir, "--disk-reserve", "32")
	same(p, "after a restart")
}
