package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/backoff"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ActivationsStream is the JetStream stream that keeps activation records,
// one message per record on subject gust.activations.<ns>.<path>.<id>.
const ActivationsStream = "GUST_ACTIVATIONS"

const activationsPrefix = "gust.activations"

// Retention defaults for activation records.
const (
	DefaultActivationMaxAge   = 7 * 24 * time.Hour
	DefaultActivationMaxBytes = 1 << 30
)

// RecordsObjectStore is the JetStream object store that holds activation
// records too large for one message of the stream, under their ids.
const RecordsObjectStore = "gust_records"

// inlineRecordLimit is the largest encoded record kept whole in the
// stream. A larger one (logs near the 10 MB limit, a result near 1 MB)
// goes whole to the object store, and the stream keeps it without logs
// and result, marked with recordHeader: a NATS message is at most 1 MB on
// a default server, and lists scan the stream's messages.
const inlineRecordLimit = 256 << 10

// recordHeader marks a stream message whose whole record is in the object
// store under the activation's id.
const recordHeader = "Gust-Record"

// putAttempts bounds the tries of a record that fails to store; the pause
// between two starts at putBackoff and doubles (200 ms to 1.6 s: below
// putBackoffMax).
const (
	putAttempts   = 5
	putBackoff    = 200 * time.Millisecond
	putBackoffMax = 2 * time.Second
)

// ActivationStore keeps activation records in a JetStream stream, so that
// every Gust process on the same NATS sees them and they survive restarts.
// Records of any size are kept: large ones in an object store.
type ActivationStore struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	objects jetstream.ObjectStore
	log     *slog.Logger
	// failures counts records that could not be stored after every retry.
	failures atomic.Uint64
}

// ActivationRetention bounds how long and how much of the records are kept.
type ActivationRetention struct {
	MaxAge   time.Duration
	MaxBytes int64
	// Logger receives the errors of records that cannot be stored; nil
	// discards them.
	Logger *slog.Logger
}

// OpenActivationStore creates or updates the activations stream.
func OpenActivationStore(ctx context.Context, js jetstream.JetStream, r ActivationRetention) (*ActivationStore, error) {
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultActivationMaxAge
	}
	if r.MaxBytes <= 0 {
		r.MaxBytes = DefaultActivationMaxBytes
	}
	st, err := hub.OpenStream(ctx, js, jetstream.StreamConfig{
		Name:      ActivationsStream,
		Subjects:  []string{activationsPrefix + ".>"},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		MaxAge:    r.MaxAge,
		MaxBytes:  r.MaxBytes,
		Discard:   jetstream.DiscardOld,
	})
	if err != nil {
		return nil, err
	}
	objs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      RecordsObjectStore,
		Description: "activation records too large for one message of " + ActivationsStream,
		Storage:     jetstream.FileStorage,
		TTL:         r.MaxAge,
		MaxBytes:    r.MaxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", RecordsObjectStore, err)
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ActivationStore{js: js, stream: st, objects: objs, log: log}, nil
}

// Failures is the number of records this store could not keep, after
// retrying each: a count that should stay zero.
func (s *ActivationStore) Failures() uint64 { return s.failures.Load() }

func activationSubject(ns, path, id string) string {
	return activationsPrefix + "." + hub.Key(ns, path, id)
}

// Put records a, after JetStream has stored it.
func (s *ActivationStore) Put(ctx context.Context, a *Activation) error {
	b, err := a.MarshalJSON() // not json.Marshal, which would check and compact it again
	if err != nil {
		return fmt.Errorf("encode activation %s: %w", a.ActivationID, err)
	}
	return s.PutEncoded(ctx, a, b)
}

// PutEncoded is Put for a record the caller has encoded already: b is
// json.Marshal(a). A record larger than a stream message should be goes
// whole to the object store first. A failing write is retried; when every
// attempt failed, the error is logged and counted (Failures) and returned.
//
// An activation id has one record, whatever happens: a record whose id is
// already stored (work done twice after a crash or a late redelivery) is
// not stored again, and Put returns nil; the first record stays.
func (s *ActivationStore) PutEncoded(ctx context.Context, a *Activation, b []byte) error {
	return s.putEncoded(ctx, a, b, "")
}

// putEncoded is PutEncoded, keeping params on the record's message unless
// "" (PutAsyncKeeping).
func (s *ActivationStore) putEncoded(ctx context.Context, a *Activation, b []byte, params string) error {
	var err error
	pause := backoff.Backoff{Min: putBackoff, Max: putBackoffMax}
	for attempt := 1; attempt <= putAttempts; attempt++ {
		if err = s.put(ctx, a, b, params); err == nil {
			return nil
		}
		if attempt == putAttempts || ctx.Err() != nil {
			break
		}
		s.log.Warn("store activation, retrying", "activation_id", a.ActivationID, "attempt", attempt, "err", err)
		// When ctx ends during the pause, the next put fails at once and
		// ends the loop with its error.
		backoff.Wait(ctx, pause.Next())
	}
	s.failures.Add(1)
	s.log.Error("activation record lost: it could not be stored", "activation_id", a.ActivationID,
		"bytes", len(b), "attempts", putAttempts, "failures", s.failures.Load(), "err", err)
	return err
}

// putAckWait bounds how long a record's first write (PutAsync) waits for
// JetStream's acknowledgement before Pending.Answer gives up on it, and
// Pending.Wait writes the record again, synchronously.
const putAckWait = 10 * time.Second

// errNoAck is the answer of a write JetStream did not acknowledge in time.
var errNoAck = fmt.Errorf("activation record not acknowledged by JetStream in %v", putAckWait)

// PutAsync is PutEncoded without waiting: it hands the record to
// JetStream and returns at once; the Pending it returns tells when
// JetStream has it (Answer), and Wait returns what PutEncoded would. Many
// records put at once so share the round trips to the server (group
// commit) instead of each waiting for its own. b is json.Marshal(a), or
// nil to have PutAsync encode it. A record that is large, or that
// JetStream refuses or does not acknowledge in time, is written by
// PutEncoded, with its retries, in Wait: the message id and the expected
// sequence make a second write of the same record a no-op.
func (s *ActivationStore) PutAsync(ctx context.Context, a *Activation, b []byte) *Pending {
	return s.putAsync(a, b, "")
}

// PutAsyncKeeping is PutAsync for the record of an activation invoked with
// params, which it keeps for a rerun on the record's own message
// (hub.RerunParamsHeader; RerunParams reads them) instead of a write of
// their own. It reports false, and writes the record as PutAsync does,
// when they cannot travel there (hub.InlineParams, or a record too large
// for a message): the caller keeps them apart then (hub.RerunParams).
func (s *ActivationStore) PutAsyncKeeping(ctx context.Context, a *Activation, b []byte, params json.RawMessage) (stored *Pending, kept bool) {
	p, ok := hub.InlineParams(params)
	if b == nil || len(b) > inlineRecordLimit || !ok {
		return s.putAsync(a, b, ""), false
	}
	return s.putAsync(a, b, p), true
}

// putAsync is PutAsync, keeping params on the record's message unless "".
func (s *ActivationStore) putAsync(a *Activation, b []byte, params string) *Pending {
	msg, sync := s.prepare(a, b, params)
	if msg == nil {
		return NewPending(errWrittenOnWait, sync)
	}
	f, err := s.js.PublishMsgAsync(msg, recordOpts(a)...)
	if err != nil {
		return NewPending(err, sync)
	}
	due := time.Now().Add(putAckWait)
	return &Pending{again: sync, first: func(ctx context.Context) error {
		select { // an answer that came counts, however late it is read
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return unlessRecorded(err)
		default:
		}
		late := time.NewTimer(time.Until(due))
		defer late.Stop()
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return unlessRecorded(err)
		case <-ctx.Done():
			return ctx.Err()
		case <-late.C:
			return errNoAck
		}
	}}
}

// unlessRecorded is err of a record's write, nil when the write failed
// because the record is stored already.
func unlessRecorded(err error) error {
	if hub.IsWrongLastSequence(err) {
		return nil
	}
	return err
}

// PutIn is PutAsync in a batch of writes: it hands the record to b, whose
// Wait stores it with the batch's other writes, and stored, called after
// that Wait, returns what PutEncoded would, writing the record by
// PutEncoded when it is large or the batch's write failed.
func (s *ActivationStore) PutIn(wb *hub.Batch, a *Activation, b []byte) (stored func(context.Context) error) {
	msg, sync := s.prepare(a, b, "")
	if msg == nil {
		return sync
	}
	w := wb.Publish(msg, recordOpts(a)...)
	return func(ctx context.Context) error {
		if err := w.Err(); err == nil || hub.IsWrongLastSequence(err) { // stored, now or before
			return nil
		}
		return sync(ctx)
	}
}

// prepare is what PutAsync and PutIn write: the message of a, encoded as
// b (nil: encode it), and sync, which writes it by PutEncoded. msg is nil
// when only sync can write it: too large for a message, or unencodable
// (sync then returns why).
// params, unless "", are kept on the message (PutAsyncKeeping).
func (s *ActivationStore) prepare(a *Activation, b []byte, params string) (msg *nats.Msg, sync func(context.Context) error) {
	if b == nil {
		var err error
		if b, err = a.MarshalJSON(); err != nil {
			err = fmt.Errorf("encode activation %s: %w", a.ActivationID, err)
			return nil, func(context.Context) error { return err }
		}
	}
	sync = func(ctx context.Context) error { return s.putEncoded(ctx, a, b, params) }
	if len(b) > inlineRecordLimit {
		return nil, sync
	}
	msg = &nats.Msg{Subject: activationSubject(a.Namespace, a.Path(), a.ActivationID), Data: b}
	if params != "" {
		msg.Header = nats.Header{hub.RerunParamsHeader: []string{params}}
	}
	return msg, sync
}

// recordOpts make a second write of a's record a no-op: its message id
// within JetStream's duplicate window, its subject's expected sequence
// after.
func recordOpts(a *Activation) []jetstream.PublishOpt {
	return []jetstream.PublishOpt{jetstream.WithMsgID(a.ActivationID), jetstream.WithExpectLastSequencePerSubject(0)}
}

// put writes the record once: inline, or whole to the object store and
// without logs and result to the stream.
func (s *ActivationStore) put(ctx context.Context, a *Activation, b []byte, params string) error {
	msg := &nats.Msg{Subject: activationSubject(a.Namespace, a.Path(), a.ActivationID), Data: b, Header: nats.Header{}}
	if params != "" && len(b) <= inlineRecordLimit {
		msg.Header.Set(hub.RerunParamsHeader, params)
	}
	if len(b) > inlineRecordLimit {
		if _, err := s.stream.GetLastMsgForSubject(ctx, msg.Subject); err == nil {
			return nil // recorded already: keep the first record's object
		}
		if _, err := s.objects.Put(ctx, jetstream.ObjectMeta{Name: a.ActivationID}, bytes.NewReader(b)); err != nil {
			return fmt.Errorf("store activation %s (%d bytes) in %s: %w", a.ActivationID, len(b), RecordsObjectStore, err)
		}
		stub := *a
		stub.Logs, stub.Response.Result = nil, nil
		sb, err := json.Marshal(stub)
		if err != nil {
			return fmt.Errorf("encode activation %s: %w", a.ActivationID, err)
		}
		msg.Data = sb
		msg.Header.Set(recordHeader, "object")
	}
	_, err := hub.Publish(ctx, s.js, msg, jetstream.WithMsgID(a.ActivationID), jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil && !hub.IsWrongLastSequence(err) {
		return fmt.Errorf("store activation %s: %w", a.ActivationID, err)
	}
	return nil
}

// decode reads a stream message's record: from the object store when the
// message says it is there and whole is true, else the message itself.
func (s *ActivationStore) decode(ctx context.Context, h nats.Header, data []byte, whole bool) (*Activation, error) {
	var a Activation
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	if !whole || h.Get(recordHeader) != "object" {
		return &a, nil
	}
	b, err := s.objects.GetBytes(ctx, a.ActivationID)
	if err != nil {
		return nil, fmt.Errorf("read activation %s from %s: %w", a.ActivationID, RecordsObjectStore, err)
	}
	var full Activation
	if err := json.Unmarshal(b, &full); err != nil {
		return nil, err
	}
	return &full, nil
}

// Get returns the activation id of namespace ns, or hub.ErrNotFound.
func (s *ActivationStore) Get(ctx context.Context, ns, id string) (*Activation, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, anyPathSubject(ns, id))
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("activation %s: %w", id, hub.ErrNotFound)
		}
		return nil, fmt.Errorf("get activation %s: %w", id, err)
	}
	a, err := s.decode(ctx, m.Header, m.Data, true)
	if err != nil {
		return nil, fmt.Errorf("decode activation %s: %w", id, err)
	}
	return a, nil
}

// anyPathSubject matches the subject of activation id of namespace ns
// whatever its entity's path, for reads by id.
func anyPathSubject(ns, id string) string {
	return activationsPrefix + "." + hub.EncodeToken(ns) + ".*." + hub.EncodeToken(id)
}

// Has reports whether activation id of namespace ns has a record, without
// decoding it.
func (s *ActivationStore) Has(ctx context.Context, ns, id string) (bool, error) {
	_, err := s.stream.GetLastMsgForSubject(ctx, anyPathSubject(ns, id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("get activation %s: %w", id, err)
	}
}

// RerunParams returns the parameters kept on the message of activation
// id's record (PutAsyncKeeping), or hub.ErrParamsNotKept: they may be in
// hub.RerunParams' bucket instead.
func (s *ActivationStore) RerunParams(ctx context.Context, ns, id string) (json.RawMessage, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, anyPathSubject(ns, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, hub.ErrParamsNotKept
	}
	if err != nil {
		return nil, fmt.Errorf("read the parameters of %s: %w", id, err)
	}
	return hub.ParamsFromHeader(m.Header)
}

// Query selects activations of one namespace.
type Query struct {
	Namespace string
	// Path keeps only activations of this entity ("name" or "pkg/name").
	Path string
	// Since and Upto keep activations that started in [Since, Upto], epoch
	// milliseconds; zero means unbounded.
	Since, Upto int64
	Skip, Limit int
	// Docs asks for whole records, with logs and result; without it, the
	// records of large activations may come without them.
	Docs bool
}

// List returns the activations q selects, newest first (by start; among
// equal starts, the later stored first), after skipping
// q.Skip of them and at most q.Limit. It also returns how many matched in
// all, except for a query with a Limit and Since or Upto, where counting
// would mean reading them all: then total is -1 (ask again with Limit 0
// to count).
//
// A page (a Limit) reads the stream backwards from its end, in spans that
// double, until it holds the Skip+Limit newest: its cost follows
// the page, not the number of records kept. A query without Limit reads
// every record of the namespace (or of the entity of q.Path).
func (s *ActivationStore) List(ctx context.Context, q Query) ([]Activation, int, error) {
	filter := listFilter(q)
	l := lister{q: q, keep: q.Skip + q.Limit}
	var err error
	if q.Limit > 0 {
		err = s.listPage(ctx, filter, &l)
	} else {
		err = s.listAll(ctx, filter, &l)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list activations: %w", err)
	}
	l.prune()
	if q.Skip >= len(l.window) {
		return []Activation{}, l.total, nil
	}
	page := l.window[q.Skip:]
	if q.Limit > 0 && len(page) > q.Limit {
		page = page[:q.Limit]
	}
	out := make([]Activation, len(page))
	for i, r := range page {
		data := r.data
		if q.Docs && r.inObjects {
			var a Activation
			if err := json.Unmarshal(data, &a); err != nil {
				return nil, 0, fmt.Errorf("decode activation: %w", err)
			}
			if data, err = s.objects.GetBytes(ctx, a.ActivationID); err != nil {
				return nil, 0, fmt.Errorf("read activation %s from %s: %w", a.ActivationID, RecordsObjectStore, err)
			}
		}
		if err := json.Unmarshal(data, &out[i]); err != nil {
			return nil, 0, fmt.Errorf("decode activation: %w", err)
		}
	}
	return out, l.total, nil
}

// Count returns how many activations q selects (Skip and Limit aside):
// without Since and Upto, as the server counts a namespace's subjects,
// without reading the records; with them, by reading the starts of those
// stored since Since.
func (s *ActivationStore) Count(ctx context.Context, q Query) (int, error) {
	filter := listFilter(q)
	if q.Since == 0 && q.Upto == 0 {
		n, err := s.count(ctx, filter)
		if err != nil {
			return 0, fmt.Errorf("count activations: %w", err)
		}
		return n, nil
	}
	l := lister{q: q, countOnly: true}
	if err := s.listAll(ctx, filter, &l); err != nil {
		return 0, fmt.Errorf("count activations: %w", err)
	}
	return l.total, nil
}

// listFilter is the subject filter of q's namespace, or of its entity.
func listFilter(q Query) string {
	if q.Path != "" {
		return activationsPrefix + "." + hub.Key(q.Namespace, q.Path) + ".*"
	}
	return activationsPrefix + "." + hub.EncodeToken(q.Namespace) + ".*.*"
}

// listed is a record a List read, decoded only as far as its start: most
// records read are not on the page.
type listed struct {
	start     int64
	seq       uint64 // in the stream: the later stored first among equal starts
	inObjects bool   // the whole record is in the object store
	data      []byte
}

// lister collects the records a List reads.
type lister struct {
	q     Query
	keep  int // the newest keep records are all that can be returned; 0: all
	total int
	// window holds the matching records read, pruned to the newest keep
	// now and then.
	window []listed
	// countOnly keeps no records: only total counts.
	countOnly bool
}

// add takes one stream message's record, if it matches.
func (l *lister) add(seq uint64, h nats.Header, data []byte) {
	start, ok := recordStart(data)
	if !ok || (l.q.Since > 0 && start < l.q.Since) || (l.q.Upto > 0 && start > l.q.Upto) {
		return
	}
	l.total++
	if l.countOnly {
		return
	}
	l.window = append(l.window, listed{start: start, seq: seq, inObjects: h.Get(recordHeader) != "", data: data})
	if l.keep > 0 && len(l.window) > 2*l.keep+64 {
		l.prune()
	}
}

// prune sorts the window newest first and keeps the newest keep.
func (l *lister) prune() {
	sort.Slice(l.window, func(i, j int) bool {
		a, b := l.window[i], l.window[j]
		return a.start > b.start || (a.start == b.start && a.seq > b.seq)
	})
	if l.keep > 0 && len(l.window) > l.keep {
		l.window = l.window[:l.keep]
	}
}

// recordStart reads the "start" of an encoded record without decoding the
// rest: it comes sixth, after short strings, in what MarshalJSON writes.
func recordStart(data []byte) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0, false
		}
		if k != "start" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return 0, false
			}
			continue
		}
		var n int64
		if dec.Decode(&n) != nil {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// listAll reads every record of filter (from Since's time on, when set).
func (s *ActivationStore) listAll(ctx context.Context, filter string, l *lister) error {
	cfg := jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if l.q.Since > 0 {
		// Records are written when activations end, which is after they
		// start: starting the scan at Since (less the clock skew) loses none.
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := time.UnixMilli(l.q.Since).Add(-clockSkew)
		cfg.OptStartTime = &t
	}
	return s.scan(ctx, filter, cfg, 0, func(seq uint64, _ time.Time, h nats.Header, data []byte) { l.add(seq, h, data) })
}

// clockSkew is how far the clock of the process that starts an
// activation may run ahead of the NATS server's, which stamps the record
// (zero in one process; NTP keeps a cluster's within milliseconds). A page
// reads the records stored up to clockSkew before its oldest: at 1,000
// activations a second, 100 more.
const clockSkew = 100 * time.Millisecond

// listPage reads the stream backwards, span by span, until the records
// read hold the l.keep newest that match. Spans are read forwards; a
// record is stored (stamped by the server) after its activation started,
// so every record of an older span started before the oldest stamp read so
// far (plus clockSkew): once l.keep records started after that, no older
// span can change the page.
func (s *ActivationStore) listPage(ctx context.Context, filter string, l *lister) error {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the state of %s: %w", ActivationsStream, err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	first, to := info.State.FirstSeq, info.State.LastSeq+1
	total := -1
	if l.q.Since == 0 && l.q.Upto == 0 {
		if total, err = s.count(ctx, filter); err != nil {
			return err
		}
	}
	defer func() { l.total = total }()
	span := uint64(2*l.keep + 64)
	var oldest time.Time // the stamp of the oldest record read
	for {
		from := first
		if to-first > span {
			from = to - span
		}
		cfg := jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from}
		err := s.scan(ctx, filter, cfg, to, func(seq uint64, stamp time.Time, h nats.Header, data []byte) {
			if oldest.IsZero() || stamp.Before(oldest) {
				oldest = stamp
			}
			l.add(seq, h, data)
		})
		if err != nil {
			return err
		}
		if from <= first {
			return nil
		}
		if !oldest.IsZero() {
			bound := oldest.Add(clockSkew).UnixMilli() // every unread record started at or before bound
			if l.q.Since > 0 && bound < l.q.Since {
				return nil
			}
			complete := 0
			for _, r := range l.window {
				if r.start > bound {
					complete++
				}
			}
			if complete >= l.keep {
				return nil
			}
		}
		to = from
		span *= 2
	}
}

// count is how many records match filter, as the server counts them
// without sending them.
func (s *ActivationStore) count(ctx context.Context, filter string) (int, error) {
	c, err := s.consumer(ctx, filter, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	defer s.dropConsumer(ctx, c)
	return int(c.CachedInfo().NumPending), nil
}

// scanBatch is how many messages one fetch of a scan asks for.
const scanBatch = 1000

// scanIdle bounds how long a scan's consumer outlives a scan that could
// not delete it.
const scanIdle = 30 * time.Second

// consumer creates the ephemeral, unacknowledged consumer of a scan.
func (s *ActivationStore) consumer(ctx context.Context, filter string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	cfg.FilterSubject = filter
	cfg.AckPolicy = jetstream.AckNonePolicy
	cfg.InactiveThreshold = scanIdle
	cfg.MemoryStorage = true
	cfg.Replicas = 1
	c, err := s.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create a consumer of %s: %w", ActivationsStream, err)
	}
	return c, nil
}

// dropConsumer deletes a scan's consumer, even when ctx has ended; if it
// cannot, the server does after scanIdle.
func (s *ActivationStore) dropConsumer(ctx context.Context, c jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.stream.DeleteConsumer(ctx, c.CachedInfo().Name)
}

// scan reads, in stream order, the messages of filter from where cfg
// starts up to stream sequence to (excluded; 0: to the end), with one
// consumer fetched in batches, not an ordered consumer, which makes a new
// consumer for every fetch.
func (s *ActivationStore) scan(ctx context.Context, filter string, cfg jetstream.ConsumerConfig, to uint64,
	each func(seq uint64, stamp time.Time, h nats.Header, data []byte)) error {
	c, err := s.consumer(ctx, filter, cfg)
	if err != nil {
		return err
	}
	defer s.dropConsumer(ctx, c)
	pending := c.CachedInfo().NumPending
	for pending > 0 {
		msgs, err := hub.FetchNoWait(ctx, c, int(min(pending, scanBatch)))
		if err != nil {
			return fmt.Errorf("read %s: %w", ActivationsStream, err)
		}
		for _, m := range msgs {
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			pending = md.NumPending
			if to > 0 && md.Sequence.Stream >= to {
				pending = 0 // the rest is newer than the span; drain the batch
				continue
			}
			each(md.Sequence.Stream, md.Timestamp, m.Headers(), m.Data())
		}
		if len(msgs) == 0 {
			break
		}
	}
	return nil
}
