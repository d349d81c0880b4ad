package feeds

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/backoff"
)

// Publisher puts events on triggers and returns once they are stored
// (hub.Publisher).
type Publisher interface {
	Publish(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) error
}

// Triggers is what the manager needs of the trigger store (rules.Store):
// whether a trigger exists and which rules it has, and deleting it (and its
// rules) when a feed asks.
type Triggers interface {
	// TriggerRules returns the names of trigger n's rules and the
	// trigger's revision, or hub.ErrNotFound.
	TriggerRules(ctx context.Context, n actions.Name) ([]actions.Name, uint64, error)
	DeleteTrigger(ctx context.Context, n actions.Name, rev uint64) error
	DeleteRule(ctx context.Context, n actions.Name, rev uint64) error
}

// Options configure a Manager.
type Options struct {
	// Registry holds the providers; nil means Registered().
	Registry  *Registry
	JetStream jetstream.JetStream
	Events    Publisher
	Triggers  Triggers
	// BaseURL is the API's address as senders reach it
	// ("http://127.0.0.1:3233"); receivers' URLs are under it.
	BaseURL string
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LeaseTTL is how long an instance stays owned by a process that
	// stopped renewing it; 0 means 8 s. Another process takes a dead
	// owner's instances within about 4/3 of it (the TTL, then its next
	// look at the leases); an owner that cannot renew for 2/3 of it (a
	// NATS leader election, a stalled disk) stops its instances first, so
	// an instance never runs twice.
	LeaseTTL time.Duration
	// MaxBackoff bounds the wait before a failed instance runs again; 0
	// means 5 minutes.
	MaxBackoff time.Duration
	// Egress is given to every feed (Config.Egress); nil allows public
	// addresses only.
	Egress *egress.Policy
}

// ReceivePath is where receivers take events: ReceivePath + "ns/trigger".
const ReceivePath = "/api/v1/feeds/"

// Manager runs feed instances and answers their lifecycle requests.
// Lifecycle and Receive work on any process as soon as Open returns; Run
// runs the instances this process owns.
type Manager struct {
	opts  Options
	reg   *Registry
	st    *state
	log   *slog.Logger
	now   func() time.Time
	owner string

	mu        sync.RWMutex
	receivers map[string]*served // by instance key, on every process
}

// served is a receiver built from an instance's current configuration.
type served struct {
	inst Instance
	recv Receiver

	mu      sync.Mutex
	written time.Time // when this process last wrote the receiver's last event time
}

// receivedSuffix keys the last event time receivers write, apart from the
// owner's run state: any process may receive.
const receivedSuffix = ".http"

// received notes an event taken over HTTP, at most once a second per
// process.
func (m *Manager) received(ctx context.Context, key string, s *served) {
	now := m.now()
	s.mu.Lock()
	due := now.Sub(s.written) >= time.Second
	if due {
		s.written = now
	}
	s.mu.Unlock()
	if due {
		_, _ = m.st.runs.Put(context.WithoutCancel(ctx), key+receivedSuffix, runState{LastEvent: now.UnixMilli()})
	}
}

// Open creates the manager's buckets and returns the manager.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Registry == nil {
		opts.Registry = Registered()
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 8 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	m := &Manager{opts: opts, reg: opts.Registry, log: opts.Logger, now: opts.Now, receivers: map[string]*served{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	m.owner = hex.EncodeToString(b[:])
	st, err := openState(ctx, opts.JetStream, opts.LeaseTTL)
	if err != nil {
		return nil, err
	}
	m.st = st
	return m, nil
}

// Registry returns the providers the manager runs.
func (m *Manager) Registry() *Registry { return m.reg }

// URL is where the receiver of trigger n takes events.
func (m *Manager) URL(n actions.Name) string {
	return m.opts.BaseURL + ReceivePath + n.Namespace + "/" + n.Name
}

func (m *Manager) config(in *Instance, p Provider) Config {
	key := hub.Key(in.Namespace, in.Trigger)
	c := Config{
		Trigger:    in.TriggerName(),
		Params:     in.Params.Clone(),
		Checkpoint: kvCheckpoint{kv: m.st.checkpoints, key: key},
		Logger:     m.log.With("feed", p.Path(), "trigger", in.TriggerName().String()),
		Now:        m.now,
		Egress:     m.opts.Egress,
	}
	if c.Params == nil {
		c.Params = Params{}
	}
	c.URL = m.URL(c.Trigger)
	return c
}

// instanceRun is one owned instance's goroutine and its lease.
type instanceRun struct {
	key      string
	rev      uint64 // the instance revision it runs
	leaseRev uint64 // 0 once the lease is lost
	cancel   context.CancelFunc
	done     chan struct{}
	// confirmed is when the lease was last written (unix nanoseconds): the
	// instance's fence cancels it when that is older than two thirds of
	// the lease TTL, before another process can take the lease over.
	confirmed atomic.Int64
	// finished is set when the instance ended for good (its trigger
	// deleted, or marked done), before it reports on exited: the watch may
	// not have brought that change yet, and the instance must not run again.
	finished atomic.Bool
}

// Run runs the instances this process owns until ctx ends: it watches the
// instances bucket, takes the lease of each instance no live process
// holds, renews its leases, and restarts failed instances with backoff.
// Stopping an instance never holds up the renewal of the other leases;
// an instance whose lease is not confirmed in time is cancelled (fenced)
// before another process may take it. On return every instance it ran has
// stopped (or been abandoned after a grace period) and its leases are
// released. An error means the watch of the instances failed.
func (m *Manager) Run(ctx context.Context) error {
	changes, err := m.st.instances.Watch(ctx, ">")
	if err != nil {
		return err
	}
	known := map[string]hub.Change[Instance]{}
	owned := map[string]*instanceRun{}
	exited := make(chan *instanceRun)
	gone := make(chan struct{}) // closed when Run returns: late exits need not report
	defer close(gone)
	release := func(r *instanceRun) {
		if r.leaseRev == 0 {
			return
		}
		relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = m.st.leases.Delete(relCtx, r.key, jetstream.LastRevision(r.leaseRev))
	}
	defer func() {
		grace := time.After(10 * time.Second)
		for _, r := range owned {
			r.cancel()
		}
		for len(owned) > 0 {
			select {
			case r := <-exited:
				delete(owned, r.key)
				release(r)
			case <-grace:
				for _, r := range owned {
					m.log.Error("feed instance did not stop; abandoning it", "key", r.key)
					release(r)
				}
				return
			}
		}
	}()
	// acquire runs the instance under key if this process can take its lease.
	acquire := func(key string) {
		ch, ok := known[key]
		if !ok || owned[key] != nil || ch.Value.Done {
			return
		}
		leaseRev, err := m.st.leases.Create(ctx, key, []byte(m.owner))
		if err != nil {
			return // another process owns it, or NATS is away: try next tick
		}
		owned[key] = m.start(ctx, key, ch.Value, ch.Revision, leaseRev, exited, gone)
	}
	tick := time.NewTicker(m.opts.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-exited:
			if owned[r.key] == r {
				delete(owned, r.key)
			}
			release(r)
			if r.finished.Load() {
				if ch, ok := known[r.key]; ok && ch.Revision == r.rev {
					ch.Value.Done = true // as the watch will soon say
					known[r.key] = ch
				}
				continue
			}
			acquire(r.key) // reconfigured: run the new configuration
		case ch, ok := <-changes:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("the watch of feed instances ended")
			}
			if ch.Ready {
				continue
			}
			m.serve(ch)
			if r := owned[ch.Key]; r != nil && (ch.Deleted || r.rev != ch.Revision) {
				r.cancel() // deleted, or reconfigured: it exits, then the new configuration runs
			}
			if ch.Deleted {
				delete(known, ch.Key)
				continue
			}
			known[ch.Key] = ch
			acquire(ch.Key)
		case <-tick.C:
			for key, r := range owned {
				if r.leaseRev == 0 {
					continue // lost, and exiting
				}
				rev, err := m.st.leases.Update(ctx, key, []byte(m.owner), r.leaseRev)
				if err != nil {
					m.log.Warn("feed lease lost", "key", key, "err", err)
					r.leaseRev = 0
					r.cancel()
					continue
				}
				r.leaseRev = rev
				r.confirmed.Store(time.Now().UnixNano())
			}
			for key := range known {
				acquire(key)
			}
		}
	}
}

// receiverOf builds the receiver of the instance under key from the
// bucket, nil when there is none.
func (m *Manager) receiverOf(ctx context.Context, key string) *served {
	in, _, err := m.st.instances.Get(ctx, key)
	if err != nil {
		return nil
	}
	p, ok := m.reg.Lookup(in.Feed)
	if !ok {
		return nil
	}
	f, err := newFeed(p, m.config(&in, p))
	if err != nil {
		return nil
	}
	if recv, ok := f.(Receiver); ok {
		return &served{inst: in, recv: recv}
	}
	return nil
}

// serve keeps the receiver of an instance up to date with its
// configuration, on every process.
func (m *Manager) serve(ch hub.Change[Instance]) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch.Deleted {
		delete(m.receivers, ch.Key)
		return
	}
	p, ok := m.reg.Lookup(ch.Value.Feed)
	if !ok {
		delete(m.receivers, ch.Key)
		return
	}
	f, err := newFeed(p, m.config(&ch.Value, p))
	if err != nil {
		delete(m.receivers, ch.Key)
		return
	}
	if recv, ok := f.(Receiver); ok {
		m.receivers[ch.Key] = &served{inst: ch.Value, recv: recv}
	}
}

// start runs the owned instance in until its context ends or its lease
// goes unconfirmed, then reports on exited.
func (m *Manager) start(ctx context.Context, key string, in Instance, rev, leaseRev uint64, exited chan<- *instanceRun, gone <-chan struct{}) *instanceRun {
	ctx, cancel := context.WithCancel(ctx)
	r := &instanceRun{key: key, rev: rev, leaseRev: leaseRev, cancel: cancel, done: make(chan struct{})}
	r.confirmed.Store(time.Now().UnixNano())
	go func() {
		defer func() {
			select {
			case exited <- r:
			case <-gone:
			}
		}()
		defer close(r.done)
		if m.supervise(ctx, key, in, rev) {
			r.finished.Store(true)
		}
	}()
	go m.fence(ctx, r)
	return r
}

// fence cancels r when its lease was not confirmed for two thirds of the
// TTL: the renewing loop is stuck or NATS is away, and another process may
// soon take the lease.
func (m *Manager) fence(ctx context.Context, r *instanceRun) {
	limit := m.opts.LeaseTTL * 2 / 3
	t := time.NewTicker(m.opts.LeaseTTL / 6)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if time.Since(time.Unix(0, r.confirmed.Load())) > limit {
				m.log.Warn("feed lease not confirmed in time; stopping the instance", "key", r.key)
				r.cancel()
				return
			}
		}
	}
}

// supervise runs an instance again and again, with backoff, until it
// finishes (true) or ctx ends.
func (m *Manager) supervise(ctx context.Context, key string, in Instance, rev uint64) (finished bool) {
	log := m.log.With("feed", in.Feed, "trigger", in.TriggerName().String())
	rs := &runRecorder{m: m, key: key, state: runState{Owner: m.owner}}
	if prev, _, err := m.st.runs.Get(ctx, key); err == nil {
		rs.state.Events, rs.state.LastEvent = prev.Events, prev.LastEvent
		rs.state.LastError, rs.state.LastErrorAt = prev.LastError, prev.LastErrorAt
		rs.state.Dropped, rs.state.Connected = prev.Dropped, disconnected(prev.Connected)
	}
	defer rs.stopped()
	if in.Paused {
		rs.write(ctx)
		<-ctx.Done()
		return false
	}
	b := backoff.Backoff{Min: time.Second, Max: m.opts.MaxBackoff}
	for {
		started := m.now()
		err := m.runOnce(ctx, in, rs, log)
		if ctx.Err() != nil {
			return false
		}
		var del *deleteTrigger
		switch {
		case err == nil:
			log.Info("feed finished")
			rs.stopped() // first: whoever sees the instance done sees its last count
			m.finish(ctx, key, in, rev)
			return true
		case errors.As(err, &del):
			log.Info("feed finished, deleting its trigger", "rules", del.rules)
			rs.stopped()
			m.deleteTrigger(ctx, in, del.rules)
			return true
		}
		if m.now().Sub(started) > time.Minute {
			b.Reset()
		}
		pause := b.Next()
		log.Error("feed failed", "err", err, "retry_in", pause)
		rs.failed(ctx, err)
		if !backoff.Wait(ctx, pause) {
			return false
		}
	}
}

// runOnce builds the instance and runs it, turning a panic into an error.
func (m *Manager) runOnce(ctx context.Context, in Instance, rs *runRecorder, log *slog.Logger) (err error) {
	p, ok := m.reg.Lookup(in.Feed)
	if !ok {
		return fmt.Errorf("feed %s is not built into this Gust", in.Feed)
	}
	defer func() {
		if v := recover(); v != nil {
			log.Error("feed panicked", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("feed panicked: %v", v)
		}
	}()
	cfg := m.config(&in, p)
	cfg.Report = func(c Condition) { rs.report(ctx, c) }
	f, err := p.Build(cfg)
	if err != nil {
		return err
	}
	rs.running(ctx)
	feed, ok := f.(Feed)
	if !ok { // a Receiver alone: its work happens in Receive, on every process
		<-ctx.Done()
		return nil
	}
	// Emits hold the read lock; once Run returned, the write lock waits
	// for those in flight and closes the gate, so that no event lands after.
	var gate sync.RWMutex
	returned := false
	defer func() {
		gate.Lock()
		returned = true
		gate.Unlock()
	}()
	n := in.TriggerName()
	emit := func(ctx context.Context, e event.Event) error {
		gate.RLock()
		defer gate.RUnlock()
		if returned {
			return errors.New("feed instance stopped: no more events")
		}
		if err := m.publish(ctx, in.Feed, n.Namespace, n.Name, e); err != nil {
			return err
		}
		rs.emitted(ctx)
		return nil
	}
	return feed.Run(ctx, emit)
}

// newFeed is p.Build with a panic turned into an error: a provider's bug
// must not take the process down.
func newFeed(p Provider, cfg Config) (f Source, err error) {
	defer func() {
		if v := recover(); v != nil {
			f, err = nil, fmt.Errorf("feed %s panicked in New: %v", p.Path(), v)
		}
	}()
	return p.Build(cfg)
}

// publish puts an event of feed (a provider's path) on trigger
// ns/trigger, fired by the trigger's own namespace.
func (m *Manager) publish(ctx context.Context, feed, ns, trigger string, e event.Event) error {
	return m.opts.Events.Publish(ctx, ns, trigger, e, map[string]string{hub.HeaderSubject: ns, hub.HeaderFeed: feed})
}

// finish marks the instance done so that no process runs it again. Its
// write outlives ctx: the watch of the instances cancels ctx as soon as it
// sees the write's new revision, often before the write's own answer is
// read, which then said "context canceled" for a write that was stored
// (and for one that was not, would have hidden it). The revision keeps a
// late write from undoing another's.
func (m *Manager) finish(ctx context.Context, key string, in Instance, rev uint64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishWait)
	defer cancel()
	in.Done = true
	in.Updated = m.now().UnixMilli()
	if _, err := m.st.instances.Update(ctx, key, in, rev); err != nil && !errors.Is(err, hub.ErrConflict) {
		m.log.Warn("feed finish", "key", key, "err", err)
	}
}

// finishWait bounds finish's write: within the grace that Run gives its
// instances to stop.
const finishWait = 5 * time.Second

// deleteTrigger removes a finished instance's trigger, and its rules when
// withRules, then the instance.
func (m *Manager) deleteTrigger(ctx context.Context, in Instance, withRules bool) {
	n := in.TriggerName()
	if err := m.handled(ctx, n); err != nil {
		return // shutting down: the next owner finishes the job
	}
	if ruleNames, rev, err := m.opts.Triggers.TriggerRules(ctx, n); err == nil {
		if withRules {
			for _, rn := range ruleNames {
				if err := m.opts.Triggers.DeleteRule(ctx, rn, 0); err != nil && !errors.Is(err, hub.ErrNotFound) {
					m.log.Warn("feed delete rule", "rule", rn.Namespace+"/"+rn.Name, "err", err)
				}
			}
		}
		if err := m.opts.Triggers.DeleteTrigger(ctx, n, rev); err != nil {
			m.log.Warn("feed delete trigger", "trigger", n.String(), "err", err)
		}
	}
	key := hub.Key(in.Namespace, in.Trigger)
	_ = m.st.instances.Delete(ctx, key, 0)
	m.st.forget(ctx, key)
}

// handledWait bounds how long a feed that finished waits for the rule
// engine to handle its last events before its trigger is deleted.
const handledWait = 5 * time.Minute

// handled waits until the rule engine has handled every event stored on
// trigger n, so that deleting the trigger does not drop the last one (the
// engine drops events of deleted triggers). With no engine consumer there
// is nobody to wait for; after handledWait the trigger is deleted anyway.
func (m *Manager) handled(ctx context.Context, n actions.Name) error {
	js := m.opts.JetStream
	st, err := js.Stream(ctx, hub.EventsStream)
	if err != nil {
		return nil
	}
	last, err := st.GetLastMsgForSubject(ctx, hub.EventSubject(n.Namespace, n.Name))
	if err != nil {
		return nil // no event stored
	}
	deadline := time.Now().Add(handledWait)
	for time.Now().Before(deadline) {
		c, err := js.Consumer(ctx, hub.EventsStream, hub.RulesConsumer)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil
		}
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.AckFloor.Stream >= last.Sequence {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	m.log.Warn("the rule engine has not handled the feed's last event; deleting its trigger anyway", "trigger", n.String())
	return nil
}

// runRecorder writes an owned instance's run state: at once on start,
// failure and stop, and at most once a second for events, so that a busy
// feed does not write its status on every event.
type runRecorder struct {
	m       *Manager
	key     string
	mu      sync.Mutex
	state   runState
	written time.Time
	final   bool // stopped has written the last state
}

func (r *runRecorder) write(ctx context.Context) {
	r.written = r.m.now()
	st := r.state
	if _, err := r.m.st.runs.Put(context.WithoutCancel(ctx), r.key, st); err != nil {
		r.m.log.Debug("feed status write", "key", r.key, "err", err)
	}
}

func (r *runRecorder) running(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Running, r.state.Since = true, r.m.now().UnixMilli()
	r.write(ctx)
}

func (r *runRecorder) emitted(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.m.now()
	r.state.Events++
	r.state.LastEvent = now.UnixMilli()
	if now.Sub(r.written) >= time.Second {
		r.write(ctx)
	}
}

// report records what a running instance reports of itself: a change of
// its connection and an error at once, drops at most once a second.
func (r *runRecorder) report(ctx context.Context, c Condition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.m.now()
	urgent := false
	if c.Connected != nil {
		urgent = r.state.Connected == nil || *r.state.Connected != *c.Connected
		connected := *c.Connected
		r.state.Connected = &connected
	}
	if c.Err != nil {
		urgent = urgent || c.Err.Error() != r.state.LastError
		r.state.LastError, r.state.LastErrorAt = c.Err.Error(), now.UnixMilli()
	}
	if c.Dropped {
		r.state.Dropped++
	}
	if urgent || now.Sub(r.written) >= time.Second {
		r.write(ctx)
	}
}

// disconnected is a reported connection state once its instance stopped:
// false, or still nil for an instance that reports none.
func disconnected(c *bool) *bool {
	if c == nil {
		return nil
	}
	f := false
	return &f
}

func (r *runRecorder) failed(ctx context.Context, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Running = false
	r.state.Connected = disconnected(r.state.Connected)
	r.state.LastError, r.state.LastErrorAt = err.Error(), r.m.now().UnixMilli()
	r.write(ctx)
}

func (r *runRecorder) stopped() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final {
		return
	}
	r.final = true
	r.state.Running = false
	r.state.Connected = disconnected(r.state.Connected)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.write(ctx)
}

// Receive answers a request to the receiver of trigger ns/trigger.
func (m *Manager) Receive(w http.ResponseWriter, r *http.Request, ns, trigger string) error {
	key := hub.Key(ns, trigger)
	m.mu.RLock()
	s := m.receivers[key]
	m.mu.RUnlock()
	if s == nil {
		// This process's watch may not have seen the instance yet (just
		// created, or a restart replaying): read it.
		s = m.receiverOf(r.Context(), key)
	}
	if s == nil {
		return Reject(http.StatusNotFound, "No feed of trigger /%s/%s receives events over HTTP.", ns, trigger)
	}
	if s.inst.Paused || s.inst.Done {
		return Reject(http.StatusServiceUnavailable, "The feed of trigger /%s/%s is paused; try again later.", ns, trigger)
	}
	traceparent := r.Header.Get("traceparent") // W3C trace context, for the events without their own
	emit := func(ctx context.Context, e event.Event) error {
		hub.SetTraceParent(&e, traceparent)
		if err := m.publish(ctx, s.inst.Feed, ns, trigger, e); err != nil {
			return err
		}
		m.received(ctx, key, s)
		return nil
	}
	return s.recv.Receive(w, r, emit)
}
