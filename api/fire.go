package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/throttle"
	"github.com/gusthub/gust/internal/cehttp"
	"github.com/gusthub/gust/rules"
)

// EventPublisher puts events fired through the API on triggers and
// returns once they are stored (hub.Publisher): with the trigger
// activation id to answer, extra[hub.HeaderActivationID] or, for an event
// the trigger already has (the same source and id within its duplicate
// window), the original's.
type EventPublisher interface {
	Fire(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) (activationID string, err error)
}

// fireTrigger answers POST /namespaces/{ns}/triggers/{name}: 202 with the
// trigger activation's id once the event is stored, or 204 when no rule of
// the trigger is active. A request that is a CloudEvent (binary ce-
// headers, or application/cloudevents+json) is taken as that event,
// keeping its id, source and type; a batch
// (application/cloudevents-batch+json) is taken as its events, answered
// with {"activationIds": [...]}, one per event. An event the trigger
// already has (the same source and id within its duplicate window) is
// answered with the original's activation id and runs nothing again. They
// are read as the
// CloudEvents ingress feed reads them (package cehttp). Any other body is
// a JSON object payload.
func (s *Server) fireTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	if s.cfg.Events == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	body, err := readBody(r, actions.MaxPayloadBytes)
	if err != nil {
		return err
	}
	var events []event.Event
	batch := false
	if cehttp.IsCloudEvent(r.Header) {
		evs, mode, err := cehttp.Decode(r.Header, body)
		if err != nil {
			return cloudEventError(err)
		}
		events, batch = evs, mode == cehttp.Batch
	} else {
		ev, err := plainEvent(r, body, n, actions.NewActivationID(), s.now())
		if err != nil {
			return err
		}
		events = []event.Event{ev}
	}
	traceparent := r.Header.Get("traceparent") // W3C trace context, for the events without their own
	for i, ev := range events {
		hub.SetTraceParent(&events[i], traceparent)
		if err := hub.CheckHops(ev); err != nil {
			var hopErr *hub.HopLimitError
			if batch && !errors.As(err, &hopErr) {
				return malformed(fmt.Sprintf("Event %d of the batch: %s", i, hub.BadHopsMessage))
			}
			return err
		}
	}
	t, _, err := s.cfg.Rules.GetTrigger(ctx, n)
	if err != nil {
		return err
	}
	if s.cfg.Throttle != nil { // each event of a batch is a fire
		for range events {
			if err := s.cfg.Throttle.Allow(ctx, throttle.Fires, id.Namespace); err != nil {
				return err
			}
		}
	}
	if !hasActiveRule(t) {
		s.reportUnrouted(n.Namespace, t, events)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	key := ""
	if u, p, ok := r.BasicAuth(); ok { // the caller's key, for __OW_API_KEY of the rules' actions
		key = u + ":" + p
	}
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.ID() // a plain fire's event is named by its activation
		if batch || ev.Type() != hub.PlainFireType {
			ids[i] = actions.NewActivationID()
		}
		extra := map[string]string{hub.HeaderActivationID: ids[i], hub.HeaderSubject: id.Namespace}
		if key != "" {
			extra[hub.HeaderAPIKey] = key
		}
		if ids[i], err = s.cfg.Events.Fire(ctx, n.Namespace, n.Name, ev, extra); err != nil {
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

// cloudEventError is the API's error for what cehttp.Decode found wrong.
func cloudEventError(err error) error {
	var bad *cehttp.Error
	switch {
	case !errors.As(err, &bad):
		return err
	case bad.Status == http.StatusBadRequest:
		return malformed(bad.Message)
	}
	return errorf(bad.Status, bad.Message)
}

// reportUnrouted tells event streams (gust events tail) that the events,
// fired on t, ran nothing because no rule of t is active.
func (s *Server) reportUnrouted(ns string, t *rules.Trigger, events []event.Event) {
	if s.cfg.Outcomes == nil {
		return
	}
	for _, ev := range events {
		if err := s.cfg.Outcomes.Unrouted(ns, t, ev); err != nil {
			s.log.Debug("outcome of an unrouted fire not published", "trigger", ns+"/"+t.Name, "err", err)
		}
	}
}

func hasActiveRule(t *rules.Trigger) bool {
	for _, l := range t.Rules {
		if l.Status == rules.StatusActive {
			return true
		}
	}
	return false
}

// plainEvent is the CloudEvent of an OpenWhisk fire: its JSON object
// payload as data, named by the trigger activation's id.
func plainEvent(r *http.Request, body []byte, n actions.Name, activationID string, now time.Time) (event.Event, error) {
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
	ev.SetType(hub.PlainFireType)
	ev.SetTime(now)
	ev.SetDataContentType("application/json")
	if hops := r.Header.Get("ce-" + hub.HopsExtension); hops != "" {
		ev.SetExtension(hub.HopsExtension, hops) // checked by the caller
	}
	ev.DataEncoded = data
	return ev, nil
}
