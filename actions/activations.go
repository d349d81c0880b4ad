package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gusthub/gust/hub"
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

// ActivationStore keeps activation records in a JetStream stream, so that
// every Gust process on the same NATS sees them and they survive restarts.
type ActivationStore struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// ActivationRetention bounds how long and how much of the records are kept.
type ActivationRetention struct {
	MaxAge   time.Duration
	MaxBytes int64
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
	return &ActivationStore{js: js, stream: st}, nil
}

func activationSubject(ns, path, id string) string {
	return activationsPrefix + "." + hub.Key(ns, path, id)
}

// Put records a, after JetStream has stored it.
func (s *ActivationStore) Put(ctx context.Context, a *Activation) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode activation %s: %w", a.ActivationID, err)
	}
	return s.PutEncoded(ctx, a, b)
}

// PutEncoded is Put for a record the caller has encoded already: b is
// json.Marshal(a).
func (s *ActivationStore) PutEncoded(ctx context.Context, a *Activation, b []byte) error {
	if _, err := s.js.Publish(ctx, activationSubject(a.Namespace, a.Path(), a.ActivationID), b,
		jetstream.WithMsgID(a.ActivationID)); err != nil {
		return fmt.Errorf("store activation %s: %w", a.ActivationID, err)
	}
	return nil
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
	var a Activation
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return nil, fmt.Errorf("decode activation %s: %w", id, err)
	}
	return &a, nil
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
