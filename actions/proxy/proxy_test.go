package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/actions/proxy/proxytest"
	"github.com/gusthub/gust/actions/runtimes"
)

// TestMain lets the test binary act as the proxy when started as
// gust-proxy: the proxy runs a copy of itself as the language process of
// native actions.
func TestMain(m *testing.M) { proxytest.Main(m) }

// TestProtocol runs the conformance suite against Main run in-process,
// serving on a Unix socket, with the host's interpreters, which start with
// the proxy (-prestart, as runtimes.HostArgs asks).
func TestProtocol(t *testing.T) {
	proxytest.Run(t, func(t *testing.T, kind string, env map[string]string) proxytest.Target {
		return startInProcess(t, kind, env, true)
	})
}

// TestProtocolStartAtInit runs the conformance suite with the language
// process started at /init, as ActionLoop launchers need.
func TestProtocolStartAtInit(t *testing.T) {
	proxytest.Run(t, func(t *testing.T, kind string, env map[string]string) proxytest.Target {
		return startInProcess(t, kind, env, false)
	})
}

func startInProcess(t testing.TB, kind string, env map[string]string, prestart bool) proxytest.Target {
	dir := t.TempDir()
	args, err := runtimes.HostArgs(kind, dir)
	if errors.Is(err, runtimes.ErrUnavailable) {
		t.Skipf("kind %s: %v", kind, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !prestart {
		args = slices.DeleteFunc(args, func(a string) bool { return a == "-prestart" })
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	// Unix socket paths are short; test names are not.
	sockDir, err := os.MkdirTemp("", "gp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "proxy.sock")

	logs := make(chan proxytest.Line, 4096)
	stdout, stopOut := lineReader(t, "stdout", logs)
	stderr, stopErr := lineReader(t, "stderr", logs)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args = append([]string{"-addr=", "-socket", sock, "-dir", filepath.Join(dir, "action")}, args...)
	go func() { done <- proxy.Main(ctx, args, os.Getenv, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Main: %v", err)
		}
		stopOut()
		stopErr()
	})

	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	t.Cleanup(client.CloseIdleConnections)
	waitForSocket(t, sock, done)
	return proxytest.Target{Client: client, BaseURL: "http://proxy", Logs: logs}
}

// lineReader returns the write end of a pipe whose lines go to logs, and a
// function that closes it and waits for the last line.
func lineReader(t testing.TB, stream string, logs chan<- proxytest.Line) (*os.File, func()) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			logs <- proxytest.Line{Stream: stream, Text: sc.Text()}
		}
	})
	return w, func() { w.Close(); wg.Wait() }
}

func waitForSocket(t testing.TB, sock string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("Main returned before listening: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("the proxy does not listen on %s", sock)
}

// TestInlineLogs: an invoker that asks for the logs with the answers
// (LogsHeader) gets what the action wrote, its code's loading included,
// in an InlineAnswer, and nothing on the container's streams; a /run that
// does not ask gets the logs and sentinels on the streams again.
func TestInlineLogs(t *testing.T) {
	target := startInProcess(t, runtimes.NodeJS20, nil, true)
	post := func(path, body string, inline bool) (*http.Response, []byte) {
		t.Helper()
		if inline {
			return postLogs(t, target, path, body, "1000")
		}
		return postLogs(t, target, path, body, "")
	}
	if resp, b := post("/init", loggingInit, true); resp.StatusCode != http.StatusOK || resp.Header.Get(proxy.LogsHeader) != "" {
		t.Fatalf("/init: %s %s (%s: %q)", resp.Status, b, proxy.LogsHeader, resp.Header.Get(proxy.LogsHeader))
	}
	for _, tc := range []struct {
		body, result string
		want         []string
		truncated    bool
	}{
		{body: `{"value":{"n":1}}`, result: `{"n":1}`, want: []string{"stdout: loading", "stdout: out 1", "stderr: err 1"}},
		{body: `{"value":{"n":2}}`, result: `{"n":2}`, want: []string{"stdout: out 2", "stderr: err 2"}},
		// Past the limit, one stream: the other's lines could come first.
		{body: `{"value":{"n":3,"big":true}}`, result: `{"n":3}`, want: []string{"stdout: out 3"}, truncated: true},
	} {
		resp, b := post("/run", tc.body, true)
		var a proxy.InlineAnswer
		if err := json.Unmarshal(b, &a); err != nil || resp.Header.Get(proxy.LogsHeader) != "inline" {
			t.Fatalf("/run %s: %s %s: want an inline answer", tc.body, resp.Status, b)
		}
		var got []string
		for _, l := range a.Logs {
			got = append(got, l.Stream+": "+l.Text)
		}
		slices.Sort(got) // the two streams are read apart
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) || a.Truncated != tc.truncated || a.Incomplete {
			t.Errorf("/run %s: logs %q truncated %t incomplete %t, want %q truncated %t", tc.body, got, a.Truncated, a.Incomplete, want, tc.truncated)
		}
		if string(a.Body) != tc.result {
			t.Errorf("/run %s: body %s, want %s", tc.body, a.Body, tc.result)
		}
	}
	select {
	case l := <-target.Logs:
		t.Fatalf("inline logs reached the container's %s: %q", l.Stream, l.Text)
	default:
	}
	resp, b := post("/run", `{"value":{"n":4}}`, false)
	if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(b)) != `{"n":4}` {
		t.Fatalf("/run without %s: %s %s", proxy.LogsHeader, resp.Status, b)
	}
	stdout, stderr := activationLogs(t, target.Logs)
	if !slices.Equal(stdout, []string{"out 4"}) || !slices.Equal(stderr, []string{"err 4"}) {
		t.Errorf("streams after a /run without %s: %q %q", proxy.LogsHeader, stdout, stderr)
	}
}

// loggingInit is an /init body whose action logs on both streams.
var loggingInit = func() string {
	code := `console.log("loading");
function main(p) { console.log("out " + p.n); if (p.big) console.log("x".repeat(2000)); else console.error("err " + p.n); return {n: p.n}; }`
	b, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "t", "main": "main", "code": code}})
	return string(b)
}()

// postLogs posts body to the proxy's path with LogsHeader logs (none when
// empty) and returns the answer.
func postLogs(t testing.TB, target proxytest.Target, path, body, logs string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target.BaseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if logs != "" {
		req.Header.Set(proxy.LogsHeader, logs)
	}
	resp, err := target.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestNoLogs: an invoker that wants no logs (proxy.LogsNone) gets plain
// answers, and neither the action's output nor sentinels reach the
// container's streams.
func TestNoLogs(t *testing.T) {
	target := startInProcess(t, runtimes.NodeJS20, nil, true)
	if resp, b := postLogs(t, target, "/init", loggingInit, proxy.LogsNone); resp.StatusCode != http.StatusOK {
		t.Fatalf("/init: %s %s", resp.Status, b)
	}
	for n := range 3 {
		resp, b := postLogs(t, target, "/run", fmt.Sprintf(`{"value":{"n":%d}}`, n), proxy.LogsNone)
		if want := fmt.Sprintf(`{"n":%d}`, n); resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(b)) != want || resp.Header.Get(proxy.LogsHeader) != "" {
			t.Fatalf("/run: %s %s, want 200 %s", resp.Status, b, want)
		}
	}
	select {
	case l := <-target.Logs:
		t.Errorf("the container's %s got %q", l.Stream, l.Text)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestRunTime: each /run's answer says how long the action took in the
// proxy (proxy.RunTimeHeader), in microseconds: at least what the action
// waited (node's timers may fire a little early), within the round trip.
// Two runs sent at once, without QueueHeader, to a launcher that runs
// one at a time: the second counts its wait for the first, as it holds
// its container's slot meanwhile.
func TestRunTime(t *testing.T) {
	target := startInProcess(t, runtimes.NodeJS20, nil, true)
	init := `{"value":{"name":"sleep","main":"main","code":"function main(a) { return new Promise(r => setTimeout(() => r({slept: a.ms}), a.ms)); }"}}`
	if resp, b := postLogs(t, target, "/init", init, proxy.LogsNone); resp.StatusCode != http.StatusOK {
		t.Fatalf("/init: %s %s", resp.Status, b)
	}
	const early = 5 * time.Millisecond
	run := func(ms int) (ran, took time.Duration) {
		t0 := time.Now()
		resp, b := postLogs(t, target, "/run", fmt.Sprintf(`{"value":{"ms":%d}}`, ms), proxy.LogsNone)
		took = time.Since(t0)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/run: %s %s", resp.Status, b)
			return 0, took
		}
		us, err := strconv.ParseInt(resp.Header.Get(proxy.RunTimeHeader), 10, 64)
		if err != nil {
			t.Errorf("%s: %q: %v", proxy.RunTimeHeader, resp.Header.Get(proxy.RunTimeHeader), err)
		}
		return time.Duration(us) * time.Microsecond, took
	}
	for _, ms := range []int{0, 150} {
		if ran, took := run(ms); ran+early < time.Duration(ms)*time.Millisecond || ran > took {
			t.Errorf("an action that waited %d ms ran %s by %s, within a round trip of %s", ms, ran, proxy.RunTimeHeader, took)
		}
	}
	var longest time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			ran, _ := run(100)
			mu.Lock()
			longest = max(longest, ran)
			mu.Unlock()
		})
	}
	wg.Wait()
	if longest+early < 200*time.Millisecond {
		t.Errorf("two runs of 100 ms at once, one at a time: the second ran %s by %s, want its wait counted", longest, proxy.RunTimeHeader)
	}
}

// activationLogs reads one activation's lines from logs, up to the
// sentinels on both streams.
func activationLogs(t *testing.T, logs <-chan proxytest.Line) (stdout, stderr []string) {
	t.Helper()
	ended := 0
	for ended < 2 {
		select {
		case l := <-logs:
			switch {
			case l.Text == proxy.Sentinel:
				ended++
			case l.Stream == "stdout":
				stdout = append(stdout, l.Text)
			default:
				stderr = append(stderr, l.Text)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no sentinels; got %q %q", stdout, stderr)
		}
	}
	return stdout, stderr
}

// TestLogFlood: an action that writes without end is stopped once it has
// written 64 MiB past its log limit, and its answer
// says so, with the logs truncated at the limit; one that writes a little
// past its limit keeps its result, as in OpenWhisk.
func TestLogFlood(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		status     int
		want       string
	}{
		{"at /run", `function main() { const l = "y".repeat(4095); for (let i = 0; i < 20000; i++) console.log(l); return {done: true}; }`,
			http.StatusBadGateway, `{"error":"The action was stopped because it wrote more than 67118864 bytes of logs; its log limit is 10000 bytes."}`},
		{"a little past the limit", `function main() { const l = "y".repeat(4095); for (let i = 0; i < 200; i++) console.log(l); return {done: true}; }`,
			http.StatusOK, `{"done":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := startInProcess(t, runtimes.NodeJS20, nil, true)
			init, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "t", "main": "main", "code": tc.code}})
			if resp, b := postLogs(t, target, "/init", string(init), "10000"); resp.StatusCode != http.StatusOK {
				t.Fatalf("/init: %s %s", resp.Status, b)
			}
			resp, b := postLogs(t, target, "/run", `{"value":{}}`, "10000")
			var a proxy.InlineAnswer
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatalf("%s %.300s: %v", resp.Status, b, err)
			}
			if resp.StatusCode != tc.status || string(a.Body) != tc.want || !a.Truncated {
				t.Errorf("%s %s truncated %t, want %d %s truncated", resp.Status, a.Body, a.Truncated, tc.status, tc.want)
			}
			size := 0
			for _, l := range a.Logs {
				size += len(l.Text)
			}
			if size > 10000 || size < 10000-4096 {
				t.Errorf("%d bytes of logs kept, want up to the limit of 10000", size)
			}
		})
	}
}
