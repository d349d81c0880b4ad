package main

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServeRejectsANegativeProcs(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"gust", "serve", "--data-dir", t.TempDir(), "--procs", "-1"},
		func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--procs -1: use a positive number") {
		t.Fatalf("gust serve --procs -1: %v, want an error naming --procs", err)
	}
}

// TestServeSetsProcs: serve runs Go code on as many threads as --procs
// says, says so in its ready line, and gives the value back when it stops.
func TestServeSetsProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	want := before + 1
	g := startGust(t, t.TempDir(), "--sandbox", "process", "--procs", strconv.Itoa(want))
	if got := runtime.GOMAXPROCS(0); got != want {
		t.Errorf("GOMAXPROCS while serving = %d, want %d", got, want)
	}
	deadline := time.Now().Add(20 * time.Second) // the API answers before serve logs that it is ready
	for !strings.Contains(g.logs.String(), "gust ready") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if logs := g.logs.String(); !strings.Contains(logs, `procs="`+strconv.Itoa(want)+` (--procs)"`) {
		t.Errorf("ready line does not name the procs:\n%s", logs)
	}
	g.stop(t)
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after serve = %d, want %d again", got, before)
	}
}
