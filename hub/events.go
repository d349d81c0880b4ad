package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventsStream is the stream of trigger events: every event put on a
// trigger, from the API or a feed, on subject gust.events.<ns>.<trigger>.
const EventsStream = "GUST_EVENTS"

const eventsPrefix = "gust.events"

// RulesConsumer is the rule engine's durable consumer of EventsStream; its
// ack floor tells how far the engine has handled events.
const RulesConsumer = "rules"

// Headers Gust adds to event messages besides the CloudEvents ones.
const (
	// HeaderActivationID carries the trigger activation id the API already
	// answered with, so the rule engine records the activation under it.
	HeaderActivationID = "Gust-Activation-Id"
	// HeaderSubject names who fired the trigger.
	HeaderSubject = "Gust-Subject"
	// HeaderAPIKey carries the "uuid:key" with which the trigger was fired
	// through the API, so that the actions its rules invoke get it as
	// __OW_API_KEY when they ask for it (annotation provide-api-key), as
	// OpenWhisk invokes them with the trigger owner's credentials. It is
	// stored with the event, in plaintext: the key has to outlive the
	// request (an event may be processed after a restart), Gust keeps only
	// hashes of keys elsewhere, and the JetStream store is Gust's trust
	// boundary, which already holds action parameters and the queued
	// invocations' keys. Nothing copies it into an event's attributes, a
	// record or an outcome.
	HeaderAPIKey = "Gust-Api-Key"
)

// dedupWindow is how long JetStream remembers event ids to drop
// redeliveries of the same upstream event.
const dedupWindow = 10 * time.Minute

// EventSubject is the subject of events of trigger t in namespace ns.
func EventSubject(ns, t string) string { return eventsPrefix + "." + Key(ns, t) }

// ParseEventSubject returns the namespace and trigger of an event subject.
func ParseEventSubject(subject string) (ns, trigger string, ok bool) {
	rest, found := strings.CutPrefix(subject, eventsPrefix+".")
	if !found {
		return "", "", false
	}
	a, b, found := strings.Cut(rest, ".")
	if !found || strings.Contains(b, ".") {
		return "", "", false
	}
	return DecodeToken(a), DecodeToken(b), true
}

// OpenEvents creates or updates the events stream: serve provisions it
// once at start; components bind it (BindEvents).
func OpenEvents(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return OpenStream(ctx, js, eventsConfig())
}

// BindEvents returns the events stream as it is, creating it as OpenEvents
// would only when it does not exist: a component that consumes or
// publishes events never changes the stream's configuration (a test may
// have shortened its duplicate window, an operator its limits).
func BindEvents(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return BindStream(ctx, js, eventsConfig())
}

func eventsConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       EventsStream,
		Subjects:   []string{eventsPrefix + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     MaxEventRetention, // each namespace's own is enforced by EventRetention
		MaxBytes:   1 << 30,
		Discard:    jetstream.DiscardOld,
		Duplicates: dedupWindow,
	}
}

// OpenStream creates stream cfg.Name, or updates it to cfg: how serve
// provisions a stream once at start.
func OpenStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Name, err)
	}
	return st, nil
}

// BindStream returns stream cfg.Name as it is, created with cfg only when
// it does not exist: how a component binds a stream that serve
// provisions once at start.
func BindStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // created meanwhile
			st, err = js.Stream(ctx, cfg.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Name, err)
	}
	return st, nil
}

// PublishEvent puts e on trigger t of namespace ns in binary mode (the
// CloudEvents attributes as ce- headers, the data as the body) and returns
// once JetStream has stored it. A second event with the same id on the same
// trigger within the dedup window is dropped. extra headers are added.
func PublishEvent(ctx context.Context, js jetstream.JetStream, ns, t string, e event.Event, extra map[string]string) error {
	_, err := publishEvent(ctx, js, ns, t, e, extra, "")
	return err
}

// publishEvent is PublishEvent, returning JetStream's acknowledgement: for
// an event dropped as a duplicate, the original's sequence. msgID names
// the message for JetStream's duplicate window; "" names it by the event.
func publishEvent(ctx context.Context, js jetstream.JetStream, ns, t string, e event.Event, extra map[string]string, msgID string) (*jetstream.PubAck, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("invalid event: %w", err)
	}
	if err := CheckAttributes(e); err != nil {
		return nil, err
	}
	if len(e.Data()) > InlineDataLimit {
		e = e.Clone() // the caller's event keeps its data
		if err := offloadData(ctx, js, ns, t, &e); err != nil {
			return nil, err
		}
	}
	m := nats.NewMsg(EventSubject(ns, t))
	m.Header.Set("ce-specversion", e.SpecVersion())
	m.Header.Set("ce-id", e.ID())
	m.Header.Set("ce-source", e.Source())
	m.Header.Set("ce-type", e.Type())
	setIf(m.Header, "ce-subject", e.Subject())
	setIf(m.Header, "ce-dataschema", e.DataSchema())
	if !e.Time().IsZero() {
		m.Header.Set("ce-time", e.Time().UTC().Format(time.RFC3339Nano))
	}
	setIf(m.Header, "Content-Type", e.DataContentType())
	for k, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return nil, fmt.Errorf("event extension %s: %w", k, err)
		}
		m.Header.Set("ce-"+k, s)
	}
	for k, v := range extra {
		m.Header.Set(k, v)
	}
	m.Data = e.Data()
	if msgID == "" {
		msgID = dedupID(ns, t, e)
	}
	ack, err := Publish(ctx, js, m, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("publish event to %s/%s: %w", ns, t, err)
	}
	return ack, nil
}

// MessageActivationID is the trigger activation id of an event stored as
// message seq of the events stream at stored without a
// HeaderActivationID (a feed's event): named by the stored message, not by
// the event alone, so that the same message delivered again gets the same
// id, and an event stored twice (once every window has passed) gets an id
// of its own.
func MessageActivationID(ns, t, source, id string, seq uint64, stored time.Time) string {
	h := sha256.New()
	for _, p := range []string{ns, t, source, id, strconv.FormatUint(seq, 10), strconv.FormatInt(stored.UnixNano(), 10)} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// dedupID names an event for JetStream's duplicate window: CloudEvents
// are unique by source and id together, so two producers that both number
// their events 1, 2, ... do not drop each other's.
func dedupID(ns, t string, e event.Event) string {
	sum := sha256.Sum256([]byte(e.Source() + "\x00" + e.ID()))
	return ns + "/" + t + "/" + hex.EncodeToString(sum[:16])
}

func setIfType(e *event.Event, ct string) {
	if ct != "" {
		e.SetDataContentType(ct)
	}
}

func setIf(h nats.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}

// DecodeEvent reads a CloudEvent from a message PublishEvent wrote.
func DecodeEvent(h nats.Header, data []byte) (event.Event, error) {
	e := event.New(h.Get("ce-specversion"))
	e.SetID(h.Get("ce-id"))
	e.SetSource(h.Get("ce-source"))
	e.SetType(h.Get("ce-type"))
	if v := h.Get("ce-subject"); v != "" {
		e.SetSubject(v)
	}
	if v := h.Get("ce-dataschema"); v != "" {
		e.SetDataSchema(v)
	}
	if v := h.Get("ce-time"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return event.Event{}, fmt.Errorf("event time %q: %w", v, err)
		}
		e.SetTime(t)
	}
	for k := range h {
		name := strings.ToLower(k)
		ext, ok := strings.CutPrefix(name, "ce-")
		if !ok {
			continue
		}
		switch ext {
		case "specversion", "id", "source", "type", "subject", "dataschema", "time":
			continue
		}
		e.SetExtension(ext, h.Get(k))
	}
	if len(data) > 0 || e.Extensions()[DataRefExtension] != nil {
		// An event with offloaded data keeps its type for ResolveData.
		setIfType(&e, h.Get("Content-Type"))
		e.DataEncoded = data
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("invalid event: %w", err)
	}
	return e, nil
}

// Publisher puts events on triggers; it is PublishEvent bound to a
// JetStream context, for components that publish often.
type Publisher struct {
	js jetstream.JetStream

	mu     sync.Mutex
	ids    *EventIDs        // bound on first use, once the rule engine made it
	events jetstream.Stream // bound on first use
}

// NewPublisher returns a publisher on js. The events stream must exist
// (OpenEvents).
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish is PublishEvent.
func (p *Publisher) Publish(ctx context.Context, ns, t string, e event.Event, extra map[string]string) error {
	return PublishEvent(ctx, p.js, ns, t, e, extra)
}

// Fire is Publish for an event fired through the API under the trigger
// activation id extra[HeaderActivationID], which the caller is told. It
// returns the id the caller is to be told: that one, or, for an event the
// trigger already has (the same source and id within a duplicate window),
// the id of the original's trigger activation, since the rule engine runs
// and records nothing for a duplicate. The original's activation is
// recorded when it came through the API too, or ran a rule.
func (p *Publisher) Fire(ctx context.Context, ns, t string, e event.Event, extra map[string]string) (string, error) {
	if e.Type() != PlainFireType { // a plain fire is a new event each time
		ids, err := p.eventIDs(ctx)
		if err != nil {
			return "", err
		}
		if ids != nil {
			owner, ok, err := ids.Owner(ctx, EventKey(ns, t, e.Source(), e.ID()))
			if err != nil {
				return "", err
			}
			if ok {
				return owner, nil
			}
		}
	}
	ack, err := publishEvent(ctx, p.js, ns, t, e, extra, "")
	if err != nil {
		return "", err
	}
	if !ack.Duplicate { // JetStream's own window: the event is stored, not yet taken
		return extra[HeaderActivationID], nil
	}
	return p.storedActivationID(ctx, ns, t, e, ack.Sequence)
}

// eventIDs binds the event ids stream, nil while it does not exist (no
// rule engine has run, so no event has been taken).
func (p *Publisher) eventIDs(ctx context.Context) (*EventIDs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids != nil {
		return p.ids, nil
	}
	st, err := p.js.Stream(ctx, EventIDsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", EventIDsStream, err)
	}
	p.ids = &EventIDs{js: p.js, stream: st}
	return p.ids, nil
}

// storedActivationID is the trigger activation id of the event stored as
// message seq of the events stream.
func (p *Publisher) storedActivationID(ctx context.Context, ns, t string, e event.Event, seq uint64) (string, error) {
	p.mu.Lock()
	if p.events == nil {
		st, err := p.js.Stream(ctx, EventsStream)
		if err != nil {
			p.mu.Unlock()
			return "", fmt.Errorf("open stream %s: %w", EventsStream, err)
		}
		p.events = st
	}
	st := p.events
	p.mu.Unlock()
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return "", fmt.Errorf("read the original of duplicate event %s on %s/%s: %w", e.ID(), ns, t, err)
	}
	if id := m.Header.Get(HeaderActivationID); id != "" {
		return id, nil
	}
	return MessageActivationID(ns, t, e.Source(), e.ID(), seq, m.Time), nil
}

// HandBack returns every message a draining iterator still holds to its
// stream for redelivery, so that after a shutdown another consumer (or the
// restarted one) gets them at once instead of after the ack wait.
func HandBack(it jetstream.MessagesContext) {
	for {
		msg, err := it.Next()
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}
