package api

import (
	"context"
	"net/http"

	"github.com/gusthub/gust/hub"
)

// ClusterReporter describes the NATS cluster and the Gust processes on
// it; hub.Hub is one.
type ClusterReporter interface {
	Status(ctx context.Context) hub.ClusterStatus
}

// getCluster answers GET /api/v1/cluster, a Gust extension for the admin
// key only (others get 403, as for PUT /namespaces/{ns}): the cluster's
// nodes, JetStream leaders and replicas, and the processes advertised on
// it with their roles and load (hub.ClusterStatus). What the server could
// not learn is named in its "errors" with 200; without a reporter, 503.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request, id *Identity) error {
	if !id.Admin {
		return errorf(http.StatusForbidden, msgForbidden)
	}
	if s.cfg.Cluster == nil {
		return errorf(http.StatusServiceUnavailable, "This server does not report on its cluster.")
	}
	writeJSON(w, http.StatusOK, s.cfg.Cluster.Status(r.Context()))
	return nil
}
