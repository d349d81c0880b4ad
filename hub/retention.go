package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How long a namespace's trigger events are kept in EventsStream, which
// `gust trigger replay` reads. JetStream bounds a stream's age as a whole
// (MaxAge), not per subject, so the stream keeps events up to
// MaxEventRetention and EventRetention.Prune purges, namespace by
// namespace (a purge by subject gust.events.<ns>.> and sequence), the
// events older than the namespace's setting. Between two prunes a
// namespace keeps its events up to one pruning interval longer. The stream's
// MaxBytes (1 GB) still bounds all namespaces together: when it is full the
// oldest events go first, whatever their namespace's setting.
const (
	DefaultEventRetention = 7 * 24 * time.Hour
	MinEventRetention     = time.Hour
	MaxEventRetention     = 30 * 24 * time.Hour
	// RetentionBucket holds the namespaces' settings, seconds by namespace.
	RetentionBucket = "GUST_EVENT_RETENTION"
)

// ErrRetentionRange is Set's error for a duration out of range.
var ErrRetentionRange = fmt.Errorf("event retention must be between %s and %s", MinEventRetention, MaxEventRetention)

// EventRetention reads, sets and enforces the namespaces' event retention.
type EventRetention struct {
	js  jetstream.JetStream
	log *slog.Logger
	kv  lazyKV
}

// NewEventRetention returns the namespaces' event retention on js.
func NewEventRetention(js jetstream.JetStream, log *slog.Logger) *EventRetention {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &EventRetention{js: js, log: log, kv: lazyKV{js: js, cfg: jetstream.KeyValueConfig{Bucket: RetentionBucket,
		Description: "how long each namespace's trigger events are kept", Storage: jetstream.FileStorage}}}
}

// Get returns namespace ns's event retention; own is false for the
// default.
func (r *EventRetention) Get(ctx context.Context, ns string) (d time.Duration, own bool, err error) {
	kv, err := r.kv.open(ctx)
	if err != nil {
		return 0, false, err
	}
	e, err := kv.Get(ctx, EncodeToken(ns))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return DefaultEventRetention, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the event retention of %s: %w", ns, err)
	}
	s, err := strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		return DefaultEventRetention, false, nil
	}
	return time.Duration(s) * time.Second, true, nil
}

// Set sets namespace ns's event retention (whole seconds); 0 restores
// the default.
func (r *EventRetention) Set(ctx context.Context, ns string, d time.Duration) error {
	kv, err := r.kv.open(ctx)
	if err != nil {
		return err
	}
	if d == 0 {
		if err := kv.Delete(ctx, EncodeToken(ns)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("reset the event retention of %s: %w", ns, err)
		}
		return nil
	}
	if d < MinEventRetention || d > MaxEventRetention {
		return ErrRetentionRange
	}
	if _, err := kv.PutString(ctx, EncodeToken(ns), strconv.FormatInt(int64(d/time.Second), 10)); err != nil {
		return fmt.Errorf("set the event retention of %s: %w", ns, err)
	}
	return nil
}

// Prune purges, for each namespace that has events, those stored before
// now minus its retention, and returns how many it purged.
func (r *EventRetention) Prune(ctx context.Context, now time.Time) (uint64, error) {
	st, err := r.js.Stream(ctx, EventsStream)
	if err != nil {
		return 0, fmt.Errorf("open stream %s: %w", EventsStream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(eventsPrefix+".>"))
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", EventsStream, err)
	}
	namespaces := map[string]bool{}
	for subj := range info.State.Subjects {
		if ns, _, ok := ParseEventSubject(subj); ok {
			namespaces[ns] = true
		}
	}
	var purged uint64
	for ns := range namespaces {
		d, _, err := r.Get(ctx, ns)
		if err != nil {
			return purged, err
		}
		if d >= info.Config.MaxAge && info.Config.MaxAge > 0 {
			continue // the stream's own MaxAge does it
		}
		n, err := r.pruneNamespace(ctx, st, ns, now.Add(-d), info.State.LastSeq)
		purged += n
		if err != nil {
			return purged, err
		}
	}
	return purged, nil
}

// pruneNamespace purges the events of ns stored before cutoff: those
// below the sequence of its first event at or after cutoff or, when there
// is none, all up to last.
func (r *EventRetention) pruneNamespace(ctx context.Context, st jetstream.Stream, ns string, cutoff time.Time, last uint64) (uint64, error) {
	subject := eventsPrefix + "." + EncodeToken(ns) + ".>"
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject},
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &cutoff})
	if err != nil {
		return 0, fmt.Errorf("read the events of %s: %w", ns, err)
	}
	keep := last + 1
	batch, err := cons.FetchNoWait(1)
	if err != nil {
		return 0, fmt.Errorf("read the events of %s: %w", ns, err)
	}
	for msg := range batch.Messages() {
		if meta, err := msg.Metadata(); err == nil {
			keep = meta.Sequence.Stream
		}
	}
	if err := batch.Error(); err != nil {
		return 0, fmt.Errorf("read the events of %s: %w", ns, err)
	}
	before, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, err
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(keep)); err != nil {
		return 0, fmt.Errorf("purge the events of %s before %s: %w", ns, cutoff.Format(time.RFC3339), err)
	}
	after, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, err
	}
	n := subjectCount(before) - subjectCount(after)
	if n > 0 {
		r.log.Info("events past their namespace's retention purged", "namespace", ns, "before", cutoff, "purged", n)
	}
	return n, nil
}

func subjectCount(info *jetstream.StreamInfo) uint64 {
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// Run prunes every interval until ctx ends.
func (r *EventRetention) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Prune(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Warn("event retention not enforced this time", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
