package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// ParamsLoader reads the parameters an activation was invoked with
// (hub.RerunParams), or hub.ErrParamsNotKept.
type ParamsLoader interface {
	Load(ctx context.Context, ns, id string) (json.RawMessage, error)
}

// rerunParams reads the parameters of activation id of ns: from its
// record, else from the ParamsLoader.
func (s *Server) rerunParams(ctx context.Context, ns, id string) (json.RawMessage, error) {
	if p, err := s.cfg.Activations.RerunParams(ctx, ns, id); !errors.Is(err, hub.ErrParamsNotKept) {
		return p, err
	}
	return s.cfg.Params.Load(ctx, ns, id)
}

// rerunActivation answers POST /namespaces/{ns}/activations/{id}/rerun:
// the action of activation id is invoked again, as it is now (code and
// default parameters), with the parameters the activation was invoked
// with, by and for the caller; the new activation's cause and annotation
// rerunOf name the original. ?blocking and ?result answer as an invoke.
// A trigger activation is replayed instead (POST .../triggers/T/replay).
func (s *Server) rerunActivation(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	if _, err := ownNamespace(r, id); err != nil {
		return err
	}
	blocking, resultOnly, err := invokeFlags(r.URL.Query())
	if err != nil {
		return err
	}
	orig, err := s.activation(r, id) // another namespace's activation is 404 whatever this Gust can do
	if err != nil {
		return err
	}
	if s.cfg.Params == nil || s.cfg.Activator == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	path, _ := orig.Annotations.String("path")
	if !orig.Annotations.Has("kind") || path == "" {
		return errorf(http.StatusBadRequest, fmt.Sprintf("Activation %s is a trigger's, not an action's: replay its trigger's events (gust trigger replay %s).",
			orig.ActivationID, orig.Name))
	}
	n, err := actions.ParseName("/"+path, orig.Namespace)
	if err != nil {
		return errorf(http.StatusBadRequest, fmt.Sprintf("Activation %s names no action (path %q).", orig.ActivationID, path))
	}
	params, err := s.rerunParams(ctx, orig.Namespace, orig.ActivationID)
	if errors.Is(err, hub.ErrParamsNotKept) {
		return errorf(http.StatusConflict, fmt.Sprintf("The parameters of activation %s are not kept (they are kept up to %d bytes, as long as the records), so it cannot be run again.",
			orig.ActivationID, hub.RerunParamsLimit))
	}
	if err != nil {
		return err
	}
	a, err := actions.Resolve(ctx, s.cfg.Invocations, n, id.Namespace, false)
	if err != nil {
		return err
	}
	inv := s.newInvocation(r, a, id.Namespace)
	inv.Payload, inv.Cause = params, orig.ActivationID
	inv.Annotations = inv.Annotations.Set("rerunOf", orig.ActivationID)
	if u, p, ok := r.BasicAuth(); ok { // the caller's key: a rerun acts for whoever asks
		inv.APIKey = u + ":" + p
	}
	wait := maxBlockingWait
	if !blocking {
		wait = 0
	}
	return s.answerInvocation(ctx, w, inv, wait, resultOnly)
}
