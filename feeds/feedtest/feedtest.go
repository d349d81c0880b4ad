package feedtest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
)

// Case is how the suite drives one provider.
type Case struct {
	Provider feeds.Provider
	// Params are valid parameters for the provider.
	Params feeds.Params
	// Produce makes the upstream deliver its event number i to instance f
	// (a Receiver gets requests through Deliver with emit). Producing the
	// same i again is a redelivery of the same upstream event. Nil for feeds
	// that make events by themselves, such as alarms: the suite waits for
	// them.
	Produce func(t *testing.T, f feeds.Source, emit feeds.Emit, i int)
	// Synctest runs each check in a testing/synctest bubble, so that
	// time-driven feeds run on its fake clock.
	Synctest bool
	// Wait bounds each wait for events or for Run to return; 0 means 10 s,
	// or 48 h of fake time under Synctest.
	Wait time.Duration
	// Egress is the instances' Config.Egress: a feed whose fake upstream
	// is on loopback must allow it (egress.MustParse(egress.Loopback)).
	Egress *egress.Policy
}

// Run runs the suite.
func Run(t *testing.T, c Case) {
	t.Helper()
	if c.Wait == 0 {
		c.Wait = 10 * time.Second
		if c.Synctest {
			c.Wait = 48 * time.Hour
		}
	}
	check := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			if c.Synctest {
				synctest.Test(t, f)
				return
			}
			f(t)
		})
	}
	check("ValidEvents", func(t *testing.T) { validEvents(t, c) })
	check("ReturnsOnCancel", func(t *testing.T) { returnsOnCancel(t, c) })
	if c.Produce != nil {
		check("RedeliverySameID", func(t *testing.T) { redeliverySameID(t, c) })
	}
	check("RejectsMissingRequired", func(t *testing.T) { rejectsMissingRequired(t, c) })
}

// Config is the configuration the suite builds instances from.
func Config(params feeds.Params) feeds.Config {
	return feeds.Config{
		Trigger:    actions.Name{Namespace: "guest", Name: "feedtest"},
		Params:     params.Clone(),
		URL:        "http://127.0.0.1:3233" + feeds.ReceivePath + "guest/feedtest",
		Checkpoint: &MemoryCheckpoint{},
		Logger:     slog.New(slog.DiscardHandler),
		Now:        time.Now,
	}
}

// Provider returns the registered provider name, failing t when it is not
// registered (the test's package misses the provider's import).
func Provider(t testing.TB, name string) feeds.Provider {
	t.Helper()
	p, ok := feeds.Registered().Lookup(name)
	if !ok {
		t.Fatalf("%s is not registered", name)
	}
	return p
}

// Build builds an instance of the registered provider name from cfg, as
// the manager does, failing t on an error.
func Build(t testing.TB, name string, cfg feeds.Config) feeds.Source {
	t.Helper()
	f, err := Provider(t, name).Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Testdata returns the file testdata/NAME.json of the test's package: a
// real payload of the provider's upstream.
func Testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ValidEmit is an Emit for fuzz tests: it fails t for an event that is not
// a valid CloudEvent, and count says how many events it was given.
func ValidEmit(t testing.TB) (emit feeds.Emit, count func() int) {
	var n atomic.Int32
	emit = func(_ context.Context, e event.Event) error {
		if err := e.Validate(); err != nil {
			t.Errorf("emitted an invalid event: %v", err)
		}
		n.Add(1)
		return nil
	}
	return emit, func() int { return int(n.Load()) }
}

// Recorder is an Emit that keeps the events and fails the test on an emit
// after the instance's Run returned.
type Recorder struct {
	t        testing.TB
	mu       sync.Mutex
	events   []event.Event
	arrived  chan struct{}
	returned atomic.Bool
}

// NewRecorder returns an empty recorder.
func NewRecorder(t testing.TB) *Recorder { return &Recorder{t: t, arrived: make(chan struct{}, 1024)} }

// Emit records e.
func (r *Recorder) Emit(ctx context.Context, e event.Event) error {
	if r.returned.Load() {
		r.t.Errorf("emit after Run returned: event %s", e.ID())
		return errors.New("emit after Run returned")
	}
	r.mu.Lock()
	r.events = append(r.events, e.Clone())
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	return nil
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

// WaitFor waits up to d for n events in all and returns them.
func (r *Recorder) WaitFor(t testing.TB, n int, d time.Duration) []event.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		if evs := r.Events(); len(evs) >= n {
			return evs
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("got %d events in %v, want %d", len(r.Events()), d, n)
		}
	}
}

// Deliver sends req to the Receiver f and returns the response as the API
// would write it: a *feeds.RequestError becomes its status.
func Deliver(t testing.TB, f feeds.Source, emit feeds.Emit, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	recv, ok := f.(feeds.Receiver)
	if !ok {
		t.Fatalf("%T is not a feeds.Receiver", f)
	}
	w := httptest.NewRecorder()
	if err := recv.Receive(w, req, emit); err != nil {
		var re *feeds.RequestError
		if !errors.As(err, &re) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.WriteString(err.Error())
			return w
		}
		w.WriteHeader(re.Status)
		_, _ = w.WriteString(re.Message)
	}
	return w
}

// MemoryCheckpoint is a Checkpoint in memory.
type MemoryCheckpoint struct {
	mu sync.Mutex
	b  []byte
}

// Load returns the last saved checkpoint.
func (c *MemoryCheckpoint) Load(context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.b...), nil
}

// Save keeps b.
func (c *MemoryCheckpoint) Save(_ context.Context, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b = append([]byte(nil), b...)
	return nil
}

// started is a running instance under test.
type started struct {
	feed   feeds.Source
	rec    *Recorder
	cancel context.CancelFunc
	done   chan error
	ran    chan struct{} // closed when Run returned
}

func start(t *testing.T, c Case) *started {
	t.Helper()
	cfg := Config(c.Params)
	cfg.Egress = c.Egress
	f, err := c.Provider.Build(cfg)
	if err != nil {
		t.Fatalf("New with valid parameters: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{feed: f, rec: NewRecorder(t), cancel: cancel, done: make(chan error, 1), ran: make(chan struct{})}
	run := func(ctx context.Context, _ feeds.Emit) error { <-ctx.Done(); return nil } // a Receiver alone, as the manager runs it
	if feed, ok := f.(feeds.Feed); ok {
		run = feed.Run
	}
	go func() {
		err := run(ctx, s.rec.Emit)
		s.rec.returned.Store(true)
		close(s.ran)
		s.done <- err
	}()
	t.Cleanup(func() { s.stop(t, c.Wait) })
	return s
}

// stop cancels the instance and waits for Run to return.
func (s *started) stop(t *testing.T, wait time.Duration) {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok && err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
		if ok {
			close(s.done)
		}
	case <-time.After(wait):
		t.Fatalf("Run did not return within %v of its context ending", wait)
	}
}

func (s *started) produce(t *testing.T, c Case, i int) {
	t.Helper()
	if c.Produce != nil {
		c.Produce(t, s.feed, s.rec.Emit, i)
	}
}

func validEvents(t *testing.T, c Case) {
	s := start(t, c)
	s.produce(t, c, 0)
	s.produce(t, c, 1)
	evs := s.twoEvents(t, c)
	for _, e := range evs {
		if err := e.Validate(); err != nil {
			t.Errorf("event %s is not a valid CloudEvent: %v", e.ID(), err)
		}
		if e.SpecVersion() != event.CloudEventsVersionV1 {
			t.Errorf("event %s has specversion %q, want 1.0", e.ID(), e.SpecVersion())
		}
	}
	if len(evs) > 1 && evs[0].ID() == evs[1].ID() {
		t.Errorf("two different upstream events share id %s", evs[0].ID())
	}
}

// twoEvents waits for two events, or for one from a feed that makes its
// own events and finished after it (a once alarm).
func (s *started) twoEvents(t *testing.T, c Case) []event.Event {
	t.Helper()
	ran, deadline := s.ran, time.After(c.Wait)
	for {
		evs := s.rec.Events()
		if len(evs) >= 2 || (len(evs) == 1 && ran == nil && c.Produce == nil) {
			return evs
		}
		select {
		case <-s.rec.arrived:
		case <-ran:
			ran = nil
		case <-deadline:
			t.Fatalf("got %d events in %v, want 2", len(evs), c.Wait)
		}
	}
}

func returnsOnCancel(t *testing.T, c Case) {
	s := start(t, c)
	s.produce(t, c, 0)
	s.rec.WaitFor(t, 1, c.Wait)
	s.stop(t, c.Wait)
	if c.Synctest {
		time.Sleep(c.Wait) // fake time: a leftover timer would emit now
	}
	s.rec.returned.Store(true)
}

func redeliverySameID(t *testing.T, c Case) {
	s := start(t, c)
	s.produce(t, c, 7)
	s.produce(t, c, 7)
	evs := s.rec.WaitFor(t, 1, c.Wait)
	if len(evs) == 2 && evs[0].ID() != evs[1].ID() {
		t.Errorf("a redelivered upstream event got id %s, then %s", evs[0].ID(), evs[1].ID())
	}
}

func rejectsMissingRequired(t *testing.T, c Case) {
	for _, p := range c.Provider.Params {
		if !p.Required {
			continue
		}
		params := c.Params.Clone()
		delete(params, p.Name)
		_, err := c.Provider.Build(Config(params))
		var pe *feeds.ParamError
		if !errors.As(err, &pe) || pe.Name != p.Name {
			t.Errorf("New without required parameter %q: got %v, want a *feeds.ParamError naming it", p.Name, err)
		}
	}
}

// Params builds feed parameters from name, value pairs.
func Params(kv ...any) feeds.Params {
	p := feeds.Params{}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i].(string), kv[i+1])
	}
	return p
}

// Running is an instance a test runs by itself (Start).
type Running struct {
	// Rec records what the instance emits (unless Start got another emit).
	Rec    *Recorder
	cancel context.CancelFunc
	done   chan error
}

// Start runs the Feed f with emit (nil: the Running's Recorder) until Stop
// or the end of the test.
func Start(t testing.TB, f feeds.Source, emit feeds.Emit) *Running {
	t.Helper()
	feed, ok := f.(feeds.Feed)
	if !ok {
		t.Fatalf("%T is not a feeds.Feed", f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Rec: NewRecorder(t), cancel: cancel, done: make(chan error, 1)}
	if emit == nil {
		emit = r.Rec.Emit
	}
	go func() { r.done <- feed.Run(ctx, emit) }()
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// Stop cancels the instance and returns what its Run returned; a later
// Stop returns nil.
func (r *Running) Stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	return r.Wait(t, 30*time.Second)
}

// Wait waits up to d for Run to return, by itself or after Stop, and
// returns what it returned.
func (r *Running) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- nil
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return nil
	}
}
