package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub/throttle"
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

// Throttler enforces the namespaces' throttles (*throttle.Throttle).
type Throttler interface {
	Defaults() throttle.Limits
	Limits(ctx context.Context, ns string) (throttle.Limits, error)
	SetLimits(ctx context.Context, ns string, u throttle.Update) (throttle.Limits, error)
	Allow(ctx context.Context, r throttle.Rate, ns string) error
	Admit(ctx context.Context, ns string, slot bool) (held bool, err error)
	Release(ctx context.Context, ns string) error
}

// limitsBody is the answer to GET /namespaces/{ns}/limits, in OpenWhisk's
// units: memory and logs in MB (as its MemoryLimit and LogLimit write
// them), timeouts in milliseconds. A throttle that is not enforced is
// left out.
func limitsBody(l throttle.Limits) map[string]any {
	b := map[string]any{
		"minActionMemory":      actions.MinMemoryMB,
		"maxActionMemory":      actions.MaxMemoryMB,
		"minActionLogs":        actions.MinLogsMB,
		"maxActionLogs":        actions.MaxLogsMB,
		"minActionTimeout":     actions.MinTimeoutMS,
		"maxActionTimeout":     actions.MaxTimeoutMS,
		"minActionConcurrency": actions.MinConcurrency,
		"maxActionConcurrency": actions.MaxConcurrency,
		"maxParameterSize":     actions.MaxParameterBytes,
	}
	for k, v := range map[string]int{
		"invocationsPerMinute":  l.InvocationsPerMinute,
		"concurrentInvocations": l.ConcurrentInvocations,
		"maxActionInstances":    l.ConcurrentInvocations,
		"firesPerMinute":        l.FiresPerMinute,
	} {
		if v > 0 {
			b[k] = v
		}
	}
	return b
}

// defaultLimits are the throttles of a namespace without its own.
func (s *Server) defaultLimits() throttle.Limits {
	if s.cfg.Throttle == nil {
		return throttle.Limits{}
	}
	return s.cfg.Throttle.Defaults()
}

// adminNamespace resolves the {ns} of the URL for an admin: the admin's
// own for "_", else a namespace that has a key (404 otherwise).
func (s *Server) adminNamespace(r *http.Request, id *Identity) (string, error) {
	ns := r.PathValue("ns")
	if ns == actions.DefaultNamespace || ns == id.Namespace {
		return id.Namespace, nil
	}
	if err := actions.CheckNamespace(ns); err != nil {
		return "", errorf(http.StatusNotFound, msgNotFound)
	}
	existing, err := s.cfg.Identities.Namespaces(r.Context())
	if err != nil {
		return "", err
	}
	if !slices.Contains(existing, ns) {
		return "", errorf(http.StatusNotFound, msgNotFound)
	}
	return ns, nil
}

// readableNamespace resolves the {ns} of the URL of a namespace's
// settings: the caller's own, or with an admin key any namespace's.
func (s *Server) readableNamespace(r *http.Request, id *Identity) (string, error) {
	if id.Admin {
		return s.adminNamespace(r, id)
	}
	return ownNamespace(r, id)
}

// limits answers GET /namespaces/{ns}/limits: the caller's own, or with
// an admin key any namespace's.
func (s *Server) limits(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ns, err := s.readableNamespace(r, id)
	if err != nil {
		return err
	}
	var l throttle.Limits
	if s.cfg.Throttle != nil {
		if l, err = s.cfg.Throttle.Limits(r.Context(), ns); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, limitsBody(l))
	return nil
}

// setLimits answers PUT /namespaces/{ns}/limits, which only admin
// identities may call: each throttle of the body (invocationsPerMinute,
// concurrentInvocations, firesPerMinute) is a positive integer that
// replaces the namespace's own limit, or null, which removes it (the
// deployment's default holds again); the others stay, and the answer is
// the namespace's limits. 0 is refused rather than taken for "remove":
// in OpenWhisk a limit of 0 blocks the namespace.
func (s *Server) setLimits(w http.ResponseWriter, r *http.Request, id *Identity) error {
	if !id.Admin {
		return errorf(http.StatusForbidden, msgForbidden)
	}
	if s.cfg.Throttle == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	ns, err := s.adminNamespace(r, id)
	if err != nil {
		return err
	}
	var set map[string]json.RawMessage
	if err := decodeBody(r, maxBodyBytes, &set); err != nil {
		return err
	}
	var u throttle.Update
	for k, v := range set {
		var dst **int
		switch k {
		case "invocationsPerMinute":
			dst = &u.InvocationsPerMinute
		case "concurrentInvocations":
			dst = &u.ConcurrentInvocations
		case "firesPerMinute":
			dst = &u.FiresPerMinute
		default:
			return errorf(http.StatusBadRequest, fmt.Sprintf("The limit '%s' cannot be set: only invocationsPerMinute, concurrentInvocations and firesPerMinute can.", k))
		}
		if string(v) == "null" {
			*dst = new(0) // remove
			continue
		}
		var n int
		if err := json.Unmarshal(v, &n); err != nil || n <= 0 {
			return errorf(http.StatusBadRequest, fmt.Sprintf("The limit '%s' must be a positive integer, or null to remove it.", k))
		}
		*dst = &n
	}
	got, err := s.cfg.Throttle.SetLimits(r.Context(), ns, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, limitsBody(got))
	return nil
}
