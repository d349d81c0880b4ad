package gustcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/syncbuf"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// lastActivation is the rule engine's Activator: it keeps the id of the
// invocation queued for each trigger activation (the engine processes
// events in no particular order), and runs none.
type lastActivation struct {
	mu      sync.Mutex
	byCause map[string]string
}

func (l *lastActivation) Activate(_ context.Context, inv *actions.Invocation, _ time.Duration) (*actions.Activation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byCause[inv.Cause] = inv.ActivationID
	return nil, nil
}

// Queue is Activate without waiting; the batch has nothing to store.
func (l *lastActivation) Queue(ctx context.Context, _ *hub.Batch, inv *actions.Invocation) (func() error, error) {
	_, err := l.Activate(ctx, inv, 0)
	return func() error { return nil }, err
}

// of returns the id of the invocation that trigger activation id caused.
func (l *lastActivation) of(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byCause[id]
}

// stamp matches the time that starts a line of events tail.
var stamp = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} `)

// tailCLI runs `gust events tail` (args) with getenv until stop, which
// cancels it as Ctrl-C does and returns its error.
func tailCLI(t *testing.T, getenv func(string) string, args ...string) (stdout *syncbuf.Buffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"gust"}, args...), getenv, stdout, stderr) }()
	eventually(t, "the stream", func() bool { return strings.Contains(stderr.String(), "Waiting for events") })
	return stdout, func() error { cancel(); return <-done }
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestCLIEventsTail(t *testing.T) {
	ts := newTestServer(t)
	js := ts.hub.JetStream()
	if _, err := hub.OpenEvents(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	queued := &lastActivation{byCause: map[string]string{}}
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() {
		engineDone <- engine.New(js, ts.rules, ts.actions, queued, ts.activations, nil).Run(engineCtx)
	}()
	t.Cleanup(func() {
		stopEngine()
		if err := <-engineDone; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	runSteps(t, ts.env(), []step{
		{name: "action", args: []string{"action", "create", "hello", "testdata/cli/hello.js"}, stdout: "ok: created action hello\n"},
		{name: "trigger t", args: []string{"trigger", "create", "t"}, stdout: "ok: created trigger t\n"},
		{name: "trigger t2", args: []string{"trigger", "create", "t2"}, stdout: "ok: created trigger t2\n"},
		{name: "r1", args: []string{"rule", "create", "r1", "t", "hello"}, stdout: "ok: created rule r1\n"},
		{name: "r2", args: []string{"rule", "create", "r2", "t", "hello"}, stdout: "ok: created rule r2\n"},
		{name: "r2 off", args: []string{"rule", "disable", "r2"}, stdout: "ok: disabled rule r2\n"},
		{name: "r3", args: []string{"rule", "create", "r3", "t", "hello", "--filter-sql", "type = 'never'"}, stdout: "ok: created rule r3\n"},
		{name: "r4", args: []string{"rule", "create", "r4", "t2", "hello"}, stdout: "ok: created rule r4\n"},
		{name: "missing trigger", args: []string{"events", "tail", "nope"},
			errMsg: "Unable to tail events of trigger 'nope': The requested resource does not exist. (code ", code: 404 & 0xff},
		{name: "another namespace", args: []string{"events", "tail", "/other/t"},
			errMsg: "Unable to tail events of trigger '/other/t': The requested resource does not exist.", code: 404 & 0xff},
	})
	fire := func(t *testing.T, trigger string) string {
		t.Helper()
		r := gust(t, ts.env(), "trigger", "fire", trigger)
		id := regexp.MustCompile(`[0-9a-f]{32}`).FindString(r.stdout)
		if r.err != nil || id == "" {
			t.Fatalf("fire %s: %q %v", trigger, r.stdout, r.err)
		}
		return id
	}
	tail := func(t *testing.T, args ...string) (*syncbuf.Buffer, func() error) {
		return tailCLI(t, ts.env(), args...)
	}

	t.Run("one trigger", func(t *testing.T) {
		stdout, stop := tail(t, "events", "tail", "t")
		fire(t, "t2")
		id := fire(t, "t")
		eventually(t, "a block", func() bool { return strings.HasSuffix(stdout.String(), "\n\n") })
		if err := stop(); err != nil {
			t.Fatalf("tail: %v", err)
		}
		want := "TIME guest/t dev.gust.trigger.fire from /namespaces/guest/triggers/t, id " + id + "\n" +
			"  … guest/r1 → guest/hello " + queued.of(id) + "\n" +
			"  – guest/r2 inactive\n" +
			"  – guest/r3 filtered out\n\n"
		if got := stamp.ReplaceAllString(stdout.String(), "TIME "); got != want {
			t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("a fire no rule was active for", func(t *testing.T) {
		runSteps(t, ts.env(), []step{
			{name: "trigger", args: []string{"trigger", "create", "quiet"}, stdout: "ok: created trigger quiet\n"},
			{name: "rule", args: []string{"rule", "create", "off", "quiet", "hello"}, stdout: "ok: created rule off\n"},
			{name: "rule off", args: []string{"rule", "disable", "off"}, stdout: "ok: disabled rule off\n"},
		})
		stdout, stop := tail(t, "events", "tail", "quiet")
		if r := gust(t, ts.env(), "trigger", "fire", "quiet"); r.err != nil {
			t.Fatalf("fire: %v", r.err)
		}
		eventually(t, "a block", func() bool { return strings.HasSuffix(stdout.String(), "\n\n") })
		if err := stop(); err != nil {
			t.Fatalf("tail: %v", err)
		}
		want := regexp.MustCompile(`^TIME guest/quiet dev.gust.trigger.fire from /namespaces/guest/triggers/quiet, id [0-9a-f]{32}\n` +
			`  – guest/off inactive\n` +
			`  nothing ran and nothing was recorded: the trigger has no active rule\n\n$`)
		if got := stamp.ReplaceAllString(stdout.String(), "TIME "); !want.MatchString(got) {
			t.Errorf("stdout:\n%s\nwant to match:\n%s", got, want)
		}
	})
	t.Run("--json", func(t *testing.T) {
		stdout, stop := tail(t, "events", "tail", "--json")
		id := fire(t, "t2")
		eventually(t, "a line", func() bool { return strings.HasSuffix(stdout.String(), "\n") })
		if err := stop(); err != nil {
			t.Fatalf("tail: %v", err)
		}
		var o rules.Outcome
		if err := json.Unmarshal([]byte(stdout.String()), &o); err != nil {
			t.Fatalf("stdout %q: %v", stdout.String(), err)
		}
		want := []rules.Verdict{{Rule: "guest/r4", Action: "guest/hello", Outcome: rules.OutcomeActivated, ActivationID: queued.of(id)}}
		if o.Trigger != "guest/t2" || o.TriggerActivationID != id || len(o.Rules) != 1 || o.Rules[0] != want[0] {
			t.Errorf("outcome = %+v", o)
		}
	})
}

// TestCLIEventsTailReconnects: `gust events tail` tails on when its
// connection breaks (gust serve restarted): it says so, opens the stream
// again and prints the events that come after. It used to exit with
// "read the event stream: unexpected EOF".
func TestCLIEventsTailReconnects(t *testing.T) {
	ts := newTestServer(t)
	if _, err := hub.OpenEvents(t.Context(), ts.hub.JetStream()); err != nil {
		t.Fatal(err)
	}
	runSteps(t, ts.env(), []step{{name: "trigger", args: []string{"trigger", "create", "quiet"}, stdout: "ok: created trigger quiet\n"}})
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"gust", "events", "tail", "quiet"}, ts.env(), stdout, stderr) }()
	eventually(t, "the stream", func() bool { return strings.Contains(stderr.String(), "Waiting for events") })
	ts.srv.CloseClientConnections()
	eventually(t, "a reconnect", func() bool { return strings.Contains(stderr.String(), "Reconnected") })
	if !strings.Contains(stderr.String(), "The event stream ended") {
		t.Errorf("stderr does not say the stream ended:\n%s", stderr.String())
	}
	if r := gust(t, ts.env(), "trigger", "fire", "quiet"); r.err != nil {
		t.Fatalf("fire: %v", r.err)
	}
	eventually(t, "the event after the reconnect", func() bool { return strings.Contains(stdout.String(), "guest/quiet dev.gust.trigger.fire") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("tail: %v\n%s", err, stderr.String())
	}
}

// TestPrintOutcomeDropped: the line for events the stream dropped counts
// them in good English.
func TestPrintOutcomeDropped(t *testing.T) {
	for n, want := range map[int]string{
		1: "! 1 event not shown: the stream fell behind\n",
		3: "! 3 events not shown: the stream fell behind\n",
	} {
		var b bytes.Buffer
		if err := printOutcome(&b, []byte(`{"dropped":`+strconv.Itoa(n)+`}`)); err != nil || b.String() != want {
			t.Errorf("%d dropped: %q, %v; want %q", n, b.String(), err, want)
		}
	}
}
