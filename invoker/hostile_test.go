package invoker_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/actions/runtimes"
)

// hostileMarker is set in the environment of this process, the host side
// of Gust: no action may read it.
const hostileMarker = "GUST_HOSTILE_TEST_MARKER"

// hostileActions are actions written by someone who wants to hurt the host
// or the other tenants. Each must fail inside its container, and its record
// must say why (check).
var hostileActions = []struct {
	name, kind, code string
	limits           func(*actions.Limits)
	check            func(t *testing.T, rec *actions.Activation)
}{
	{
		// Every process forks until the pids limit stops it, and then
		// keeps trying; the action's own process fails at the limit.
		name: "fork bomb", kind: runtimes.Python3,
		code: `import os, time
def bomb():
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(1)
def main(args):
    n = 0
    while True:
        try:
            pid = os.fork()
        except OSError as e:
            raise Exception("fork %d failed: %s" % (n + 1, e))
        if pid == 0:
            try:
                bomb()
            finally:
                os._exit(0)
        n += 1
`,
		// With memory to spare for 1024 copies of the interpreter, the
		// pids limit is what stops it: a fork refused at the limit is only
		// EAGAIN ("Resource temporarily unavailable") to the action, and
		// its record says first that it hit its process limit, and which.
		limits: func(l *actions.Limits) { l.Memory, l.Timeout = 512, 60000 }, // the pids limit stops it in seconds; a busy CI machine took more than 10 s
		check: func(t *testing.T, rec *actions.Activation) {
			e := errorText(t, rec)
			if rec.Response.StatusCode != actions.StatusDeveloperError && rec.Response.StatusCode != actions.StatusApplicationError {
				t.Errorf("status %d (%s), want the action's failure", rec.Response.StatusCode, e)
			}
			if !strings.HasPrefix(e, "The action hit its process limit (pids 1024).") {
				t.Errorf("error %q does not say the action hit its process limit (pids 1024)", e)
			}
		},
	},
	{
		// Writes logs without end (10 GB and more, if let): the proxy stops
		// it 64 MiB past its log limit, so the flood never reaches Docker's
		// log driver or the host's disk, and the record keeps the logs up to
		// the limit.
		name: "log flood", kind: runtimes.Python3,
		code:   "import sys\ndef main(args):\n    line = 'y' * 4095 + '\\n'\n    while True:\n        sys.stdout.write(line)\n",
		limits: func(l *actions.Limits) { l.Logs, l.Timeout = 1, 60000 },
		check: func(t *testing.T, rec *actions.Activation) {
			e := errorText(t, rec)
			if want := "The action was stopped because it wrote more than 68157440 bytes of logs; its log limit is 1048576 bytes."; e != want {
				t.Errorf("error %q, want %q", e, want)
			}
			size := 0
			for _, l := range rec.Logs {
				size += len(l)
			}
			if size > 1<<20+64<<10 {
				t.Errorf("record keeps %d bytes of logs, more than the 1 MB limit", size)
			}
		},
	},
	{
		name: "memory", kind: runtimes.Python3,
		code: "def main(args):\n    a = []\n    while True:\n        a.append(bytearray(b'x' * (16 << 20)))\n",
		check: func(t *testing.T, rec *actions.Activation) {
			wantError(t, rec, "The action exhausted its memory and was aborted.")
		},
	},
	{
		name: "root file system", kind: runtimes.NodeJS20,
		code: `function main() { require('fs').writeFileSync('/gust-was-here', 'x'); return { wrote: true }; }`,
		check: func(t *testing.T, rec *actions.Activation) {
			wantError(t, rec, "EROFS: read-only file system, open '/gust-was-here'")
		},
	},
	{
		name: "100k files", kind: runtimes.NodeJS20,
		code: `function main() {
  const fs = require('fs'), fds = [];
  for (let i = 0; i < 100000; i++) fds.push(fs.openSync('/dev/null', 'r'));
  return { open: fds.length };
}`,
		check: func(t *testing.T, rec *actions.Activation) {
			wantError(t, rec, "EMFILE: too many open files, open '/dev/null'")
		},
	},
	{
		// What every process the action can see holds in its environment,
		// /proc/1 first; and what it is, and may do.
		name: "proc environ", kind: runtimes.Python3,
		code: `import os
def main(args):
    seen = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/environ' % pid, 'rb') as f:
                env = f.read().decode('utf-8', 'replace')
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                cmd = f.read().decode('utf-8', 'replace')
            seen[pid] = {'environ': env, 'cmdline': cmd}
        except OSError as e:
            seen[pid] = {'error': str(e)}
    status = {}
    with open('/proc/self/status') as f:
        for line in f:
            k, _, v = line.partition(':')
            status[k] = v.strip()
    return {'proc': seen, 'uid': status['Uid'], 'capEff': status['CapEff'], 'capBnd': status['CapBnd'], 'noNewPrivs': status['NoNewPrivs']}
`,
		check: func(t *testing.T, rec *actions.Activation) {
			var r struct {
				Proc map[string]struct {
					Environ, Cmdline, Error string
				}
				UID, CapEff, CapBnd, NoNewPrivs string
			}
			result(t, rec, &r)
			if strings.Contains(string(rec.Response.Result), hostileMarker) {
				t.Errorf("the action read the host's environment: %.300s", rec.Response.Result)
			}
			one, ok := r.Proc["1"]
			if !ok || !strings.HasPrefix(one.Cmdline, "/gust") {
				t.Errorf("pid 1 in the container is %q, want the action proxy", one.Cmdline)
			}
			if host, err := os.ReadFile("/proc/1/cmdline"); err == nil && string(host) == one.Cmdline {
				t.Errorf("pid 1 in the container is the host's %q", host)
			}
			if len(r.Proc) > 10 {
				t.Errorf("the action sees %d processes, want only its container's", len(r.Proc))
			}
			if !strings.HasPrefix(r.UID, "65534") || r.CapEff != "0000000000000000" || r.CapBnd != "0000000000000000" || r.NoNewPrivs != "1" {
				t.Errorf("uid %q, effective caps %q, bounding caps %q, no_new_privs %q; want 65534, none, none, 1", r.UID, r.CapEff, r.CapBnd, r.NoNewPrivs)
			}
		},
	},
	{
		name: "docker socket", kind: runtimes.Python3,
		code: `import socket
def main(args):
    out = {}
    for path in ['/var/run/docker.sock', '/run/docker.sock', '/docker.sock']:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            s.sendall(b'GET /containers/json HTTP/1.0\r\n\r\n')
            out[path] = 'connected: ' + s.recv(200).decode('utf-8', 'replace')
        except OSError as e:
            out[path] = str(e)
        finally:
            s.close()
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(('127.0.0.1', 2375))
        out['tcp 2375'] = 'connected'
    except OSError as e:
        out['tcp 2375'] = str(e)
    finally:
        s.close()
    return out
`,
		check: func(t *testing.T, rec *actions.Activation) {
			var r map[string]string
			result(t, rec, &r)
			for k, v := range r {
				if strings.HasPrefix(v, "connected") {
					t.Errorf("%s: %s", k, v)
				}
			}
			if len(r) != 4 {
				t.Errorf("result %v", r)
			}
		},
	},
}

// wantError checks that rec failed with an error that contains want.
func wantError(t *testing.T, rec *actions.Activation, want string) {
	t.Helper()
	if rec.Response.StatusCode == actions.StatusSuccess {
		t.Fatalf("the action succeeded: %.300s", rec.Response.Result)
	}
	if e := errorText(t, rec); !strings.Contains(e, want) {
		t.Errorf("status %d, error %q; want one that contains %q", rec.Response.StatusCode, e, want)
	}
}

// TestHostileActions runs actions that attack their container's limits
// (pids, memory, open files, read-only root file system, capabilities,
// the host's processes, the Docker socket) while another
// namespace's warm action is invoked again and again. Each attack fails
// inside its container with a record that says why, and the other
// namespace keeps being served. Its latencies, quiet and under attack, are
// logged (go test -v -run TestHostileActions ./invoker): they are a
// measurement, not an assertion, as the tests here assert no timing.
func TestHostileActions(t *testing.T) {
	if testing.Short() {
		t.Skip("hostile actions need Docker and a minute")
	}
	if _, err := runtimes.RecipeFor(runtimes.Python3, proxyBinary(t)); errors.Is(err, runtimes.ErrUnavailable) {
		t.Skipf("python:3 unavailable on this host: %v", err)
	}
	os.Setenv(hostileMarker, "the host's secret")
	defer os.Unsetenv(hostileMarker)
	s := newStack(t, stackOptions{})
	echo := s.put(t, action{ns: "bystander", name: "echo", code: `function main(p) { return p; }`,
		limits: func(l *actions.Limits) { l.Memory = 128 }})
	hostile := make([]*actions.Action, len(hostileActions))
	for i, h := range hostileActions {
		hostile[i] = s.put(t, action{ns: "mallory", name: strings.ReplaceAll(h.name, " ", "-"), kind: h.kind, code: h.code,
			limits: func(l *actions.Limits) {
				l.Memory, l.Timeout = 128, 30000
				if h.limits != nil {
					h.limits(l)
				}
			}})
	}
	// Both runtimes' images are built before anything is measured.
	result(t, s.invoke(t, "", echo, `{}`), new(map[string]any))
	if rec := s.invoke(t, "", s.put(t, action{ns: "bystander", name: "py", kind: runtimes.Python3,
		code: "def main(args):\n    return args\n"}), `{}`); rec.Response.StatusCode != actions.StatusSuccess {
		t.Fatalf("python: %s", rec.Response.Result)
	}

	bystander := func(n int, stop <-chan struct{}) (lat []time.Duration, failures []string) {
		for i := 0; n == 0 || i < n; i++ {
			select {
			case <-stop:
				return lat, failures
			default:
			}
			start := time.Now()
			rec, err := s.activate("", echo, `{"i":1}`, time.Minute)
			switch {
			case err != nil:
				failures = append(failures, err.Error())
			case rec == nil:
				failures = append(failures, "no record")
			case rec.Response.StatusCode != actions.StatusSuccess:
				failures = append(failures, string(rec.Response.Result))
			default:
				lat = append(lat, time.Since(start))
			}
		}
		return lat, failures
	}
	quiet, failures := bystander(200, nil)
	if len(failures) > 0 {
		t.Fatalf("quiet: %d failed invokes, first %s", len(failures), failures[0])
	}

	stop := make(chan struct{})
	var attacked []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		attacked, failures = bystander(0, stop)
	}()
	attackStart := time.Now()
	var wg sync.WaitGroup
	for i, h := range hostileActions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(h.name, func(t *testing.T) {
				start := time.Now()
				rec, err := s.activate("", hostile[i], `{}`, time.Minute)
				if err != nil || rec == nil {
					t.Fatalf("invoke: %v, %v", rec, err)
				}
				t.Logf("%s: %s after %v, status %d, error %.200q", h.name, rec.ActivationID, time.Since(start).Round(time.Millisecond),
					rec.Response.StatusCode, rec.Response.Result)
				h.check(t, rec)
			})
		}()
	}
	wg.Wait()
	attackTime := time.Since(attackStart)
	close(stop)
	<-done
	for _, f := range failures {
		t.Errorf("the bystander's invoke failed during the attack: %s", f)
	}
	if len(attacked) == 0 {
		t.Fatalf("the bystander was not served during the %v attack", attackTime)
	}
	q, a := p50(quiet), p50(attacked)
	t.Logf("bystander warm invoke p50: quiet %v (%d invokes), under attack %v (%d invokes in %v): %.2f× quiet",
		q, len(quiet), a, len(attacked), attackTime.Round(time.Millisecond), float64(a)/float64(q))
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
