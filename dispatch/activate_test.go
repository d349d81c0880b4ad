package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// parts are a dispatcher on a real embedded hub, with the stores it uses.
type parts struct {
	hub     *hub.Hub
	queue   jetstream.Stream
	store   *actions.Store
	records *actions.ActivationStore
	d       *dispatch.Dispatcher

	mu   sync.Mutex
	took map[string]actions.Invocation // by activation id, what the fake invoker took
	t    *testing.T                    // for hereRunner's errors
}

// newDispatcher starts a hub, opens the invocation queue and the stores,
// and makes a dispatcher on them, closed when t ends.
func newDispatcher(t *testing.T) *parts {
	t.Helper()
	ctx := context.Background()
	p := &parts{hub: hubtest.Start(t), took: map[string]actions.Invocation{}}
	js := p.hub.JetStream()
	var err error
	if p.queue, err = hub.OpenInvocations(ctx, js); err != nil {
		t.Fatal(err)
	}
	if p.store, err = actions.OpenStore(ctx, js); err != nil {
		t.Fatal(err)
	}
	if p.records, err = actions.OpenActivationStore(ctx, js, actions.ActivationRetention{}); err != nil {
		t.Fatal(err)
	}
	p.d = dispatch.New(p.hub, p.store, p.records, nil)
	t.Cleanup(p.d.Close)
	return p
}

// How the fake invoker answers, by the action's name: each "runs" the
// action by adding one to the parameter n, and hands the record back as
// the real invoker does in one of its three ways; silent never answers.
const (
	announced = "inc"        // the record on gust.done.<id>
	handed    = "inc-here"   // Dispatcher.Deliver, as an invoker of the same process
	stored    = "inc-stored" // stored, then announced without it (too large to announce)
	silent    = "silent"
)

// fakeInvoker takes every invocation off the queue, as an invoker pulls
// them, and answers it according to its action's name, until t ends. It
// fails t on an invocation it cannot read or a record it cannot hand back.
func (p *parts) fakeInvoker(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cons, err := p.queue.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{hub.InvocationPrefix + ">"}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var inv actions.Invocation
		if err := json.Unmarshal(m.Data(), &inv); err != nil {
			t.Errorf("invocation on the queue: %v", err)
			return
		}
		if err := p.answer(ctx, &inv); err != nil {
			t.Errorf("answer %s (%s): %v", inv.ActivationID, inv.Action.Name, err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
}

// answer notes that the fake invoker took inv, runs it and hands back its
// record.
func (p *parts) answer(ctx context.Context, inv *actions.Invocation) error {
	p.mu.Lock()
	p.took[inv.ActivationID] = *inv
	p.mu.Unlock()
	return p.respond(ctx, inv)
}

// respond runs inv and hands back its record.
func (p *parts) respond(ctx context.Context, inv *actions.Invocation) error {
	if inv.Action.Name == silent {
		return nil
	}
	var params struct{ N int }
	if err := json.Unmarshal(inv.Params(), &params); err != nil {
		return err
	}
	result, _ := json.Marshal(map[string]int{"n": params.N + 1})
	now := time.Now().UnixMilli()
	rec := &actions.Activation{
		Namespace: inv.Namespace, Name: inv.Action.Name, Subject: inv.Subject, ActivationID: inv.ActivationID, Cause: inv.Cause,
		Start: now, End: now, StatusCode: actions.StatusSuccess, Logs: []string{},
		Response: actions.Response{StatusCode: actions.StatusSuccess, Result: result},
	}
	switch inv.Action.Name {
	case handed:
		if !p.d.Deliver(inv.ActivationID, rec) {
			return errors.New("Deliver found no caller waiting")
		}
		return nil
	case stored:
		if err := p.records.Put(ctx, rec); err != nil {
			return err
		}
		return p.hub.Conn().Publish(hub.DoneSubject(inv.ActivationID), nil)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return p.hub.Conn().Publish(hub.DoneSubject(inv.ActivationID), b)
}

// invocation is an invocation of the action name with parameter n.
func invocation(name string, n int) *actions.Invocation {
	return &actions.Invocation{
		ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest", Submitted: time.Now().UnixMilli(),
		Action:  actions.Action{Namespace: "guest", Name: name, Exec: actions.Exec{Kind: "nodejs:20"}},
		Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)),
	}
}

// checkResult fails t unless rec is the successful record of activation
// id with result {"n": want}.
func checkResult(t *testing.T, rec *actions.Activation, id string, want int) {
	t.Helper()
	if rec == nil {
		t.Fatalf("no record of %s in time", id)
	}
	var res struct{ N int }
	if err := json.Unmarshal(rec.Response.Result, &res); err != nil {
		t.Fatalf("result %s: %v", rec.Response.Result, err)
	}
	if rec.ActivationID != id || rec.StatusCode != actions.StatusSuccess || res.N != want {
		t.Errorf("record %s status %d result %s, want %s status 0 result {\"n\":%d}", rec.ActivationID, rec.StatusCode, rec.Response.Result, id, want)
	}
}

// A blocking Activate wakes up with its own record, however the invoker
// hands it back: announced on NATS, handed over in the process, or stored
// and announced without it. Many wait at once, each for its own.
func TestActivateWaitsForTheRecord(t *testing.T) {
	p := newDispatcher(t)
	p.fakeInvoker(t)
	ctx := t.Context()
	for _, name := range []string{announced, handed, stored} {
		t.Run(name, func(t *testing.T) {
			inv := invocation(name, 41)
			rec, err := p.d.Activate(ctx, inv, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, rec, inv.ActivationID, 42)
		})
	}
	t.Run("many at once", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 60 {
			name := []string{announced, handed, stored}[i%3]
			wg.Go(func() {
				inv := invocation(name, i)
				rec, err := p.d.Activate(ctx, inv, 10*time.Second)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				checkResult(t, rec, inv.ActivationID, i+1)
			})
		}
		wg.Wait()
	})
}

// A blocking Activate whose record does not come returns nil when its wait
// is up, and stops waiting: a record handed over later finds no caller. One
// whose context ends returns the context's error.
func TestActivateGivesUp(t *testing.T) {
	p := newDispatcher(t)
	p.fakeInvoker(t)
	inv := invocation(silent, 0)
	start := time.Now()
	rec, err := p.d.Activate(t.Context(), inv, 300*time.Millisecond)
	if rec != nil || err != nil {
		t.Fatalf("Activate of an action that never ends: %v, %v; want nil, nil", rec, err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("returned after %v, before its wait of 300ms", waited)
	}
	if p.d.Deliver(inv.ActivationID, &actions.Activation{ActivationID: inv.ActivationID}) {
		t.Error("Deliver after the caller gave up found it still waiting")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if rec, err := p.d.Activate(ctx, invocation(silent, 0), time.Minute); rec != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Activate whose context ends: %v, %v; want nil, context.DeadlineExceeded", rec, err)
	}
}

// A blocking Activate of a sequence runs its components one after the
// other on the queue, each with the previous one's result, and wakes up
// with the sequence's record.
func TestActivateSequence(t *testing.T) {
	p := newDispatcher(t)
	p.fakeInvoker(t)
	ctx := t.Context()
	components := []string{announced, handed, stored}
	for _, name := range components {
		a := &actions.Action{Namespace: "guest", Name: name, Exec: actions.Exec{Kind: "nodejs:20", Code: "function main(p) { return {n: p.n + 1} }"}}
		if _, err := p.store.PutAction(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	inv := invocation("seq", 1)
	inv.Action.Exec = actions.Exec{Kind: actions.KindSequence, Components: []string{"/guest/" + announced, "/guest/" + handed, "/guest/" + stored}}
	rec, err := p.d.Activate(ctx, inv, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, rec, inv.ActivationID, 1+len(components))
	if len(rec.Logs) != len(components) {
		t.Fatalf("sequence logs %v, want its %d components' activation ids", rec.Logs, len(components))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, id := range rec.Logs {
		c, ok := p.took[id]
		if !ok {
			t.Fatalf("component %d's activation %s never was on the queue", i, id)
		}
		var params struct{ N int }
		if err := json.Unmarshal(c.Payload, &params); err != nil {
			t.Fatal(err)
		}
		if c.Action.Name != components[i] || c.Cause != inv.ActivationID || params.N != 1+i {
			t.Errorf("component %d: %s caused by %q with n=%d, want %s caused by the sequence %s with n=%d",
				i, c.Action.Name, c.Cause, params.N, components[i], inv.ActivationID, 1+i)
		}
	}
	if stored, err := p.records.Get(ctx, "guest", inv.ActivationID); err != nil {
		t.Errorf("the sequence's record is not stored: %v", err)
	} else {
		checkResult(t, stored, inv.ActivationID, 1+len(components))
	}
}

// hereRunner is a fake invoker of the dispatcher's process
// (dispatch.LocalRunner): it runs what it accepts as the fake invoker
// runs "inc-here", and notes what it was offered.
type hereRunner struct {
	p       *parts
	refuse  bool
	mu      sync.Mutex
	offered []string
}

func (r *hereRunner) RunNow(ctx context.Context, inv *actions.Invocation) bool {
	r.mu.Lock()
	r.offered = append(r.offered, inv.ActivationID)
	r.mu.Unlock()
	if r.refuse {
		return false
	}
	go func() {
		c := *inv
		c.Action.Name = handed
		if err := r.p.respond(context.WithoutCancel(ctx), &c); err != nil {
			r.p.t.Errorf("run %s here: %v", inv.ActivationID, err)
		}
	}()
	return true
}

// Reserve claims nothing: the rule engine's use of it is tested with the
// real invoker (invoker/rules_here_test.go).
func (r *hereRunner) Reserve(context.Context, *actions.Invocation, bool) (func(func(error)), func()) {
	return nil, nil
}

func (r *hereRunner) wasOffered(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.offered, id)
}

// onQueue reports whether the fake invoker took activation id off the
// queue.
func (p *parts) onQueue(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.took[id]
	return ok
}

// Call offers a blocking call to the invoker of its process first, and
// queues it only when that one refuses it; Activate, for work that must
// survive a crash (a rule's delivery), and a call that does not wait,
// always queue.
func TestCallRunsHereWhenTheLocalInvokerTakesIt(t *testing.T) {
	p := newDispatcher(t)
	p.t = t
	p.fakeInvoker(t)
	here := &hereRunner{p: p}
	p.d.RunLocally(here)
	ctx := t.Context()

	inv := invocation(announced, 1)
	rec, err := p.d.Call(ctx, inv, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, rec, inv.ActivationID, 2)
	if !here.wasOffered(inv.ActivationID) || p.onQueue(inv.ActivationID) {
		t.Errorf("a call the local invoker takes: offered %v, queued %v; want offered, not queued", here.wasOffered(inv.ActivationID), p.onQueue(inv.ActivationID))
	}

	inv = invocation(announced, 2)
	if rec, err = p.d.Activate(ctx, inv, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	checkResult(t, rec, inv.ActivationID, 3)
	if here.wasOffered(inv.ActivationID) || !p.onQueue(inv.ActivationID) {
		t.Errorf("a blocking Activate: offered %v, queued %v; want queued only", here.wasOffered(inv.ActivationID), p.onQueue(inv.ActivationID))
	}

	inv = invocation(announced, 3)
	if _, err = p.d.Call(ctx, inv, 0); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool { return p.onQueue(inv.ActivationID) }) || here.wasOffered(inv.ActivationID) {
		t.Errorf("a call that does not wait: offered %v, queued %v; want queued only", here.wasOffered(inv.ActivationID), p.onQueue(inv.ActivationID))
	}

	here.refuse = true
	inv = invocation(announced, 4)
	if rec, err = p.d.Call(ctx, inv, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	checkResult(t, rec, inv.ActivationID, 5)
	if !here.wasOffered(inv.ActivationID) || !p.onQueue(inv.ActivationID) {
		t.Errorf("a call the local invoker refuses: offered %v, queued %v; want both", here.wasOffered(inv.ActivationID), p.onQueue(inv.ActivationID))
	}
}

// eventually reports whether cond held within d, polling it.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}
