package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a replayed event: the stored event put on its trigger again,
// to run its rules once more (Publisher.Replay).
const (
	// HeaderReplayOf names the trigger activation of the original event.
	// The rule engine takes an event with it past the duplicate window (on
	// purpose: the event was taken before) and records the new trigger
	// activation with cause and annotation replayOf set to it.
	HeaderReplayOf = "Gust-Replay-Of"
	// HeaderReplayRule, when set, limits the replay to that rule of the
	// trigger.
	HeaderReplayRule = "Gust-Replay-Rule"
)

// ReplayQuery selects the stored events of a trigger to replay.
type ReplayQuery struct {
	Since, Until time.Time // stored at or after Since (zero: the first kept) and before Until (zero: now)
	Rule         string    // only this rule ("" means all the trigger's rules)
	Limit        int       // at most this many events, the oldest first (0: MaxReplay)
	// ActivationID, when set, selects the one event stored as that trigger
	// activation (a replay too: replaying a replay is asked for by name),
	// within Since and Until still.
	ActivationID string
	DryRun       bool // list the events, replay nothing
	// Redirect, if set, is asked about each stored event: a non-nil
	// target sends it elsewhere (a dead letter back to the rule that
	// failed it, RedriveTarget), nil replays it on its own trigger.
	Redirect func(ctx context.Context, ev event.Event) (*ReplayTarget, error)
}

// ReplayTarget is where Redirect sends a stored event instead.
type ReplayTarget struct {
	Namespace, Trigger string
	Event              event.Event // the event to put there
	Rule               string      // the only rule to run, "ns/rule"
	Of                 string      // what the replay is of (HeaderReplayOf), e.g. the failed activation
	// Skip, when set, says why the event is not replayed (listed with it).
	Skip string
	// Omit leaves the event out of the replay, unlisted.
	Omit bool
}

// MaxReplay bounds the events one replay re-delivers.
const MaxReplay = 10000

// Replayed is one stored event selected for a replay.
type Replayed struct {
	// Original is the trigger activation id of the stored event.
	Original string `json:"original"`
	// ActivationID is the new trigger activation's id; empty in a dry run.
	ActivationID string    `json:"activationId,omitempty"`
	EventID      string    `json:"eventId"`
	Source       string    `json:"source"`
	Type         string    `json:"type"`
	Stored       time.Time `json:"stored"`
	Sequence     uint64    `json:"sequence"`
	// Trigger ("ns/name") and Rule are set when the event was sent to
	// another trigger, only to Rule (a redriven dead letter).
	Trigger string `json:"trigger,omitempty"`
	Rule    string `json:"rule,omitempty"`
	// Skipped says why the event was not replayed.
	Skipped string `json:"skipped,omitempty"`
}

// Replay puts the events stored on trigger t of namespace ns in q's time
// range on the trigger again, each under a new trigger activation id that
// newID makes, marked HeaderReplayOf the original's trigger activation (and
// HeaderReplayRule q.Rule). Replays themselves are not replayed again: only
// events that came from a feed or a fire are, unless q.ActivationID names
// one. With q.DryRun it only lists them.
//
// It reads the stream through an ordered consumer that starts at q.Since
// (JetStream's OptStartTime) and filters on the trigger's subject, and
// stops at the trigger's last stored message as of the call, so events
// stored meanwhile (the replays among them) are not read.
func (p *Publisher) Replay(ctx context.Context, ns, t string, q ReplayQuery, newID func() string) ([]Replayed, error) {
	if q.Limit <= 0 || q.Limit > MaxReplay {
		q.Limit = MaxReplay
	}
	if q.Until.IsZero() {
		q.Until = time.Now()
	}
	st, err := p.js.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", EventsStream, err)
	}
	subject := EventSubject(ns, t)
	last, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return []Replayed{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the events of %s/%s: %w", ns, t, err)
	}
	if last.Time.Before(q.Since) {
		return []Replayed{}, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if since := q.Since; !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("read the events of %s/%s: %w", ns, t, err)
	}
	out := []Replayed{}
	for len(out) < q.Limit {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read the events of %s/%s: %w", ns, t, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("event metadata: %w", err)
			}
			seq := meta.Sequence.Stream
			if seq > last.Sequence || !meta.Timestamp.Before(q.Until) {
				return out, nil
			}
			if len(out) >= q.Limit {
				continue // drain the batch
			}
			r, ok, err := p.replayOne(ctx, ns, t, msg, meta, q, newID)
			if err != nil {
				return out, err
			}
			if ok {
				out = append(out, r)
				if q.ActivationID != "" {
					return out, nil
				}
			}
			if seq == last.Sequence {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return out, fmt.Errorf("read the events of %s/%s: %w", ns, t, err)
		}
		if n == 0 { // the trigger's last message went (expired or purged) meanwhile
			return out, nil
		}
	}
	return out, nil
}

// replayOne replays (or, in a dry run, describes) one stored message; it
// reports false for a message that is itself a replay or not an event.
func (p *Publisher) replayOne(ctx context.Context, ns, t string, msg jetstream.Msg, meta *jetstream.MsgMetadata,
	q ReplayQuery, newID func() string) (Replayed, bool, error) {
	h := msg.Headers()
	replay := h.Get(HeaderReplayOf) != ""
	if replay && q.ActivationID == "" {
		return Replayed{}, false, nil
	}
	orig := h.Get(HeaderActivationID)
	if q.ActivationID != "" && orig != "" && orig != q.ActivationID {
		return Replayed{}, false, nil // not decoded: most messages are not the one
	}
	ev, err := DecodeEvent(h, msg.Data())
	if err != nil {
		return Replayed{}, false, nil // the engine dropped it too
	}
	if orig == "" {
		orig = MessageActivationID(ns, t, ev.Source(), ev.ID(), meta.Sequence.Stream, meta.Timestamp)
	}
	if q.ActivationID != "" && orig != q.ActivationID {
		return Replayed{}, false, nil
	}
	r := Replayed{Original: orig, EventID: ev.ID(), Source: ev.Source(), Type: ev.Type(),
		Stored: meta.Timestamp.UTC(), Sequence: meta.Sequence.Stream}
	if q.Redirect != nil {
		to, err := q.Redirect(ctx, ev)
		if err != nil {
			return Replayed{}, false, err
		}
		if to != nil && to.Omit {
			return Replayed{}, false, nil
		}
		if to != nil {
			return p.redirect(ctx, h, r, to, q.DryRun, newID)
		}
	}
	if q.DryRun {
		return r, true, nil
	}
	r.ActivationID = newID()
	m := nats.NewMsg(msg.Subject())
	for k, vs := range h {
		if k == nats.MsgIdHdr || k == nats.ExpectedStreamHdr {
			continue
		}
		m.Header[k] = vs
	}
	// The stored message as it is, data (or its reference) included:
	// offloaded data is read again from the object store by the engine.
	m.Data = msg.Data()
	m.Header.Set(HeaderActivationID, r.ActivationID)
	m.Header.Set(HeaderReplayOf, orig)
	switch {
	case q.Rule != "":
		m.Header.Set(HeaderReplayRule, q.Rule)
	case !replay: // a replay of a replay keeps its rule, if it had one
		m.Header.Del(HeaderReplayRule)
	}
	// A message id of its own: JetStream's duplicate window would drop
	// the original's.
	if _, err := Publish(ctx, p.js, m, jetstream.WithMsgID("replay/"+r.ActivationID)); err != nil {
		return Replayed{}, false, fmt.Errorf("replay event %s on %s/%s: %w", ev.ID(), ns, t, err)
	}
	return r, true, nil
}

// redirect puts the event to.Event on to.Trigger for to.Rule alone, as a
// replay of to.Of, acting for whoever the stored message h acted for.
func (p *Publisher) redirect(ctx context.Context, h nats.Header, r Replayed, to *ReplayTarget, dryRun bool, newID func() string) (Replayed, bool, error) {
	r.Trigger, r.Rule, r.Original = to.Namespace+"/"+to.Trigger, to.Rule, to.Of
	if to.Skip != "" {
		r.Skipped = to.Skip
		return r, true, nil
	}
	if dryRun {
		return r, true, nil
	}
	r.ActivationID = newID()
	extra := map[string]string{HeaderActivationID: r.ActivationID, HeaderReplayOf: to.Of, HeaderReplayRule: to.Rule}
	for _, k := range []string{HeaderSubject, HeaderAPIKey} {
		if v := h.Get(k); v != "" {
			extra[k] = v
		}
	}
	if _, err := publishEvent(ctx, p.js, to.Namespace, to.Trigger, to.Event, extra, "replay/"+r.ActivationID); err != nil {
		return Replayed{}, false, fmt.Errorf("redrive event %s to %s: %w", to.Event.ID(), r.Trigger, err)
	}
	return r, true, nil
}
