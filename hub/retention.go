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
	namespaces := map[string][]string{} // the subjects of each
	for subj := range info.State.Subjects {
		if ns, _, ok := ParseEventSubject(subj); ok {
			namespaces[ns] = append(namespaces[ns], subj)
		}
	}
	var purged uint64
	for ns, subjects := range namespaces {
		d, _, err := r.Get(ctx, ns)
		if err != nil {
			return purged, err
		}
		if d >= info.Config.MaxAge && info.Config.MaxAge > 0 {
			continue // the stream's own MaxAge does it
		}
		n, err := r.pruneNamespace(ctx, st, ns, subjects, now.Add(-d), info.State.LastSeq)
		purged += n
		if err != nil {
			return purged, err
		}
	}
	return purged, nil
}

// pruneNamespace purges the events of ns (on subjects) stored before
// cutoff: those below the sequence of its first event at or after cutoff
// or, when there is none, all up to last, unless the last event of one of
// subjects is not before cutoff: then the search missed it, and nothing
// is purged this time.
func (r *EventRetention) pruneNamespace(ctx context.Context, st jetstream.Stream, ns string, subjects []string, cutoff time.Time, last uint64) (uint64, error) {
	subject := eventsPrefix + "." + EncodeToken(ns) + ".>"
	keep, found, err := firstSince(ctx, st, subject, cutoff)
	if err != nil {
		return 0, fmt.Errorf("read the events of %s: %w", ns, err)
	}
	if !found {
		// "None since cutoff" purges them all: a view that missed the
		// recent ones (a store still recovering from a crash, as in a
		// CI run of the crash soak, where three events accepted before
		// the kill were purged before they ran) must not. Each trigger's
		// last event says.
		for _, subj := range subjects {
			m, err := st.GetLastMsgForSubject(ctx, subj)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("read the last event of %s: %w", subj, err)
			}
			if !m.Time.Before(cutoff) {
				r.log.Warn("event retention: the events of a namespace read as all older than its retention, and one is not; none purged this time",
					"namespace", ns, "subject", subj, "before", cutoff, "event_time", m.Time)
				return 0, nil
			}
		}
		keep = last + 1
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
	var n uint64
	if b, a := subjectCount(before), subjectCount(after); b > a { // events arrive meanwhile
		n = b - a
	}
	if n > 0 {
		r.log.Info("events past their namespace's retention purged", "namespace", ns, "before", cutoff, "purged", n)
	}
	return n, nil
}

// firstSince returns the sequence of the first event on subject stored at
// or after cutoff, and whether there is one. A variable for the tests.
var firstSince = func(ctx context.Context, st jetstream.Stream, subject string, cutoff time.Time) (uint64, bool, error) {
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject},
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &cutoff})
	if err != nil {
		return 0, false, err
	}
	batch, err := cons.FetchNoWait(1)
	if err != nil {
		return 0, false, err
	}
	var seq uint64
	found := false
	for msg := range batch.Messages() {
		if meta, err := msg.Metadata(); err == nil {
			seq, found = meta.Sequence.Stream, true
		}
	}
	if err := batch.Error(); err != nil {
		return 0, false, err
	}
	return seq, found, nil
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
