package gustcmd

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/api"
)

// procKB reads a field of /proc/PID/status in kB (VmHWM: peak RSS).
func procKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestUploadMemory sends ten 45 MB action PUTs at once to a real gust
// serve process: its peak RSS stays under 400 MB, every upload is stored
// (or told to retry), and the memory goes back to the system afterwards.
func TestUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 450 MB")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.Command(builtGust(t), "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", addr,
		"--sandbox", "process", "--stem-cells", "0", "--dev-guest-key")
	cmd.Env = append(os.Environ(), "GUST_CONFIG="+filepath.Join(dir, "config"), "HOME="+dir)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr + "/api/v1"
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gust serve not ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	idle := procKB(t, pid, "VmRSS")

	body := []byte(`{"exec":{"kind":"nodejs:20","code":"function main(p) { return p } //` + strings.Repeat("a", 45<<20) + `"}}`)
	user, key, _ := strings.Cut(api.DevGuestKey, ":")
	results := make(chan string, 10)
	for i := range 10 {
		go func() {
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/namespaces/_/actions/big%d", base, i), bytes.NewReader(body))
			req.SetBasicAuth(user, key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- err.Error()
				return
			}
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				results <- ""
			case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
				results <- "" // told when to retry: allowed on a slow machine
				t.Logf("big%d: 503, Retry-After %s", i, resp.Header.Get("Retry-After"))
			default:
				results <- fmt.Sprintf("big%d: %d", i, resp.StatusCode)
			}
		}()
	}
	for range 10 {
		if msg := <-results; msg != "" {
			t.Error(msg)
		}
	}
	peak := procKB(t, pid, "VmHWM")
	t.Logf("idle RSS %d MB, peak RSS (VmHWM) over ten 45 MB PUTs %d MB", idle>>10, peak>>10)
	if peak > 400<<10 {
		t.Errorf("peak RSS %d MB, want under 400 MB", peak>>10)
	}
	// Memory goes back: the RSS falls to within 100 MB of idle.
	var rss int
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if rss = procKB(t, pid, "VmRSS"); rss < idle+100<<10 {
			break
		}
	}
	t.Logf("RSS after the uploads %d MB", rss>>10)
	if rss >= idle+100<<10 {
		t.Errorf("RSS %d MB after the uploads, want it back within 100 MB of idle (%d MB)", rss>>10, idle>>10)
	}
}
