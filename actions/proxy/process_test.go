package proxy

import (
	"context"
	"os"
	"testing"
	"time"
)

// A launcher that rejects its code writes the error and exits at once.
// However late the proxy looks, it reports that error, not that the
// process exited.
func TestAwaitAckAfterTheLauncherExited(t *testing.T) {
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cfg := Config{Launcher: []string{"sh", "-c", `echo '{"error":"main is not a function"}' >&3; exit 1`}, Dir: t.TempDir()}
	for range 20 {
		p, err := startProcess(cfg, nil, out, out, false)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.dead:
		case <-time.After(10 * time.Second):
			t.Fatal("fd 3 did not end")
		}
		err = p.awaitAck(context.Background())
		if err == nil || err.Error() != "main is not a function" {
			t.Fatalf("awaitAck: %v, want the launcher's error", err)
		}
		p.stop()
	}
}
