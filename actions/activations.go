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

// putAttempts and putBackoff bound the retries of a record that fails to
// store.
const (
	putAttempts = 5
	putBackoff  = 200 * time.Millisecond
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
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      ActivationsStream,
		Subjects:  []string{activationsPrefix + ".>"},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		MaxAge:    r.MaxAge,
		MaxBytes:  r.MaxBytes,
		Discard:   jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", ActivationsStream, err)
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
	var err error
	for attempt := 1; attempt <= putAttempts; attempt++ {
		if err = s.put(ctx, a, b); err == nil {
			return nil
		}
		if attempt == putAttempts || ctx.Err() != nil {
			break
		}
		s.log.Warn("store activation, retrying", "activation_id", a.ActivationID, "attempt", attempt, "err", err)
		t := time.NewTimer(putBackoff << (attempt - 1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	s.failures.Add(1)
	s.log.Error("activation record lost: it could not be stored", "activation_id", a.ActivationID,
		"bytes", len(b), "attempts", putAttempts, "failures", s.failures.Load(), "err", err)
	return err
}

// putAckWait bounds how long the stored of PutAsync waits for JetStream's
// acknowledgement before it writes the record again, synchronously.
const putAckWait = 10 * time.Second

// PutAsync is PutEncoded without waiting: it hands the record to
// JetStream and returns at once; stored waits for JetStream to have it
// and returns what PutEncoded would. Many records put at once so share
// the round trips to the server (group commit) instead of each waiting for
// its own. b is json.Marshal(a), or nil to have PutAsync encode it. A
// record that is large, or that JetStream refuses or does not
// acknowledge in time, is written by PutEncoded, with its retries, when
// stored is called: the message id and the expected sequence make a
// second write of the same record a no-op.
func (s *ActivationStore) PutAsync(ctx context.Context, a *Activation, b []byte) (stored func(context.Context) error) {
	if b == nil {
		var err error
		if b, err = a.MarshalJSON(); err != nil {
			err = fmt.Errorf("encode activation %s: %w", a.ActivationID, err)
			return func(context.Context) error { return err }
		}
	}
	sync := func(ctx context.Context) error { return s.PutEncoded(ctx, a, b) }
	if len(b) > inlineRecordLimit {
		return sync
	}
	msg := &nats.Msg{Subject: activationSubject(a.Namespace, a.Path(), a.ActivationID), Data: b}
	f, err := s.js.PublishMsgAsync(msg, jetstream.WithMsgID(a.ActivationID), jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil {
		return sync
	}
	return func(ctx context.Context) error {
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			if hub.IsWrongLastSequence(err) {
				return nil // recorded already
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(putAckWait):
		}
		return sync(ctx)
	}
}

// put writes the record once: inline, or whole to the object store and
// without logs and result to the stream.
func (s *ActivationStore) put(ctx context.Context, a *Activation, b []byte) error {
	msg := &nats.Msg{Subject: activationSubject(a.Namespace, a.Path(), a.ActivationID), Data: b, Header: nats.Header{}}
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
	m, err := s.stream.GetLastMsgForSubject(ctx, activationsPrefix+"."+hub.EncodeToken(ns)+".*."+hub.EncodeToken(id))
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

// List returns the activations q selects, newest first, after skipping
// q.Skip of them and at most q.Limit. It also returns how many matched in all.
func (s *ActivationStore) List(ctx context.Context, q Query) ([]Activation, int, error) {
	filter := activationsPrefix + "." + hub.EncodeToken(q.Namespace) + ".*.*"
	if q.Path != "" {
		filter = activationsPrefix + "." + hub.Key(q.Namespace, q.Path) + ".*"
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if q.Since > 0 {
		// Records are written when activations end, which is after they
		// start: starting the scan at Since loses none.
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := time.UnixMilli(q.Since)
		cfg.OptStartTime = &t
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("list activations: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("list activations: %w", err)
	}
	keep := q.Skip + q.Limit // the newest keep records are all that can be returned
	var window []Activation
	inObjects := map[string]bool{} // with Docs: the records whose whole is in the object store
	total := 0
	pending := info.NumPending
	for pending > 0 {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return nil, 0, fmt.Errorf("list activations: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err == nil {
				pending = md.NumPending
			}
			var a Activation
			if json.Unmarshal(m.Data(), &a) != nil {
				continue
			}
			if q.Docs && m.Headers().Get(recordHeader) != "" {
				inObjects[a.ActivationID] = true
			}
			if (q.Since > 0 && a.Start < q.Since) || (q.Upto > 0 && a.Start > q.Upto) {
				continue
			}
			total++
			window = append(window, a)
			if keep > 0 && len(window) > 2*keep+64 {
				window = newest(window, keep)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, 0, fmt.Errorf("list activations: %w", err)
		}
		if n == 0 {
			break
		}
	}
	window = newest(window, keep)
	if q.Skip >= len(window) {
		return []Activation{}, total, nil
	}
	window = window[q.Skip:]
	if q.Limit > 0 && len(window) > q.Limit {
		window = window[:q.Limit]
	}
	if q.Docs {
		for i := range window {
			if !inObjects[window[i].ActivationID] {
				continue
			}
			b, err := s.objects.GetBytes(ctx, window[i].ActivationID)
			if err != nil {
				return nil, 0, fmt.Errorf("read activation %s from %s: %w", window[i].ActivationID, RecordsObjectStore, err)
			}
			if err := json.Unmarshal(b, &window[i]); err != nil {
				return nil, 0, fmt.Errorf("decode activation %s: %w", window[i].ActivationID, err)
			}
		}
	}
	return window, total, nil
}

// newest sorts as newest first and keeps n (all when n is 0).
func newest(as []Activation, n int) []Activation {
	sort.SliceStable(as, func(i, j int) bool { return as[i].Start > as[j].Start })
	if n > 0 && len(as) > n {
		as = as[:n]
	}
	return as
}
