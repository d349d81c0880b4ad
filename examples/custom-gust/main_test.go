package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gustcmd "github.com/gusthub/gust/cmd"
	"github.com/gusthub/gust/internal/syncbuf"
)

// TestCustomBinary: this binary's gust serve offers the outside feed as
// /whisk.system/countdown/countdown, checks its declared parameters, and
// runs it: the trigger gets every event.
func TestCustomBinary(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"GUST_CONFIG": filepath.Join(dir, "cli-config"), "HOME": dir}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- gustcmd.Run(ctx, []string{"custom-gust", "serve", "--data-dir", dir, "--listen", "127.0.0.1:0",
			"--dev-guest-key", "--sandbox", "process", "--stem-cells", "0"}, getenv, logs, logs)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop within 60 s")
		}
	}()
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := gustcmd.Run(ctx, append([]string{"custom-gust"}, args...), getenv, &out, &out)
		return out.String(), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "gust ready") {
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready in 30 s\n%s", logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := os.Stat(env["GUST_CONFIG"]); err != nil {
		t.Fatalf("serve wrote no CLI config: %v", err)
	}

	out, err := cli("trigger", "create", "bad", "--feed", "/whisk.system/countdown/countdown", "-p", "from", "many")
	if err == nil || !strings.Contains(out+err.Error(), "parameter 'from' must be an integer") {
		t.Errorf("a feed with from=many: %v\n%s", err, out)
	}
	out, err = cli("trigger", "create", "t", "--feed", "/whisk.system/countdown/countdown", "-p", "from", "3")
	if err != nil || !strings.Contains(out, "ok: created trigger t") {
		t.Fatalf("trigger create with the countdown feed: %v\n%s", err, out)
	}
	for {
		out, err = cli("trigger", "get", "t")
		if err == nil && strings.Contains(out, `"events": 3`) {
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("the feed's status does not show 3 events: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
