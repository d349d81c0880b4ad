package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
)

// FeedManager runs feed actions and feed receivers (feeds.Manager).
type FeedManager interface {
	Registry() *feeds.Registry
	Lifecycle(ctx context.Context, req feeds.Request) (map[string]any, error)
	Receive(w http.ResponseWriter, r *http.Request, ns, trigger string) error
	Forget(ctx context.Context, n actions.Name) error
}

// ActivationWriter stores activation records the API makes itself: those
// of feed actions, which the API carries out without an invoker.
type ActivationWriter interface {
	Put(ctx context.Context, a *actions.Activation) error
}

// feedOf returns the provider path ("alarms/alarm") when a is a feed action
// this server carries out itself.
func (s *Server) feedOf(a *actions.Action) (string, bool) {
	if s.cfg.Feeds == nil || !a.Annotations.IsTrue("feed") {
		return "", false
	}
	n := a.FullName()
	if n.Namespace != actions.SystemNamespace || n.Package == "" {
		return "", false
	}
	path := n.Package + "/" + n.Name
	_, ok := s.cfg.Feeds.Registry().Lookup(path)
	return path, ok
}

// invokeFeed carries out a feed action invocation (OpenWhisk's feed
// protocol: lifecycleEvent, triggerName, authKey and the feed's
// parameters), records it as an activation of the caller, and answers as
// an invoke does. The trigger must belong to the namespace of authKey (or
// of the caller when there is no authKey).
func (s *Server) invokeFeed(w http.ResponseWriter, r *http.Request, id *Identity, a *actions.Action, feed string,
	payload map[string]json.RawMessage, blocking, resultOnly bool) error {
	ctx := r.Context()
	start := s.now()
	params := a.Parameters.Object() // package and binding defaults, under the request's
	for k, v := range payload {
		params[k] = v
	}
	req, authKey, err := feeds.ParseRequest(feed, params)
	if err != nil {
		return err
	}
	owner := id
	if authKey != "" {
		user, pass, _ := strings.Cut(authKey, ":")
		if owner, err = s.cfg.Identities.Authenticate(ctx, user, pass); err != nil {
			if errors.Is(err, ErrBadCredentials) {
				return errorf(http.StatusUnauthorized, "The feed's authKey is not a valid key.")
			}
			return err
		}
	}
	switch req.Trigger.Namespace {
	case actions.DefaultNamespace:
		req.Trigger.Namespace = owner.Namespace
	case owner.Namespace:
	default:
		return errorf(http.StatusForbidden, msgForbidden)
	}
	result, err := s.cfg.Feeds.Lifecycle(ctx, req)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(result)
	stored, _ := json.Marshal(s.masked(feed, result))
	end := s.now()
	rec := &actions.Activation{
		Namespace: id.Namespace, Name: a.Name, Version: a.Version, Subject: id.Namespace,
		ActivationID: actions.NewActivationID(), Start: start.UnixMilli(), End: end.UnixMilli(),
		Duration: end.Sub(start).Milliseconds(),
		Response: actions.Response{StatusCode: actions.StatusSuccess, Result: stored, Size: len(stored)},
		Annotations: actions.KeyValues{}.
			Set("path", a.Namespace+"/"+a.Name).
			Set("kind", "builtin:feed").
			Set("limits", a.Limits).
			Set("waitTime", 0),
	}
	if s.cfg.Records != nil {
		if err := s.cfg.Records.Put(ctx, rec); err != nil {
			s.log.Warn("record feed activation", "err", err, "activation_id", rec.ActivationID)
		}
	}
	w.Header().Set("x-openwhisk-activation-id", rec.ActivationID)
	switch {
	case !blocking:
		writeJSON(w, http.StatusAccepted, map[string]string{"activationId": rec.ActivationID})
	case resultOnly:
		writeRaw(w, http.StatusOK, body)
	default:
		answer := *rec // the caller sees a generated secret once; the record keeps it masked
		answer.Response.Result, answer.Response.Size = body, len(body)
		writeJSON(w, http.StatusOK, &answer)
	}
	return nil
}

// masked is a feed action's result with the feed's secret parameters
// masked, as its activation record keeps it: a secret generated at CREATE
// is shown once, in the answer.
func (s *Server) masked(feed string, result map[string]any) map[string]any {
	p, ok := s.cfg.Feeds.Registry().Lookup(feed)
	config, isMap := result["config"].(map[string]any)
	if !ok || !isMap {
		return result
	}
	c := make(map[string]any, len(config))
	for k, v := range config {
		c[k] = v
	}
	for _, prm := range p.Params {
		if _, set := c[prm.Name]; set && prm.Secret {
			c[prm.Name] = feeds.Masked
		}
	}
	out := make(map[string]any, len(result))
	for k, v := range result {
		out[k] = v
	}
	out["config"] = c
	return out
}

// receiveFeed answers requests to a feed's ingress URL,
// /api/v1/feeds/{ns}/{trigger}: no namespace key, the feed checks its own
// token or signature.
func (s *Server) receiveFeed(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Feeds == nil {
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, msgOverloaded))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, feeds.MaxReceiveBody)
	if err := s.cfg.Feeds.Receive(w, r, r.PathValue("ns"), r.PathValue("trigger")); err != nil {
		s.writeError(w, r, err)
	}
}

// forgetFeed drops the feed of a trigger deleted without its feed's
// DELETE, so that nothing keeps firing it. The trigger's "feed" annotation
// is not trusted to tell: a feed may have been created with curl.
func (s *Server) forgetFeed(ctx context.Context, t interface{ FullName() actions.Name }) {
	if s.cfg.Feeds == nil {
		return
	}
	if err := s.cfg.Feeds.Forget(ctx, t.FullName()); err != nil {
		s.log.Warn("forget feed of deleted trigger", "trigger", t.FullName().String(), "err", err)
	}
}
