package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gusthub/gust/hub"
)

// RetentionStore reads and sets how long namespaces' trigger events are
// kept (hub.EventRetention).
type RetentionStore interface {
	Get(ctx context.Context, ns string) (d time.Duration, own bool, err error)
	Set(ctx context.Context, ns string, d time.Duration) error
}

// retentionBody is GET and PUT /namespaces/{ns}/retention's answer.
type retentionBody struct {
	Namespace     string `json:"namespace"` // the namespace's name, also when asked as "_"
	Events        string `json:"events"`    // a Go duration, e.g. "168h0m0s"
	EventsSeconds int64  `json:"eventsSeconds"`
	Default       bool   `json:"default"` // the namespace has no setting of its own
}

// retention answers GET and PUT /namespaces/{ns}/retention: how long the
// namespace's trigger events are kept for replays. A PUT of {"events":
// "72h"} (a duration between hub.MinEventRetention and
// hub.MaxEventRetention, or "" for the default) sets it, for the
// namespace's own key or an admin's.
func (s *Server) retention(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	ns, err := s.readableNamespace(r, id)
	if err != nil {
		return err
	}
	if s.cfg.Retention == nil { // after the namespace: another's answers 404 either way
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	if r.Method == http.MethodPut {
		var req struct {
			Events *string `json:"events"`
		}
		if err := decodeBody(r, maxBodyBytes, &req); err != nil {
			return err
		}
		if req.Events == nil {
			return malformed(`"events" is required: a duration such as "72h", or "" for the default`)
		}
		var d time.Duration
		if v := strings.TrimSpace(*req.Events); v != "" {
			if d, err = time.ParseDuration(v); err != nil || d <= 0 {
				return malformed(fmt.Sprintf(`"events" must be a duration such as "72h", got %q`, v))
			}
		}
		if err := s.cfg.Retention.Set(ctx, ns, d); errors.Is(err, hub.ErrRetentionRange) {
			return errorf(http.StatusBadRequest, err.Error()+".")
		} else if err != nil {
			return err
		}
	}
	d, own, err := s.cfg.Retention.Get(ctx, ns)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, retentionBody{Namespace: ns, Events: d.String(), EventsSeconds: int64(d / time.Second), Default: !own})
	return nil
}
