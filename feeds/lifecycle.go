package feeds

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// The lifecycle events of OpenWhisk's feed protocol.
const (
	Create  = "CREATE"
	Read    = "READ"
	Update  = "UPDATE"
	Delete  = "DELETE"
	Pause   = "PAUSE"
	Unpause = "UNPAUSE"
)

// Request is one invocation of a feed action, as OpenWhisk's feed protocol
// makes it: the lifecycle event, the trigger and the feed's parameters.
type Request struct {
	Event string
	// Feed is the provider's path, "alarms/alarm".
	Feed string
	// Trigger is the trigger the request is about, its namespace resolved.
	Trigger actions.Name
	// Params are the feed's own parameters.
	Params Params
}

// ParseRequest reads a feed action invocation's parameters. triggerName is
// "/ns/name" or "/_/name", where "_" stands for the namespace of authKey,
// which the caller resolves and checks; authKey is returned as given ("" when
// absent). The other parameters are the feed's.
func ParseRequest(feed string, params map[string]json.RawMessage) (req Request, authKey string, err error) {
	p := Params(params)
	req = Request{Feed: feed, Params: Params{}}
	event, err := p.RequiredString("lifecycleEvent")
	if err != nil {
		return req, "", err
	}
	req.Event = strings.ToUpper(event)
	switch req.Event {
	case Create, Read, Update, Delete, Pause, Unpause:
	default:
		return req, "", Invalid("lifecycleEvent", "must be one of CREATE, READ, UPDATE, DELETE, PAUSE or UNPAUSE, not %q", event)
	}
	trigger, err := p.RequiredString("triggerName")
	if err != nil {
		return req, "", err
	}
	parts := strings.Split(strings.TrimPrefix(trigger, "/"), "/")
	if len(parts) == 1 {
		parts = []string{actions.DefaultNamespace, parts[0]}
	}
	if len(parts) != 2 || actions.CheckName(parts[1]) != nil || (parts[0] != actions.DefaultNamespace && actions.CheckNamespace(parts[0]) != nil) {
		return req, "", Invalid("triggerName", "must be /namespace/trigger, not %q", trigger)
	}
	req.Trigger = actions.Name{Namespace: parts[0], Name: parts[1]}
	if authKey, _, err = p.String("authKey"); err != nil {
		return req, "", err
	}
	for k, v := range p {
		switch k {
		case "lifecycleEvent", "triggerName", "authKey":
		default:
			req.Params[k] = v
		}
	}
	return req, authKey, nil
}

// Lifecycle carries out a feed action invocation and returns its result:
// for CREATE, READ, UPDATE, PAUSE and UNPAUSE the feed's
// {"config": {...}, "status": {...}} as OpenWhisk's feeds answer READ; for
// DELETE an empty object. Invalid parameters are *ParamError (400); a
// missing trigger or instance is a *RequestError with status 404, and
// CREATE of a trigger that has a feed 409. A failed CREATE leaves nothing.
func (m *Manager) Lifecycle(ctx context.Context, req Request) (map[string]any, error) {
	p, ok := m.reg.Lookup(req.Feed)
	if !ok {
		return nil, Reject(http.StatusNotFound, "There is no feed /%s/%s.", actions.SystemNamespace, req.Feed)
	}
	key := hub.Key(req.Trigger.Namespace, req.Trigger.Name)
	switch req.Event {
	case Create:
		return m.create(ctx, p, key, req)
	case Delete:
		in, rev, err := m.instance(ctx, key, req)
		if err != nil {
			return nil, err
		}
		if err := m.unregister(ctx, p, &in); err != nil {
			return nil, err
		}
		if err := m.st.instances.Delete(ctx, key, rev); err != nil {
			return nil, err
		}
		m.st.forget(ctx, key)
		m.log.Info("feed deleted", "feed", in.Feed, "trigger", req.Trigger.String())
		return map[string]any{}, nil
	}
	in, rev, err := m.instance(ctx, key, req)
	if err != nil {
		return nil, err
	}
	if req.Event == Read {
		return m.describe(ctx, p, key, &in, nil), nil
	}
	switch req.Event {
	case Update:
		merged := in.Params.Clone()
		for k, v := range req.Params {
			merged[k] = v
		}
		next := in
		next.Params = merged
		f, err := m.validate(p, &next)
		if err != nil {
			return nil, err
		}
		if rr, ok := f.(Reregistrar); ok {
			prev, err := newFeed(p, m.config(&in, p))
			if err != nil {
				prev = nil
			}
			if err := rr.Reregister(ctx, prev, next.Params); err != nil {
				return nil, err
			}
		}
		in, in.Done = next, false
	case Pause:
		in.Paused = true
	case Unpause:
		in.Paused = false
	}
	in.Updated = m.now().UnixMilli()
	if _, err := m.st.instances.Update(ctx, key, in, rev); err != nil {
		if req.Event == Update {
			// The upstream may already follow the update: say so, the
			// next UPDATE or DELETE sets it straight.
			m.log.Warn("feed update not stored after its upstream changed", "feed", in.Feed, "trigger", req.Trigger.String(), "err", err)
		}
		return nil, err
	}
	m.log.Info("feed changed", "feed", in.Feed, "trigger", req.Trigger.String(), "event", req.Event)
	return m.describe(ctx, p, key, &in, nil), nil
}

// instance reads the instance of req's trigger, which must be of req's
// feed.
func (m *Manager) instance(ctx context.Context, key string, req Request) (Instance, uint64, error) {
	in, rev, err := m.st.instances.Get(ctx, key)
	if errors.Is(err, hub.ErrNotFound) {
		return in, 0, Reject(http.StatusNotFound, "Trigger %s has no feed.", req.Trigger.String())
	}
	if err != nil {
		return in, 0, err
	}
	if in.Feed != req.Feed {
		return in, 0, Reject(http.StatusConflict, "Trigger %s is fed by /%s/%s, not /%s/%s.",
			req.Trigger.String(), actions.SystemNamespace, in.Feed, actions.SystemNamespace, req.Feed)
	}
	return in, rev, nil
}

func (m *Manager) create(ctx context.Context, p Provider, key string, req Request) (map[string]any, error) {
	if _, _, err := m.opts.Triggers.TriggerRules(ctx, req.Trigger); err != nil {
		if errors.Is(err, hub.ErrNotFound) {
			return nil, Reject(http.StatusNotFound, "Trigger %s does not exist: create it before its feed.", req.Trigger.String())
		}
		return nil, err
	}
	now := m.now().UnixMilli()
	in := Instance{Namespace: req.Trigger.Namespace, Trigger: req.Trigger.Name, Feed: p.Path(),
		Params: req.Params.Clone(), Created: now, Updated: now}
	f, err := m.validate(p, &in)
	if err != nil {
		return nil, err
	}
	if _, _, err := m.st.instances.Get(ctx, key); err == nil {
		return nil, Reject(http.StatusConflict, "Trigger %s already has a feed: delete it first, or UPDATE it.", req.Trigger.String())
	}
	reg, registers := f.(Registrar)
	if registers {
		if err := reg.Register(ctx, in.Params); err != nil {
			return nil, err
		}
	}
	m.st.forget(ctx, key) // a run state left from an earlier instance of the trigger
	if _, err := m.st.instances.Create(ctx, key, in); err != nil {
		if registers {
			// Nothing is stored: take the registration back.
			if err := m.unregister(context.WithoutCancel(ctx), p, &in); err != nil {
				m.log.Warn("feed unregister after a failed create", "feed", in.Feed, "trigger", req.Trigger.String(), "err", err)
			}
		}
		if errors.Is(err, hub.ErrExists) {
			return nil, Reject(http.StatusConflict, "Trigger %s already has a feed: delete it first, or UPDATE it.", req.Trigger.String())
		}
		return nil, err
	}
	m.log.Info("feed created", "feed", in.Feed, "trigger", req.Trigger.String())
	generated := map[string]bool{}
	for k := range in.Params {
		if _, given := req.Params[k]; !given {
			generated[k] = true
		}
	}
	return m.describe(ctx, p, key, &in, generated), nil
}

// validate builds the instance's feed to check its parameters, and runs
// its Validate when it has one; New may add generated ones to in.Params.
func (m *Manager) validate(p Provider, in *Instance) (Source, error) {
	cfg := m.config(in, p)
	f, err := newFeed(p, cfg)
	if err != nil {
		return nil, err
	}
	if v, ok := f.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	in.Params = cfg.Params
	return f, nil
}

// unregister undoes the upstream registration of a Registrar instance.
func (m *Manager) unregister(ctx context.Context, p Provider, in *Instance) error {
	f, err := newFeed(p, m.config(in, p))
	if err != nil {
		return nil // a configuration that no longer builds registered nothing usable
	}
	if reg, ok := f.(Registrar); ok {
		return reg.Unregister(ctx)
	}
	return nil
}

// Masked is how a secret parameter reads back.
const Masked = "********"

// describe is the {"config", "status"} answer for an instance. Secret
// parameters are masked, except those in shown (generated at CREATE, shown
// once).
func (m *Manager) describe(ctx context.Context, p Provider, key string, in *Instance, shown map[string]bool) map[string]any {
	config := map[string]any{}
	for k, v := range in.Params {
		var x any
		if json.Unmarshal(v, &x) == nil {
			config[k] = x
		}
	}
	for _, prm := range p.Params {
		if _, ok := config[prm.Name]; ok && prm.Secret && !shown[prm.Name] {
			config[prm.Name] = Masked
		}
	}
	config["feed"] = "/" + actions.SystemNamespace + "/" + p.Path()
	config["triggerName"] = in.TriggerName().String()
	if f, err := newFeed(p, m.config(in, p)); err == nil {
		if _, ok := f.(Receiver); ok {
			config["url"] = m.URL(in.TriggerName())
		}
	}

	run, _, _ := m.st.runs.Get(ctx, key)
	if recv, _, err := m.st.runs.Get(ctx, key+receivedSuffix); err == nil && recv.LastEvent > run.LastEvent {
		run.LastEvent = recv.LastEvent
	}
	status := map[string]any{"active": !in.Paused && !in.Done}
	changed := in.Updated
	status["dateChanged"] = changed
	status["dateChangedISO"] = isoMillis(changed)
	switch {
	case in.Paused:
		status["reason"] = map[string]any{"kind": "USER", "message": "paused"}
	case in.Done:
		status["reason"] = map[string]any{"kind": "AUTO", "message": "the feed has fired its last event"}
	}
	status["running"] = run.Running
	if run.Events > 0 {
		status["events"] = run.Events
	}
	if run.LastEvent > 0 {
		status["lastEvent"] = run.LastEvent
		status["lastEventISO"] = isoMillis(run.LastEvent)
	}
	if run.Connected != nil {
		status["connected"] = *run.Connected
	}
	if run.Dropped > 0 {
		status["dropped"] = run.Dropped
	}
	if run.LastError != "" {
		status["lastError"] = run.LastError
		status["lastErrorISO"] = isoMillis(run.LastErrorAt)
	}
	return map[string]any{"config": config, "status": status}
}

func isoMillis(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }

// Forget removes the feed of trigger n, if it has one: the trigger was
// deleted without the feed's DELETE (a plain DELETE of the trigger).
func (m *Manager) Forget(ctx context.Context, n actions.Name) error {
	key := hub.Key(n.Namespace, n.Name)
	if err := m.st.instances.Delete(ctx, key, 0); err != nil && !errors.Is(err, hub.ErrNotFound) {
		return err
	}
	m.st.forget(ctx, key)
	return nil
}

// ParamsAnnotation is the "parameters" annotation of p's feed action:
// OpenWhisk's description of what a package or action takes, the required
// parameters first.
func (p Provider) ParamsAnnotation() []Param {
	out := append([]Param(nil), p.Params...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Required && !out[j].Required })
	return out
}
