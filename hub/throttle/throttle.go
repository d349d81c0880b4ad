package throttle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gusthub/gust/hub"
	"github.com/nats-io/nats.go/jetstream"
)

// Limits are a namespace's throttles. Zero means no limit in a
// deployment's defaults, and "the default" in a namespace's own limits.
type Limits struct {
	InvocationsPerMinute  int `json:"invocationsPerMinute,omitempty"`
	ConcurrentInvocations int `json:"concurrentInvocations,omitempty"`
	FiresPerMinute        int `json:"firesPerMinute,omitempty"`
}

// over returns l with each limit that own sets replacing l's.
func (l Limits) over(own Limits) Limits {
	if own.InvocationsPerMinute > 0 {
		l.InvocationsPerMinute = own.InvocationsPerMinute
	}
	if own.ConcurrentInvocations > 0 {
		l.ConcurrentInvocations = own.ConcurrentInvocations
	}
	if own.FiresPerMinute > 0 {
		l.FiresPerMinute = own.FiresPerMinute
	}
	return l
}

// Update is a change of a namespace's own limits (SetLimits): a nil field
// keeps the namespace's limit, a positive value replaces it, and 0 (or
// less) removes it, so that the deployment's default applies again.
type Update struct {
	InvocationsPerMinute  *int
	ConcurrentInvocations *int
	FiresPerMinute        *int
}

// apply returns own, a namespace's own limits, changed by u.
func (u Update) apply(own Limits) Limits {
	for _, f := range []struct {
		to  *int
		dst *int
	}{
		{u.InvocationsPerMinute, &own.InvocationsPerMinute},
		{u.ConcurrentInvocations, &own.ConcurrentInvocations},
		{u.FiresPerMinute, &own.FiresPerMinute},
	} {
		if f.to != nil {
			*f.dst = max(*f.to, 0)
		}
	}
	return own
}

// Rate names what a per-minute limit counts.
type Rate string

// The rates a namespace is limited in.
const (
	Invocations Rate = "invocations" // invocationsPerMinute
	Fires       Rate = "fires"       // firesPerMinute
)

func (l Limits) rate(r Rate) int {
	if r == Fires {
		return l.FiresPerMinute
	}
	return l.InvocationsPerMinute
}

// RateError is a request over a per-minute limit (429). Count is the
// requests of the minute so far, this one included, as OpenWhisk counts.
type RateError struct {
	Rate           Rate
	Count, Allowed int
}

func (e *RateError) Error() string {
	return fmt.Sprintf("Too many requests in the last minute (count: %d, allowed: %d).", e.Count, e.Allowed)
}

// HTTPStatus is 429.
func (e *RateError) HTTPStatus() int { return http.StatusTooManyRequests }

// ConcurrencyError is an invocation over concurrentInvocations (429); Count
// is the activations in flight.
type ConcurrencyError struct {
	Count, Allowed int
}

func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("Too many concurrent requests in flight (count: %d, allowed: %d).", e.Count, e.Allowed)
}

// HTTPStatus is 429.
func (e *ConcurrencyError) HTTPStatus() int { return http.StatusTooManyRequests }

// Bucket names and lifetimes.
const (
	limitsBucket   = "gust_limits"
	ratesBucket    = "gust_rates"
	inflightBucket = "gust_inflight"
	// rateTTL keeps a minute's count a minute past its end.
	rateTTL = 2 * time.Minute
	// InflightTTL is how long a namespace's in-flight count lasts without
	// change: longer than the longest action (5 minutes) waits and runs.
	InflightTTL = 15 * time.Minute
	// limitsTTL is how long a process uses limits it read before reading
	// them again; a change made in the process applies at once.
	limitsTTL = 2 * time.Second
)

// Options configure a Throttle.
type Options struct {
	// Defaults apply to namespaces without limits of their own.
	Defaults Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Throttle counts and limits a deployment's namespaces. It is safe for
// concurrent use; every process of a deployment opens its own on the same
// JetStream.
type Throttle struct {
	limits   *hub.Collection[Limits]
	rates    jetstream.KeyValue
	inflight jetstream.KeyValue
	defaults Limits
	now      func() time.Time

	mu     sync.Mutex
	cached map[string]cachedLimits // by namespace
	local  map[string]*window      // by rate and namespace
	counts counters
}

type cachedLimits struct {
	own   Limits
	until time.Time
}

// window is what this process holds of a namespace's count in one minute.
type window struct {
	minute  int64
	left    int   // reserved tokens not yet spent
	full    bool  // the shared count reached limit
	limit   int   // the limit full was found at
	counted int64 // the shared count when found full
	refused int64 // requests refused here since
}

// Open opens (creating them if needed) the buckets of the throttles.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Throttle, error) {
	limits, err := hub.OpenCollection[Limits](ctx, js, limitsBucket)
	if err != nil {
		return nil, err
	}
	rates, err := counterBucket(ctx, js, ratesBucket, rateTTL)
	if err != nil {
		return nil, err
	}
	inflight, err := counterBucket(ctx, js, inflightBucket, InflightTTL)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Throttle{limits: limits, rates: rates, inflight: inflight, defaults: o.Defaults, now: o.Now,
		cached: map[string]cachedLimits{}, local: map[string]*window{}}, nil
}

func counterBucket(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: name, History: 1, TTL: ttl, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", name, err)
	}
	return kv, nil
}

// Limits returns the limits in force for ns.
func (t *Throttle) Limits(ctx context.Context, ns string) (Limits, error) {
	now := t.now()
	t.mu.Lock()
	c, ok := t.cached[ns]
	t.mu.Unlock()
	if ok && now.Before(c.until) {
		return t.defaults.over(c.own), nil
	}
	own, _, err := t.limits.Get(ctx, hub.Key(ns))
	if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return Limits{}, err
	}
	t.mu.Lock()
	if len(t.cached) >= maxCached {
		clear(t.cached)
	}
	t.cached[ns] = cachedLimits{own: own, until: now.Add(limitsTTL)}
	t.mu.Unlock()
	return t.defaults.over(own), nil
}

// maxCached bounds the limits cache; it is emptied when full.
const maxCached = 10000

// SetLimits changes the own limits of ns as u says, keeping those u leaves
// nil, and returns the limits now in force.
func (t *Throttle) SetLimits(ctx context.Context, ns string, u Update) (Limits, error) {
	key := hub.Key(ns)
	for attempt := 0; ; attempt++ {
		own, rev, err := t.limits.Get(ctx, key)
		if err != nil && !errors.Is(err, hub.ErrNotFound) {
			return Limits{}, err
		}
		own = u.apply(own)
		if rev == 0 {
			_, err = t.limits.Create(ctx, key, own)
		} else {
			_, err = t.limits.Update(ctx, key, own, rev)
		}
		if err == nil {
			t.mu.Lock()
			delete(t.cached, ns)
			t.mu.Unlock()
			return t.defaults.over(own), nil
		}
		if attempt == 5 || !(errors.Is(err, hub.ErrExists) || errors.Is(err, hub.ErrConflict)) {
			return Limits{}, err
		}
	}
}

// Allow counts one request of rate r for ns, or returns a *RateError when
// the namespace has had its limit in this minute.
func (t *Throttle) Allow(ctx context.Context, r Rate, ns string) error {
	lim, err := t.Limits(ctx, ns)
	if err != nil {
		return err
	}
	limit := lim.rate(r)
	if limit <= 0 {
		return nil
	}
	minute := t.now().UnixMilli() / 60000
	k := string(r) + "\x00" + ns
	t.mu.Lock()
	w := t.local[k]
	if w == nil || w.minute != minute {
		w = &window{minute: minute}
		t.local[k] = w
	}
	switch {
	case w.left > 0:
		w.left--
		t.mu.Unlock()
		return nil
	case w.full && w.limit == limit: // counts only grow within a minute
		w.refused++
		e := &RateError{Rate: r, Count: int(w.counted + w.refused), Allowed: limit}
		t.mu.Unlock()
		return e
	}
	t.mu.Unlock()

	var batch int64
	var full bool
	counted, err := t.counts.add(ctx, t.rates, hub.Key(string(r), ns, strconv.FormatInt(minute, 10)), func(cur int64) (int64, bool) {
		full = cur >= int64(limit) // called again when cur was stale
		if full {
			return cur, false
		}
		batch = min(max((int64(limit)-cur)/16, 1), 32)
		return cur + batch, true
	})
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if w.minute != minute { // another request of this process moved to a new minute
		w = &window{minute: minute}
		t.local[k] = w
	}
	if full {
		if !w.full || w.limit != limit {
			w.full, w.limit, w.counted, w.refused = true, limit, counted, 0
		}
		w.refused++
		return &RateError{Rate: r, Count: int(w.counted + w.refused), Allowed: limit}
	}
	w.left += int(batch) - 1
	return nil
}

// Acquire takes one of ns's concurrentInvocations slots: held reports
// whether it did (false when ns has no such limit), and a
// *ConcurrencyError says the namespace has all its slots in use. A held
// slot must be given back with Release when the activation completes.
func (t *Throttle) Acquire(ctx context.Context, ns string) (held bool, err error) {
	lim, err := t.Limits(ctx, ns)
	if err != nil {
		return false, err
	}
	limit := int64(lim.ConcurrentInvocations)
	if limit <= 0 {
		return false, nil
	}
	var full bool
	cur, err := t.counts.add(ctx, t.inflight, hub.Key(ns), func(cur int64) (int64, bool) {
		full = cur >= limit // called again when cur was stale
		if full {
			return cur, false
		}
		return cur + 1, true
	})
	if err != nil {
		return false, err
	}
	if full {
		return false, &ConcurrencyError{Count: int(cur), Allowed: int(limit)}
	}
	return true, nil
}

// Admit admits an invocation in ns: it counts it against
// invocationsPerMinute and then, with slot, takes one of the
// concurrentInvocations slots, as OpenWhisk checks both for every
// activation. held and the errors are Acquire's; over the rate, the error
// is a *RateError and no slot is taken.
func (t *Throttle) Admit(ctx context.Context, ns string, slot bool) (held bool, err error) {
	if err := t.Allow(ctx, Invocations, ns); err != nil || !slot {
		return false, err
	}
	return t.Acquire(ctx, ns)
}

// Release gives back a slot Acquire took for ns.
func (t *Throttle) Release(ctx context.Context, ns string) error {
	_, err := t.counts.add(ctx, t.inflight, hub.Key(ns), func(cur int64) (int64, bool) {
		if cur <= 0 { // expired while in flight: nothing to give back
			return 0, false
		}
		return cur - 1, true
	})
	return err
}

// InFlight returns the activations of ns holding a slot.
func (t *Throttle) InFlight(ctx context.Context, ns string) (int, error) {
	cur, _, err := read(ctx, t.inflight, hub.Key(ns))
	return int(cur), err
}

// maxAttempts bounds the compare-and-set retries of one change; each
// failure means another request changed the count, so progress is made.
const maxAttempts = 100

// counters is the last count and revision this process saw of each key,
// so that a change is one compare-and-set, not a read and then one, while
// nobody else changed the count meanwhile.
type counters struct {
	mu sync.Mutex
	m  map[string]seen
}

type seen struct {
	n   int64
	rev uint64
}

func (c *counters) get(key string) (seen, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[key]
	return s, ok
}

func (c *counters) put(key string, s seen) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[string]seen{}
	}
	c.m[key] = s
}

// add changes the count under key to next(cur) with a compare-and-set,
// retrying when another writer came first; next returns false to leave
// the count as it is. add returns the count it left. It starts from the
// count this process last saw, and reads the bucket only when that is
// stale.
func (c *counters) add(ctx context.Context, kv jetstream.KeyValue, key string, next func(cur int64) (int64, bool)) (int64, error) {
	last, known := c.get(key)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if !known {
			cur, rev, err := read(ctx, kv, key)
			if err != nil {
				return 0, err
			}
			last = seen{n: cur, rev: rev}
			c.put(key, last)
		}
		n, change := next(last.n)
		if !change {
			if known { // the verdict may rest on a stale count: read it
				known = false
				continue
			}
			return last.n, nil
		}
		b := strconv.AppendInt(nil, n, 10)
		var rev uint64
		var err error
		if last.rev == 0 {
			rev, err = kv.Create(ctx, key, b)
		} else {
			rev, err = kv.Update(ctx, key, b, last.rev)
		}
		if err == nil {
			c.put(key, seen{n: n, rev: rev})
			return n, nil
		}
		if !conflict(err) {
			return 0, fmt.Errorf("count %s: %w", key, err)
		}
		known = false
	}
	return 0, fmt.Errorf("count %s: %d writers came first in a row", key, maxAttempts)
}

// read returns the count under key and its revision (0 when absent).
func read(ctx context.Context, kv jetstream.KeyValue, key string) (int64, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("count %s: %w", key, err)
	}
	n, err := strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("count %s: %w", key, err)
	}
	return n, e.Revision(), nil
}

func conflict(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}

// Defaults returns the limits of namespaces without their own.
func (t *Throttle) Defaults() Limits { return t.defaults }
