package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/actions/runtimes"
)

// queueCode says when it started (a file in p.dir), waits for the test's
// go-ahead (another file) when asked, logs, and exits the process instead
// of answering with "exit".
const queueCode = `const fs = require('fs');
function main(p) {
  console.log('start ' + p.id);
  fs.writeFileSync(p.dir + '/started-' + p.id, '');
  const out = { id: p.id, start: Date.now(), deadline: Number(process.env.__OW_DEADLINE) };
  const finish = () => {
    out.end = Date.now();
    console.log('end ' + p.id);
    if (p.exit) process.exit(1);
    return out;
  };
  if (!p.wait) return finish();
  return new Promise(res => {
    const t = setInterval(() => {
      if (fs.existsSync(p.dir + '/go-' + p.id)) { clearInterval(t); res(finish()); }
    }, 5);
  });
}`

type queueAnswer struct {
	status   int
	header   http.Header
	got102   bool // a 102 that starts it
	waiting  bool // a 102 that says it waits (proxy.QueueWaiting)
	inline   proxy.InlineAnswer
	id       string
	start    int64
	end      int64
	deadline int64
}

// TestQueuedRun: a /run with proxy.QueueHeader sent while another runs
// waits for it at the proxy, hears 102 when it starts, with its deadline
// from then and its own logs; when the one ahead took the process with
// it, the queued one is answered as not run, and never runs.
func TestQueuedRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		exit bool // a exits the process
	}{{"after a", false}, {"a exits", true}} {
		t.Run(tc.name, func(t *testing.T) {
			target := startInProcess(t, runtimes.NodeJS20, nil, true)
			dir := t.TempDir()
			init, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "t", "main": "main", "code": queueCode}})
			if resp, b := postLogs(t, target, "/init", string(init), "1000"); resp.StatusCode != http.StatusOK {
				t.Fatalf("/init: %s %s", resp.Status, b)
			}
			// how is "" (sent as to an idle container without queued
			// runs), "queued" or "lead" (proxy.LeadHeader).
			run := func(id string, wait bool, how string) <-chan queueAnswer {
				ch := make(chan queueAnswer, 1)
				go func() {
					var a queueAnswer
					defer func() { ch <- a }()
					// As Gust's invoker sends it, the deadline first.
					body := fmt.Sprintf(`{"deadline":"1","value":{"id":%q,"dir":%q,"wait":%t,"exit":%t}}`, id, dir, wait, tc.exit && id == "a")
					trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
						if h.Get(proxy.QueueHeader) == proxy.QueueWaiting {
							a.waiting = a.waiting || code == http.StatusProcessing
						} else {
							a.got102 = a.got102 || code == http.StatusProcessing
						}
						return nil
					}}
					req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
						http.MethodPost, target.BaseURL+"/run", strings.NewReader(body))
					req.Header.Set(proxy.LogsHeader, "1000")
					if how != "" {
						req.Header.Set(proxy.QueueHeader, "4000")
					}
					if how == "lead" {
						req.Header.Set(proxy.LeadHeader, "1")
					}
					resp, err := target.Client.Do(req)
					if err != nil {
						t.Errorf("/run %s: %v", id, err)
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					a.status, a.header = resp.StatusCode, resp.Header
					if resp.Header.Get(proxy.LogsHeader) == "inline" {
						_ = json.Unmarshal(b, &a.inline)
						b = a.inline.Body
					}
					var r struct {
						ID                   string
						Start, End, Deadline int64
					}
					_ = json.Unmarshal(b, &r)
					a.id, a.start, a.end, a.deadline = r.ID, r.Start, r.End, r.Deadline
				}()
				return ch
			}
			ach := run("a", true, "")
			waitFile(t, filepath.Join(dir, "started-a"))
			bch := run("b", false, "queued")
			time.Sleep(200 * time.Millisecond) // likely at the proxy by now: the test holds either way
			if err := os.WriteFile(filepath.Join(dir, "go-a"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			a, b := <-ach, <-bch
			if a.got102 {
				t.Errorf("a, not queued, got a 102")
			}
			if tc.exit {
				_, err := os.Stat(filepath.Join(dir, "started-b"))
				if b.status != http.StatusServiceUnavailable || b.header.Get(proxy.QueueHeader) != proxy.QueueNotRun || b.got102 || err == nil {
					t.Errorf("b: %d %s=%q, 102 %t, started (no error: %v): want 503 %s, no 102, never started",
						b.status, proxy.QueueHeader, b.header.Get(proxy.QueueHeader), b.got102, err, proxy.QueueNotRun)
				}
				return
			}
			if a.status != http.StatusOK || b.status != http.StatusOK || a.id != "a" || b.id != "b" || !b.got102 {
				t.Fatalf("a: %d %q; b: %d %q, 102 %t", a.status, a.id, b.status, b.id, b.got102)
			}
			if b.start < a.end || b.deadline < a.end+4000 {
				t.Errorf("b started %d with deadline %d, a ended %d: want b after a, with 4000 ms from its start", b.start, b.deadline, a.end)
			}
			for _, x := range []queueAnswer{a, b} {
				var got []string
				for _, l := range x.inline.Logs {
					got = append(got, l.Text)
				}
				if want := []string{"start " + x.id, "end " + x.id}; !slices.Equal(got, want) {
					t.Errorf("%s's logs %q, want %q", x.id, got, want)
				}
			}

			// A lead whose turn is free starts at once: no 102, the
			// deadline as sent.
			if c := <-run("c", false, "lead"); c.status != http.StatusOK || c.id != "c" || c.got102 || c.waiting || c.deadline != 1 {
				t.Errorf("lead c alone: %d %q, 102 %t, waiting %t, deadline %d: want 200, no 102, the deadline as sent (1)", c.status, c.id, c.got102, c.waiting, c.deadline)
			}
			// One that finds the turn taken (a queued run got there
			// first) hears that it waits, then starts as a queued one.
			dch := run("d", true, "queued")
			waitFile(t, filepath.Join(dir, "started-d"))
			ech := run("e", false, "lead")
			time.Sleep(200 * time.Millisecond)
			if err := os.WriteFile(filepath.Join(dir, "go-d"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			d, e := <-dch, <-ech
			if d.status != http.StatusOK || e.status != http.StatusOK || e.id != "e" || !e.waiting || !e.got102 {
				t.Fatalf("d: %d; lead e behind d: %d %q, waiting %t, 102 %t: want 200s, e told it waits, then started", d.status, e.status, e.id, e.waiting, e.got102)
			}
			if e.start < d.end || e.deadline < d.end+4000 {
				t.Errorf("lead e started %d with deadline %d, d ended %d: want e after d, with 4000 ms from its start", e.start, e.deadline, d.end)
			}
		})
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for range 2000 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s was not written in 10 s", path)
}
