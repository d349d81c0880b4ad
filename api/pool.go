package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/hub"
)

// InvokerPools asks the invokers what their pools hold;
// dispatch.PoolView does.
type InvokerPools interface {
	// Containers tells which warm containers the invokers keep for
	// namespace ns.
	Containers(ctx context.Context, ns string) ([]hub.ContainerInfo, error)
	// Building tells which runtime images the invokers are building now.
	Building(ctx context.Context) ([]string, error)
}

// getRuntimeBuilds answers GET /api/v1/runtimes/building, a Gust
// extension: the runtime kinds whose images an invoker is building, for
// which a first activation waits, as {"building": ["python:3"]}. Any
// valid key may ask; with no invoker to ask, 503.
func (s *Server) getRuntimeBuilds(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	if s.cfg.Pool == nil {
		return errorf(http.StatusServiceUnavailable, msgNoInvoker)
	}
	kinds, err := s.cfg.Pool.Building(r.Context())
	switch {
	case errors.Is(err, dispatch.ErrNoInvoker):
		return errorf(http.StatusServiceUnavailable, msgNoInvoker)
	case err != nil:
		return err
	}
	if kinds == nil {
		kinds = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"building": kinds})
	return nil
}

// getPool answers GET /namespaces/{ns}/pool, a Gust extension: the warm
// containers the invokers keep for the caller's own namespace, by action,
// as {"containers": [...]}. Another namespace is 404; with no invoker to
// ask, 503.
func (s *Server) getPool(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ns, err := ownNamespace(r, id)
	if err != nil {
		return err
	}
	if s.cfg.Pool == nil {
		return errorf(http.StatusServiceUnavailable, msgNoInvoker)
	}
	cs, err := s.cfg.Pool.Containers(r.Context(), ns)
	switch {
	case errors.Is(err, dispatch.ErrNoInvoker):
		return errorf(http.StatusServiceUnavailable, msgNoInvoker)
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"containers": cs})
	return nil
}

const msgNoInvoker = "No invoker answered; try again later."
