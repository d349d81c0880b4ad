package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gusthub/gust/invoker"
)

// WarmPool tells which warm containers the invokers keep for a namespace;
// invoker.PoolView is one.
type WarmPool interface {
	Containers(ctx context.Context, ns string) ([]invoker.ContainerInfo, error)
}

// getPool answers GET /namespaces/{ns}/pool, a Gust extension: the warm
// containers the invokers keep for the caller's own namespace, by action,
// as {"containers": [...]}. Another namespace is 403; with no invoker to
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
	case errors.Is(err, invoker.ErrNoInvoker):
		return errorf(http.StatusServiceUnavailable, msgNoInvoker)
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"containers": cs})
	return nil
}

const msgNoInvoker = "No invoker answered; try again later."
