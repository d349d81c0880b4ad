package invoker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/docker"
)

// helloCode is the example action.
const helloCode = `function main(params) { return { message: 'Hello, ' + params.name + ' from ' + params.place }; }`

// counterCode counts its activations in its process and names its
// container (the hostname is the container's short ID); with "sleep" it
// answers that many milliseconds later.
const counterCode = `let n = 0;
function main(params) {
  n++;
  const out = { n: n, host: require('os').hostname() };
  if (params.sleep) return new Promise(r => setTimeout(() => r(out), params.sleep));
  return out;
}`

type counted struct {
	N    int    `json:"n"`
	Host string `json:"host"`
}

// result decodes a successful record's result into v.
func result(tb testing.TB, rec *actions.Activation, v any) {
	tb.Helper()
	if rec.Response.StatusCode != actions.StatusSuccess {
		tb.Fatalf("activation %s: status %d, result %s, logs %q", rec.Name, rec.Response.StatusCode, rec.Response.Result, rec.Logs)
	}
	if err := json.Unmarshal(rec.Response.Result, v); err != nil {
		tb.Fatalf("result %s: %v", rec.Response.Result, err)
	}
}

// errorText is the "error" of a failed record's result.
func errorText(tb testing.TB, rec *actions.Activation) string {
	tb.Helper()
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(rec.Response.Result, &r); err != nil || r.Error == nil {
		tb.Fatalf("result %s has no error", rec.Response.Result)
	}
	var s string
	if json.Unmarshal(r.Error, &s) == nil {
		return s
	}
	return string(r.Error)
}

func TestHelloColdThenWarm(t *testing.T) {
	t.Run("local", func(t *testing.T) { testHelloColdThenWarm(t, false) })
	t.Run("remote", func(t *testing.T) { testHelloColdThenWarm(t, true) })
}

// testHelloColdThenWarm invokes the hello action twice; remote, the
// records reach the dispatcher over NATS, as from an invoker in another
// process.
func testHelloColdThenWarm(t *testing.T, remote bool) {
	s := newStack(t, stackOptions{remote: remote})
	hello := s.put(t, action{name: "hello", code: helloCode})
	for i, cold := range []bool{true, false} {
		rec := s.invoke(t, "", hello, `{"name":"Gust","place":"the hub"}`)
		var got struct{ Message string }
		result(t, rec, &got)
		if got.Message != "Hello, Gust from the hub" {
			t.Errorf("invoke %d: message %q", i, got.Message)
		}
		if rec.Annotations.Has("initTime") != cold {
			t.Errorf("invoke %d: initTime annotation present = %t, want %t (annotations %s)", i, !cold, cold, mustJSON(rec.Annotations))
		}
		for _, k := range []string{"path", "kind", "waitTime", "limits", "timeout"} {
			if !rec.Annotations.Has(k) {
				t.Errorf("invoke %d: no %s annotation", i, k)
			}
		}
		if p, _ := rec.Annotations.String("path"); p != "guest/hello" {
			t.Errorf("path annotation %q", p)
		}
	}
	if n := len(s.containers(t)); n != 1 {
		t.Errorf("%d containers after a cold and a warm invoke, want 1", n)
	}
}

func TestWarmReuseAndUpdate(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "counter", code: counterCode})
	var first, second counted
	result(t, s.invoke(t, "", a, ""), &first)
	rec := s.invoke(t, "", a, "")
	result(t, rec, &second)
	if second.N != 2 || second.Host != first.Host {
		t.Errorf("second invoke ran in %+v after %+v: want the same process", second, first)
	}
	if rec.Annotations.Has("initTime") {
		t.Error("warm invoke has initTime")
	}

	b := s.put(t, action{name: "counter", code: counterCode + "\n// v2"})
	if b.Version == a.Version {
		t.Fatalf("update kept version %s", a.Version)
	}
	var third counted
	rec = s.invoke(t, "", b, "")
	result(t, rec, &third)
	if third.N != 1 || third.Host == first.Host {
		t.Errorf("new version ran in %+v, old one in %+v: want a new container", third, first)
	}
	if !rec.Annotations.Has("initTime") {
		t.Error("first invoke of the new version has no initTime")
	}
}

func TestTimeoutReplacesContainer(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "sleepy", code: counterCode, limits: func(l *actions.Limits) { l.Timeout = 1000 }})
	var before counted
	result(t, s.invoke(t, "", a, ""), &before)

	rec := s.invoke(t, "", a, `{"sleep":5000}`)
	if rec.Response.StatusCode != actions.StatusDeveloperError {
		t.Errorf("status %d, want %d (developer error)", rec.Response.StatusCode, actions.StatusDeveloperError)
	}
	if got, want := errorText(t, rec), "The action exceeded its time limits of 1000 milliseconds."; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if !rec.Annotations.IsTrue("timeout") {
		t.Errorf("timeout annotation not true: %s", mustJSON(rec.Annotations))
	}
	if rec.Duration < 1000 || rec.Duration > 4000 {
		t.Errorf("duration %d ms, want about the 1000 ms limit", rec.Duration)
	}

	var after counted
	rec = s.invoke(t, "", a, "")
	result(t, rec, &after)
	if !rec.Annotations.Has("initTime") || after.N != 1 || after.Host == before.Host {
		t.Errorf("invoke after the timeout ran in %+v (initTime %t), before in %+v: want a new container",
			after, rec.Annotations.Has("initTime"), before)
	}
	if !eventually(10*time.Second, func() bool { return !hasContainer(s.containers(t), before.Host) }) {
		t.Errorf("container %s that timed out is still there", before.Host)
	}
}

func TestActionErrors(t *testing.T) {
	s := newStack(t, stackOptions{})
	hello := s.put(t, action{name: "hello", code: helloCode})
	tests := []struct {
		name   string
		code   string
		limits func(*actions.Limits)
		check  func(t *testing.T, rec *actions.Activation)
		// replaced says the container is destroyed after the error.
		replaced bool
	}{
		{
			name: "throws",
			code: `function main() { throw new Error('boom'); }`,
			check: func(t *testing.T, rec *actions.Activation) {
				// As OpenWhisk's nodejs runtime: a developer error.
				if rec.Response.StatusCode != actions.StatusDeveloperError {
					t.Errorf("status %d, want developer error", rec.Response.StatusCode)
				}
				if e := errorText(t, rec); e != "An error has occurred: Error: boom" {
					t.Errorf("error %q", e)
				}
			},
			replaced: true,
		},
		{
			name: "exits",
			code: `function main() { process.exit(1); }`,
			check: func(t *testing.T, rec *actions.Activation) {
				if rec.Response.StatusCode != actions.StatusDeveloperError {
					t.Errorf("status %d, want developer error", rec.Response.StatusCode)
				}
				if e := errorText(t, rec); e == "" {
					t.Errorf("empty error")
				}
			},
			replaced: true,
		},
		{
			name: "not JSON",
			code: `function main() { return 42; }`,
			check: func(t *testing.T, rec *actions.Activation) {
				if rec.Response.StatusCode != actions.StatusDeveloperError {
					t.Errorf("status %d, want developer error", rec.Response.StatusCode)
				}
				if e := errorText(t, rec); e != "The action did not return a dictionary or array." {
					t.Errorf("error %q", e)
				}
			},
			replaced: true,
		},
		{
			// Written synchronously: the invoker's truncation alone.
			name:   "20 MB of logs written synchronously",
			code:   `function main() { const l = 'y'.repeat(1023) + '\n'; for (let i = 0; i < 20 * 1024; i++) require('fs').writeSync(1, l); return { done: true }; }`,
			limits: func(l *actions.Limits) { l.Logs = 1 },
			check:  checkTruncated,
		},
		{
			// console.log to a full pipe queues in node: the launcher must
			// have flushed it before it answers, or the proxy's sentinels
			// overtake the logs.
			name:   "20 MB of logs with console.log",
			code:   `function main() { const l = 'y'.repeat(1023); for (let i = 0; i < 20 * 1024; i++) console.log(l); return { done: true }; }`,
			limits: func(l *actions.Limits) { l.Logs = 1 },
			check:  checkTruncated,
		},
		{
			name: "2 MB result",
			code: `function main() { return { big: 'x'.repeat(2 * 1024 * 1024) }; }`,
			check: func(t *testing.T, rec *actions.Activation) {
				if rec.Response.StatusCode != actions.StatusApplicationError {
					t.Errorf("status %d, want application error", rec.Response.StatusCode)
				}
				e := errorText(t, rec)
				if !strings.HasPrefix(e, "The action produced a response that exceeded the allowed length: ") || !strings.Contains(e, " > 1048576 bytes") {
					t.Errorf("error %q", e)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := s.put(t, action{name: strings.ReplaceAll(tt.name, " ", "-"), code: tt.code, limits: tt.limits})
			rec := s.invoke(t, "", a, "")
			tt.check(t, rec)
			// The container is replaced or reused, and the invoker serves on.
			rec = s.invoke(t, "", a, "")
			if got := rec.Annotations.Has("initTime"); got != tt.replaced {
				t.Errorf("second invoke cold = %t, want %t", got, tt.replaced)
			}
			var got struct{ Message string }
			result(t, s.invoke(t, "", hello, `{"name":"a","place":"b"}`), &got)
			if got.Message != "Hello, a from b" {
				t.Errorf("hello after the error: %q", got.Message)
			}
		})
	}
}

func TestCapacityQueuesAndEvicts(t *testing.T) {
	const room, n = 5, 20
	s := newStack(t, stackOptions{pool: invokerPool(room * 128)})
	acts := make([]*actions.Action, n)
	for i := range acts {
		acts[i] = s.put(t, action{name: fmt.Sprintf("a%02d", i), code: counterCode, limits: func(l *actions.Limits) { l.Memory = 128 }})
	}
	stop := make(chan struct{})
	var peak int
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, s.pool.Stats().UsedMB)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	recs := make([]*actions.Activation, n)
	errs := make([]error, n)
	for i, a := range acts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = s.activate("", a, `{"sleep":100}`, 2*time.Minute)
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	for i := range acts {
		switch {
		case errs[i] != nil:
			t.Errorf("%s: %v", acts[i].Name, errs[i])
		case recs[i] == nil:
			t.Errorf("%s: no record in time", acts[i].Name)
		case recs[i].Response.StatusCode != actions.StatusSuccess:
			t.Errorf("%s: %s", acts[i].Name, recs[i].Response.Result)
		}
	}
	if peak > room*128 {
		t.Errorf("pool used %d MB, more than its %d", peak, room*128)
	}
	if c := len(s.containers(t)); c > room {
		t.Errorf("%d containers left, room for %d", c, room)
	}
}

func TestNamespacesNeverShareContainers(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "counter", code: counterCode})
	var alice1, bob1, alice2, bob2 counted
	result(t, s.invoke(t, "alice", a, ""), &alice1)
	result(t, s.invoke(t, "bob", a, ""), &bob1)
	result(t, s.invoke(t, "alice", a, ""), &alice2)
	result(t, s.invoke(t, "bob", a, ""), &bob2)
	if alice1.Host == bob1.Host || bob1.N != 1 {
		t.Errorf("alice ran in %+v, bob in %+v: want two containers", alice1, bob1)
	}
	if alice2.Host != alice1.Host || alice2.N != 2 || bob2.Host != bob1.Host || bob2.N != 2 {
		t.Errorf("second invokes ran in %+v and %+v: want each namespace's warm container", alice2, bob2)
	}
}

func TestRestartRemovesLeftovers(t *testing.T) {
	s := newStack(t, stackOptions{})
	for _, name := range []string{"one", "two"} {
		var c counted
		result(t, s.invoke(t, "", s.put(t, action{name: name, code: counterCode}), ""), &c)
	}
	if n := len(s.containers(t)); n != 2 {
		t.Fatalf("%d containers, want 2", n)
	}
	// A crash: the invoker stops and nobody closes its pool. The next
	// start, with the same owner, removes what is left before it runs.
	s.stopInvKeepPool()
	ctx := t.Context()
	if err := s.sb.RemoveLeftovers(ctx, s.owner); err != nil {
		t.Fatal(err)
	}
	if n := len(s.containers(t)); n != 0 {
		t.Fatalf("%d containers after RemoveLeftovers, want 0", n)
	}
	s.startInvoker(t, invokerPool(0))
	var c counted
	rec := s.invoke(t, "", s.put(t, action{name: "one", code: counterCode}), "")
	result(t, rec, &c)
	if c.N != 1 || !rec.Annotations.Has("initTime") {
		t.Errorf("after restart ran in %+v", c)
	}
	if n := len(s.containers(t)); n != 1 {
		t.Errorf("%d containers after restart and one invoke, want 1", n)
	}
}

func TestPython(t *testing.T) {
	if _, err := runtimes.RecipeFor(runtimes.Python3, proxyBinary(t)); errors.Is(err, runtimes.ErrUnavailable) {
		t.Skipf("python:3 unavailable on this host: %v", err)
	}
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "py", kind: runtimes.Python3, code: "def main(args):\n    print('log line')\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"})
	for range 2 {
		rec := s.invoke(t, "", a, `{"name":"Gust"}`)
		var r struct{ Greeting string }
		result(t, rec, &r)
		if r.Greeting != "Hello Gust" {
			t.Errorf("greeting %q", r.Greeting)
		}
		if len(rec.Logs) != 1 || !strings.HasSuffix(rec.Logs[0], " stdout: log line") {
			t.Errorf("logs %q", rec.Logs)
		}
	}
}

func TestNativeAction(t *testing.T) {
	s := newStack(t, stackOptions{})
	exe := filepath.Join(runDir(t), "nativeecho")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", exe, "./testdata/nativeecho")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build native action: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	a := s.put(t, action{name: "native", kind: actions.KindBlackbox, image: docker.NativeSkeleton, binary: true,
		code: base64.StdEncoding.EncodeToString(bin)})
	rec := s.invoke(t, "", a, `{"name":"Gust"}`)
	var r struct{ Echo map[string]string }
	result(t, rec, &r)
	if r.Echo["name"] != "Gust" {
		t.Errorf("result %s", rec.Response.Result)
	}
	if len(rec.Logs) != 1 || !strings.HasSuffix(rec.Logs[0], " stdout: native says hi") {
		t.Errorf("logs %q", rec.Logs)
	}
}

func TestConcurrencyInOneContainer(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "conc", limits: func(l *actions.Limits) { l.Concurrency = 4 }, code: `let active = 0, peak = 0;
async function main() {
  active++; peak = Math.max(peak, active);
  await new Promise(r => setTimeout(r, 1500));
  const out = { peak: peak, host: require('os').hostname() };
  active--;
  return out;
}`})
	type out struct {
		Peak int
		Host string
	}
	// Four at once on a cold action: the first initializes the container,
	// the other three wait for it and share it.
	var wg sync.WaitGroup
	res := make([]out, 4)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := s.activate("", a, "", time.Minute)
			if err != nil || rec == nil {
				t.Errorf("invoke: %v, %v", rec, err)
				return
			}
			if rec.Response.StatusCode != actions.StatusSuccess {
				t.Errorf("invoke: %s", rec.Response.Result)
				return
			}
			_ = json.Unmarshal(rec.Response.Result, &res[i])
		}()
	}
	wg.Wait()
	peak := 0
	for _, r := range res {
		peak = max(peak, r.Peak)
		if r.Host != res[0].Host {
			t.Errorf("activations ran in %s and %s: want one container", res[0].Host, r.Host)
		}
	}
	if peak != 4 {
		t.Errorf("at most %d ran at once, want 4", peak)
	}
	if n := len(s.containers(t)); n != 1 {
		t.Errorf("%d containers, want 1", n)
	}
}

// checkTruncated checks the record of an action that printed 20 MB of 1 KB
// lines with a 1 MB log limit.
func checkTruncated(t *testing.T, rec *actions.Activation) {
	t.Helper()
	var r struct{ Done bool }
	result(t, rec, &r)
	if len(rec.Logs) < 1000 || len(rec.Logs) > 1026 {
		t.Errorf("%d log lines, want 1 MB of 1 KB lines and the truncation note", len(rec.Logs))
	}
	if n := len(rec.Logs); n > 0 && rec.Logs[n-1] != "Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes." {
		t.Errorf("last log line %.100q", rec.Logs[n-1])
	}
	for _, l := range rec.Logs[:max(len(rec.Logs)-1, 0)] {
		if !strings.HasSuffix(l, " stdout: "+strings.Repeat("y", 1023)) {
			t.Fatalf("log line %.100q", l)
		}
	}
}

func hasContainer(list []containerSummary, host string) bool {
	for _, c := range list {
		if strings.HasPrefix(c.ID, host) {
			return true
		}
	}
	return false
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(bytes.TrimSpace(b))
}

// TestLargeRecordsStored runs actions whose records are larger than a NATS
// message, with the invoker as if in another process (records reach the
// caller through the hub): every record is returned and stored whole.
func TestLargeRecordsStored(t *testing.T) {
	s := newStack(t, stackOptions{remote: true})
	for _, tt := range []struct {
		name, code string
		check      func(t *testing.T, rec *actions.Activation)
	}{
		{
			name: "9.5 MB of logs",
			code: `function main() { const l = 'y'.repeat(999); for (let i = 0; i < 9728; i++) console.log(l); return { done: true }; }`,
			check: func(t *testing.T, rec *actions.Activation) {
				if len(rec.Logs) != 9728 {
					t.Fatalf("%d log lines, want every one of 9728 (last %.100q)", len(rec.Logs), rec.Logs[len(rec.Logs)-1])
				}
				for _, l := range rec.Logs {
					if !strings.HasSuffix(l, " stdout: "+strings.Repeat("y", 999)) {
						t.Fatalf("log line %.100q", l)
					}
				}
			},
		},
		{
			name: "12 MB of logs",
			code: `function main() { const l = 'y'.repeat(1023); for (let i = 0; i < 12 * 1024; i++) console.log(l); return { done: true }; }`,
			check: func(t *testing.T, rec *actions.Activation) {
				n := len(rec.Logs)
				if n != 10485760/1023+1 || rec.Logs[n-1] != "Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes." {
					t.Fatalf("%d log lines, last %.100q; want 10 MB of 1 KB lines and OpenWhisk's truncation line", n, rec.Logs[n-1])
				}
			},
		},
		{
			name: "2 MB result",
			code: `function main() { return { big: 'x'.repeat(2 * 1024 * 1024) }; }`,
			check: func(t *testing.T, rec *actions.Activation) {
				e := errorText(t, rec)
				if rec.Response.StatusCode != actions.StatusApplicationError ||
					!strings.HasPrefix(e, "The action produced a response that exceeded the allowed length: ") || !strings.HasSuffix(e, " > 1048576 bytes.") {
					t.Errorf("status %d, error %q", rec.Response.StatusCode, e)
				}
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := s.put(t, action{name: strings.ReplaceAll(tt.name, " ", "-"), code: tt.code})
			rec := s.invoke(t, "", a, "")
			tt.check(t, rec)
			// The caller gets the record before it is stored (as in
			// OpenWhisk, whose blocking answers come from the invoker):
			// wait for the store.
			var stored *actions.Activation
			var err error
			eventually(time.Minute, func() bool {
				stored, err = s.records.Get(context.Background(), "guest", rec.ActivationID)
				return err == nil
			})
			if err != nil {
				t.Fatalf("stored record: %v", err)
			}
			tt.check(t, stored)
		})
	}
}

// TestMemoryHog runs actions that allocate past their memory limit: each
// ends in OpenWhisk's developer error for an exhausted memory.
func TestMemoryHog(t *testing.T) {
	s := newStack(t, stackOptions{})
	for _, tt := range []struct{ name, code string }{
		{"buffers", `function main() { const a = []; for (;;) a.push(Buffer.alloc(16 << 20, 1)); }`},
		{"JavaScript heap", `function main() { const a = []; for (;;) a.push(new Array(1 << 20).fill(1.5)); }`},
		{"at initialization", `const a = []; for (;;) a.push(Buffer.alloc(16 << 20, 1));
function main() { return {}; }`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := s.put(t, action{name: "hog-" + strings.ReplaceAll(tt.name, " ", "-"), code: tt.code,
				limits: func(l *actions.Limits) { l.Memory = 128 }})
			rec := s.invoke(t, "", a, "")
			if e := errorText(t, rec); rec.Response.StatusCode != actions.StatusDeveloperError || e != "The action exhausted its memory and was aborted." {
				t.Errorf("status %d, error %q; want a developer error that says the memory is exhausted", rec.Response.StatusCode, e)
			}
		})
	}
}

// TestBlackboxImageErrors runs blackbox actions whose image is missing or
// no image reference at all (stored before PUT checked it): each record
// says so in Gust's words and names the image.
func TestBlackboxImageErrors(t *testing.T) {
	s := newStack(t, stackOptions{})
	for _, img := range []string{"gust-test/missing:" + randomID(), "--privileged"} {
		t.Run(img, func(t *testing.T) {
			a := s.put(t, action{name: "box" + randomID(), kind: actions.KindBlackbox, image: img})
			rec := s.invoke(t, "", a, "")
			e := errorText(t, rec)
			if rec.Response.StatusCode != actions.StatusDeveloperError || !strings.Contains(e, img) ||
				strings.Contains(e, "Error response from daemon") || strings.Contains(e, "invalid reference format") {
				t.Errorf("status %d, error %q; want a developer error in Gust's words naming %s", rec.Response.StatusCode, e, img)
			}
			checkNoContainer(t, rec)
		})
	}
}

// failingSandbox is a sandbox whose every Create fails, as Docker's did on
// a relative socket dir.
type failingSandbox struct{ invoker.Sandbox }

func (failingSandbox) Create(context.Context, invoker.Spec) (invoker.Container, error) {
	return nil, errors.New("create container: engine says no (test)")
}

// TestNoContainerIsNeitherColdNorWarm: an activation that got no
// container fails with OpenWhisk's words and says it had none, so that it
// reads as neither a cold nor a warm start.
func TestNoContainerIsNeitherColdNorWarm(t *testing.T) {
	s := newStack(t, stackOptions{sandbox: func(sb invoker.Sandbox) invoker.Sandbox { return failingSandbox{sb} }})
	rec := s.invoke(t, "", s.put(t, action{name: "hello", code: helloCode}), "")
	if e := errorText(t, rec); rec.Response.StatusCode != actions.StatusInternalError || e != "Failed to provision resources to run the action." {
		t.Errorf("status %d, error %q; want OpenWhisk's internal error", rec.Response.StatusCode, e)
	}
	checkNoContainer(t, rec)
}

// checkNoContainer fails t unless rec says it got no container.
func checkNoContainer(t *testing.T, rec *actions.Activation) {
	t.Helper()
	if rec.Annotations.Has("initTime") || !rec.Annotations.IsTrue(actions.NoContainerAnnotation) {
		t.Errorf("annotations %s: want %s true and no initTime", mustJSON(rec.Annotations), actions.NoContainerAnnotation)
	}
}
