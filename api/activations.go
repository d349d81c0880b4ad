package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

// activationNamespace resolves {ns} of an activation URL: activations are
// private to their namespace.
func activationNamespace(r *http.Request, id *Identity) (string, error) {
	return ownNamespace(r, id)
}

func (s *Server) listActivations(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ns, err := activationNamespace(r, id)
	if err != nil {
		return err
	}
	p, err := parseList(r, "activations")
	if err != nil {
		return err
	}
	docs, err := queryBool(r, "docs")
	if err != nil {
		return err
	}
	if docs && p.count {
		return errorf(http.StatusBadRequest, "The parameter 'docs' is not permitted with 'count'.")
	}
	q := actions.Query{Namespace: ns, Skip: p.skip, Limit: p.limit, Docs: docs}
	if name := r.URL.Query().Get("name"); name != "" {
		if _, err := actions.ParseName(name, ns); err != nil || strings.Count(name, "/") > 1 || strings.HasPrefix(name, "/") {
			return errorf(http.StatusBadRequest, "Parameter may be a 'simple' name or 'package-name/simple' name: "+name)
		}
		q.Path = name
	}
	for _, b := range []struct {
		name string
		into *int64
	}{{"since", &q.Since}, {"upto", &q.Upto}} {
		if v := r.URL.Query().Get(b.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return errorf(http.StatusBadRequest, "Parameter is not a valid value for epoch seconds: "+v)
			}
			*b.into = n
		}
	}
	if p.count {
		total, err := s.cfg.Activations.Count(r.Context(), q)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]int{"activations": max(total-p.skip, 0)})
		return nil
	}
	list, _, err := s.cfg.Activations.List(r.Context(), q)
	if err != nil {
		return err
	}
	switch {
	case docs:
		writeJSON(w, http.StatusOK, list)
	default:
		out := make([]actions.Summary, len(list))
		for i := range list {
			out[i] = list[i].Summary()
		}
		writeJSON(w, http.StatusOK, out)
	}
	return nil
}

// activation reads the activation of the URL for the caller.
func (s *Server) activation(r *http.Request, id *Identity) (*actions.Activation, error) {
	ns, err := activationNamespace(r, id)
	if err != nil {
		return nil, err
	}
	aid := r.PathValue("id")
	if !actions.IsActivationID(aid) {
		return nil, errorf(http.StatusBadRequest, fmt.Sprintf("The activation id is not valid: %s", aid))
	}
	return s.cfg.Activations.Get(r.Context(), ns, aid)
}

func (s *Server) getActivation(w http.ResponseWriter, r *http.Request, id *Identity) error {
	a, err := s.activation(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) getActivationLogs(w http.ResponseWriter, r *http.Request, id *Identity) error {
	a, err := s.activation(r, id)
	if err != nil {
		return err
	}
	logs := a.Logs
	if logs == nil {
		logs = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"logs": logs})
	return nil
}

func (s *Server) getActivationResult(w http.ResponseWriter, r *http.Request, id *Identity) error {
	a, err := s.activation(r, id)
	if err != nil {
		return err
	}
	body := map[string]any{
		"status":  actions.StatusName(a.Response.StatusCode),
		"success": a.Response.StatusCode == actions.StatusSuccess,
	}
	if a.Response.Result != nil {
		body["result"] = a.Response.Result
	}
	if a.Response.Size > 0 {
		body["size"] = a.Response.Size
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// getActivationTree answers GET .../activations/{id}/tree: the activation
// and every activation it caused (rules, actions, sequence components),
// recursively, as an actions.TreeNode. It is a Gust extension: OpenWhisk
// has no such route.
func (s *Server) getActivationTree(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ns, err := activationNamespace(r, id)
	if err != nil {
		return err
	}
	aid := r.PathValue("id")
	if !actions.IsActivationID(aid) {
		return errorf(http.StatusBadRequest, fmt.Sprintf("The activation id is not valid: %s", aid))
	}
	t, err := actions.BuildTree(r.Context(), s.cfg.Activations.Get, rules.AttemptID, ns, aid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}
