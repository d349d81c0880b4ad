package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
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

// OpenEvents creates or updates the events stream.
func OpenEvents(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       EventsStream,
		Subjects:   []string{eventsPrefix + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     7 * 24 * time.Hour,
		MaxBytes:   1 << 30,
		Discard:    jetstream.DiscardOld,
		Duplicates: dedupWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", EventsStream, err)
	}
	return st, nil
}

// PublishEvent puts e on trigger t of namespace ns in binary mode (the
// CloudEvents attributes as ce- headers, the data as the body) and returns
// once JetStream has stored it. A second event with the same id on the same
// trigger within the dedup window is dropped. extra headers are added.
func PublishEvent(ctx context.Context, js jetstream.JetStream, ns, t string, e event.Event, extra map[string]string) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("invalid event: %w", err)
	}
	if len(e.Data()) > InlineDataLimit {
		e = e.Clone() // the caller's event keeps its data
		if err := offloadData(ctx, js, ns, t, &e); err != nil {
			return err
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
			return fmt.Errorf("event extension %s: %w", k, err)
		}
		m.Header.Set("ce-"+k, s)
	}
	for k, v := range extra {
		m.Header.Set(k, v)
	}
	m.Data = e.Data()
	if _, err := Publish(ctx, js, m, jetstream.WithMsgID(dedupID(ns, t, e))); err != nil {
		return fmt.Errorf("publish event to %s/%s: %w", ns, t, err)
	}
	return nil
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
type Publisher struct{ js jetstream.JetStream }

// NewPublisher returns a publisher on js. The events stream must exist
// (OpenEvents).
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish is PublishEvent.
func (p *Publisher) Publish(ctx context.Context, ns, t string, e event.Event, extra map[string]string) error {
	return PublishEvent(ctx, p.js, ns, t, e, extra)
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
