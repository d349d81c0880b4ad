package api

import (
	"context"
	"encoding/json"
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
// keeping its id, source and type; any other body is a JSON object payload.
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
	activationID := actions.NewActivationID()
	ev, err := requestEvent(r, body, n, activationID, s.now())
	if err != nil {
		return err
	}
	t, _, err := s.cfg.Rules.GetTrigger(ctx, n)
	if err != nil {
		return err
	}
	if !hasActiveRule(t) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	extra := map[string]string{hub.HeaderActivationID: activationID, hub.HeaderSubject: id.Namespace}
	if err := s.cfg.Events.Publish(ctx, n.Namespace, n.Name, ev, extra); err != nil {
		return err
	}
	w.Header().Set("x-openwhisk-activation-id", activationID)
	writeJSON(w, http.StatusAccepted, map[string]string{"activationId": activationID})
	return nil
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
	case strings.HasPrefix(ct, "application/cloudevents-batch+json"):
		return event.Event{}, errorf(http.StatusUnsupportedMediaType, "Batches of CloudEvents are not accepted on trigger fire yet; send the events one by one.")
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
	ev.DataEncoded = data
	return ev, nil
}

// binaryEvent reads a binary-mode CloudEvent: ce- headers and the body as
// data.
func binaryEvent(r *http.Request, body []byte) (event.Event, error) {
	ev := event.New(r.Header.Get("ce-specversion"))
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
