package proxy

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestSacrifice: the language process, and what it forks, is the kernel's
// first choice when memory runs out; the proxy keeps its own score.
func TestSacrifice(t *testing.T) {
	// The child's score is raised before it forks: it waits on stdin.
	cmd := exec.Command("/bin/sh", "-c", "read x; sleep 30 & cat /proc/$!/oom_score_adj; kill $!")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	own, _ := os.ReadFile("/proc/self/oom_score_adj")
	sacrifice(cmd.Process.Pid)
	pw.Write([]byte("go\n"))
	pw.Close()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	cmd.Wait()
	if got := strings.TrimSpace(string(buf[:n])); got != "1000" {
		t.Errorf("the language process's child has oom_score_adj %q, want 1000", got)
	}
	if now, _ := os.ReadFile("/proc/self/oom_score_adj"); string(now) != string(own) {
		t.Errorf("the proxy's oom_score_adj went from %q to %q", own, now)
	}
	if _, err := strconv.Atoi(strings.TrimSpace(string(own))); err != nil {
		t.Errorf("the proxy's oom_score_adj %q", own)
	}
}
