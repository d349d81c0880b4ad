package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// EventPublisher puts events on triggers and returns once they are stored.
type EventPublisher interface {
	Publish(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) error
}

// fireTrigger answers POST /namespaces/{ns}/triggers/{name}: 202 with the
// trigger activation's id once the event is stored, or 204 when no rule of
// the trigger is active. A request that is a CloudEvent (binary ce-
// headers, or application/cloudevents+json) is taken as that event,
// keeping its id, source and type; a batch
// (application/cloudevents-batch+json) is taken as its events, answered
// with {"activationIds": [...]}, one per event; any other body is a JSON
// object payload.
func (s *Server) fireTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	if s.cfg.Events == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	body, err := readBody(r, maxBodyBytes)
	if err != nil {
		return err
	}
	batch := strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/cloudevents-batch+json")
	var events []event.Event
	if batch {
		if events, err = batchEvents(body); err != nil {
			return err
		}
	} else {
		ev, err := requestEvent(r, body, n, actions.NewActivationID(), s.now())
		if err != nil {
			return err
		}
		events = []event.Event{ev}
	}
	for i, ev := range events {
		if err := rules.CheckHops(ev); err != nil {
			var hopErr *rules.HopLimitError
			if batch && !errors.As(err, &hopErr) {
				return malformed(fmt.Sprintf("event %d of the batch: CloudEvent extension '%s' must be a non-negative integer", i, rules.HopsExtension))
			}
			return err
		}
	}
	t, _, err := s.cfg.Rules.GetTrigger(ctx, n)
	if err != nil {
		return err
	}
	if !hasActiveRule(t) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	key := ""
	if u, p, ok := r.BasicAuth(); ok { // the caller's key, for __OW_API_KEY of the rules' actions
		key = u + ":" + p
	}
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = actions.NewActivationID()
		if !batch && ev.Type() == rules.PlainFireType {
			ids[i] = ev.ID() // a plain fire's event is named by its activation
		}
		extra := map[string]string{hub.HeaderActivationID: ids[i], hub.HeaderSubject: id.Namespace}
		if key != "" {
			extra[hub.HeaderAPIKey] = key
		}
		if err := s.cfg.Events.Publish(ctx, n.Namespace, n.Name, ev, extra); err != nil {
			return err
		}
	}
	if batch {
		writeJSON(w, http.StatusAccepted, map[string][]string{"activationIds": ids})
		return nil
	}
	w.Header().Set("x-openwhisk-activation-id", ids[0])
	writeJSON(w, http.StatusAccepted, map[string]string{"activationId": ids[0]})
	return nil
}

// maxBatchEvents bounds a batch of CloudEvents in one fire.
const maxBatchEvents = 1000

// batchEvents reads a CloudEvents JSON batch: an array of structured
// events, each checked before any is stored.
func batchEvents(body []byte) ([]event.Event, error) {
	var events []event.Event
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, malformed("not a valid batch of CloudEvents: " + err.Error())
	}
	if len(events) == 0 {
		return nil, malformed("the batch of CloudEvents is empty")
	}
	if len(events) > maxBatchEvents {
		return nil, errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("A batch may hold at most %d CloudEvents, not %d.", maxBatchEvents, len(events)))
	}
	for i, ev := range events {
		if err := checkEvent(ev); err != nil {
			var apiErr *Error
			if errors.As(err, &apiErr) {
				return nil, malformed(fmt.Sprintf("event %d of the batch: %s", i, strings.TrimPrefix(apiErr.Message, msgMalformedStart)))
			}
			return nil, err
		}
	}
	return events, nil
}

func hasActiveRule(t *rules.Trigger) bool {
	for _, l := range t.Rules {
		if l.Status == rules.StatusActive {
			return true
		}
	}
	return false
}

// requestEvent reads the fire request as a CloudEvent.
func requestEvent(r *http.Request, body []byte, n actions.Name, activationID string, now time.Time) (event.Event, error) {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	switch {
	case strings.HasPrefix(ct, "application/cloudevents+json"):
		var ev event.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			return event.Event{}, malformed("not a valid structured CloudEvent: " + err.Error())
		}
		return ev, checkEvent(ev)
	case r.Header.Get("ce-specversion") != "":
		return binaryEvent(r, body)
	}
	var payload map[string]json.RawMessage
	if err := decodeObject(body, &payload); err != nil {
		return event.Event{}, err
	}
	if payload == nil {
		payload = map[string]json.RawMessage{}
	}
	data, _ := json.Marshal(payload)
	ev := event.New()
	ev.SetID(activationID)
	ev.SetSource("/namespaces/" + n.Namespace + "/triggers/" + n.Name)
	ev.SetType(rules.PlainFireType)
	ev.SetTime(now)
	ev.SetDataContentType("application/json")
	if hops := r.Header.Get("ce-" + rules.HopsExtension); hops != "" {
		ev.SetExtension(rules.HopsExtension, hops) // checked by the caller
	}
	ev.DataEncoded = data
	return ev, nil
}

// binaryEvent reads a binary-mode CloudEvent: ce- headers and the body as
// data.
func binaryEvent(r *http.Request, body []byte) (event.Event, error) {
	version := r.Header.Get("ce-specversion")
	if version != event.CloudEventsVersionV1 && version != event.CloudEventsVersionV03 {
		// The SDK's event has no context for other versions: check first.
		return event.Event{}, malformed("CloudEvent attribute 'specversion' must be 1.0, not '" + version + "'")
	}
	ev := event.New(version)
	for k, vs := range r.Header {
		name, ok := strings.CutPrefix(strings.ToLower(k), "ce-")
		if !ok || len(vs) == 0 {
			continue
		}
		v := vs[0]
		switch name {
		case "specversion":
		case "id":
			ev.SetID(v)
		case "source":
			ev.SetSource(v)
		case "type":
			ev.SetType(v)
		case "subject":
			ev.SetSubject(v)
		case "dataschema":
			ev.SetDataSchema(v)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return event.Event{}, malformed("CloudEvent attribute 'time' is not an RFC 3339 time: " + v)
			}
			ev.SetTime(t)
		default:
			ev.SetExtension(name, v)
		}
	}
	if len(body) > 0 {
		ev.SetDataContentType(r.Header.Get("Content-Type"))
		ev.DataEncoded = body
	}
	return ev, checkEvent(ev)
}

func checkEvent(ev event.Event) error {
	if ev.SpecVersion() != event.CloudEventsVersionV1 && ev.SpecVersion() != event.CloudEventsVersionV03 {
		return malformed("CloudEvent attribute 'specversion' must be 1.0")
	}
	if err := ev.Validate(); err != nil {
		return malformed("invalid CloudEvent: " + err.Error())
	}
	return nil
}
