package api

import (
	"net/http"
	"slices"

	"github.com/gusthub/gust/actions"
)

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request, id *Identity) error {
	writeJSON(w, http.StatusOK, []string{id.Namespace})
	return nil
}

// NamespaceCreated is the answer to PUT /namespaces/{ns}, which only admin
// identities may call: the new namespace and its key.
type NamespaceCreated struct {
	Namespace string `json:"namespace"`
	Auth      string `json:"auth"`
}

func (s *Server) createNamespace(w http.ResponseWriter, r *http.Request, id *Identity) error {
	if !id.Admin {
		return errorf(http.StatusForbidden, msgForbidden)
	}
	ns := r.PathValue("ns")
	if err := actions.CheckNamespace(ns); err != nil || ns == actions.DefaultNamespace {
		return errorf(http.StatusBadRequest, "The namespace contains illegal characters.")
	}
	existing, err := s.cfg.Identities.Namespaces(r.Context())
	if err != nil {
		return err
	}
	if slices.Contains(existing, ns) {
		return errorf(http.StatusConflict, msgExists)
	}
	auth, err := s.cfg.Identities.Create(r.Context(), ns, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NamespaceCreated{Namespace: ns, Auth: auth})
	return nil
}

// Throttles Gust reports; it enforces none yet, so these are OpenWhisk's
// documented defaults.
const (
	invocationsPerMinute  = 120
	concurrentInvocations = 100
	firesPerMinute        = 60
)

// limitsBody is the answer to GET /namespaces/{ns}/limits, in OpenWhisk's
// units: memory and logs in MB (as its MemoryLimit and LogLimit write
// them), timeouts in milliseconds.
func limitsBody() map[string]any {
	return map[string]any{
		"invocationsPerMinute":  invocationsPerMinute,
		"concurrentInvocations": concurrentInvocations,
		"firesPerMinute":        firesPerMinute,
		"minActionMemory":       actions.MinMemoryMB,
		"maxActionMemory":       actions.MaxMemoryMB,
		"minActionLogs":         actions.MinLogsMB,
		"maxActionLogs":         actions.MaxLogsMB,
		"minActionTimeout":      actions.MinTimeoutMS,
		"maxActionTimeout":      actions.MaxTimeoutMS,
		"minActionConcurrency":  actions.MinConcurrency,
		"maxActionConcurrency":  actions.MaxConcurrency,
		"maxParameterSize":      actions.MaxParameterBytes,
		"maxActionInstances":    concurrentInvocations,
	}
}

func (s *Server) limits(w http.ResponseWriter, r *http.Request, id *Identity) error {
	if _, err := ownNamespace(r, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, limitsBody())
	return nil
}
