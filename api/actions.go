package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// maxActionRestBytes bounds an action PUT body without its code.
const maxActionRestBytes = 4 * maxBodyBytes

// actionName parses the {name...} of an action URL relative to ns: "name" or
// "pkg/name".
func actionName(r *http.Request, ns string) (actions.Name, error) {
	raw := r.PathValue("name")
	if strings.Count(raw, "/") > 1 || strings.HasPrefix(raw, "/") {
		return actions.Name{}, errorf(http.StatusNotFound, msgNotFound)
	}
	return actions.ParseName(raw, ns)
}

// actionSummary is an action as lists show it.
type actionSummary struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Publish     bool              `json:"publish"`
	Annotations actions.KeyValues `json:"annotations"`
	Limits      actions.Limits    `json:"limits"`
	Exec        struct {
		Binary bool `json:"binary"`
	} `json:"exec"`
	Updated int64 `json:"updated"`
}

func summarizeAction(a actions.Action) actionSummary {
	s := actionSummary{Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
		Annotations: a.Annotations, Limits: a.Limits, Updated: a.Updated}
	s.Exec.Binary = a.Exec.Binary
	return s
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request, id *Identity) error {
	list := func(ctx context.Context, ns string) ([]actions.Action, error) {
		return s.cfg.Actions.ListActions(ctx, ns, "")
	}
	return listOwn(w, r, id, "actions", list, summarizeAction)
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ns, _, err := namespace(r, id)
	if err != nil {
		return err
	}
	if raw := r.PathValue("name"); strings.HasSuffix(raw, "/") && strings.Count(raw, "/") == 1 {
		return s.listPackageActions(w, r, id, ns, strings.TrimSuffix(raw, "/"))
	}
	n, err := actionName(r, ns)
	if err != nil {
		return err
	}
	withCode, err := queryBoolDefault(r, "code", true)
	if err != nil {
		return err
	}
	a, err := actions.Resolve(r.Context(), s.cfg.Actions, n, id.Namespace, withCode)
	if err != nil {
		return err
	}
	writeAction(w, a)
	return nil
}

// listPackageActions answers GET /actions/{pkg}/: the actions of a package
// or of the package a binding refers to.
func (s *Server) listPackageActions(w http.ResponseWriter, r *http.Request, id *Identity, ns, pkgName string) error {
	if err := actions.CheckName(pkgName); err != nil {
		return err
	}
	pkg, err := s.visiblePackage(r.Context(), actions.Name{Namespace: ns, Name: pkgName}, id)
	if err != nil {
		return err
	}
	src := pkg.FullName()
	if pkg.Binding != nil {
		bound, err := s.visiblePackage(r.Context(), actions.Name{Namespace: pkg.Binding.Namespace, Name: pkg.Binding.Name}, id)
		if err != nil {
			return err
		}
		src = bound.FullName()
	}
	p, err := parseList(r, "actions")
	if err != nil {
		return err
	}
	all, err := s.cfg.Actions.ListActions(r.Context(), src.Namespace, src.Name)
	if err != nil {
		return err
	}
	return writeList(w, "actions", all, p, summarizeAction)
}

func (s *Server) putAction(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	n, err := owned(r, id, actionName)
	if err != nil {
		return err
	}
	var put actions.ActionPut
	size, err := decodeStream(r, maxActionBodyBytes, &put)
	if err != nil {
		return err
	}
	// Only the code may be large: the rest of the action is stored in one
	// message, which must stay well under NATS's payload limit. Parameters
	// and annotations are bounded on their own (1 MB each) with OpenWhisk's
	// messages; this bounds the rest (image, main, components).
	if rest := int(size) - put.CodeLength(); rest > maxActionRestBytes {
		return errorf(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Request larger than allowed: %d > %d bytes, not counting the code.", rest, maxActionRestBytes))
	}
	overwrite, err := queryBool(r, "overwrite")
	if err != nil {
		return err
	}
	if n.Package != "" {
		pkg, _, err := s.cfg.Actions.GetPackage(ctx, actions.Name{Namespace: n.Namespace, Name: n.Package})
		if err != nil {
			return err
		}
		if pkg.Binding != nil {
			return errorf(http.StatusBadRequest, "Operation not permitted on package binding.")
		}
	}
	current, rev, err := s.cfg.Actions.GetAction(ctx, n, true)
	if current, rev, err = replacing(current, rev, err, overwrite); err != nil {
		return err
	}
	a, err := put.Apply(current, n, s.cfg.Manifest, s.now())
	if err != nil {
		return err
	}
	if a.Exec.Kind == actions.KindSequence {
		if err := s.checkSequence(ctx, n, a.Exec.Components, id); err != nil {
			return err
		}
	}
	if _, err := s.cfg.Actions.PutAction(ctx, &a, rev); err != nil {
		return err
	}
	writeAction(w, &a)
	return nil
}

func (s *Server) deleteAction(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	n, err := owned(r, id, actionName)
	if err != nil {
		return err
	}
	a, rev, err := s.cfg.Actions.GetAction(ctx, n, false)
	if err != nil {
		return err
	}
	if err := s.cfg.Actions.DeleteAction(ctx, n, rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// checkSequence checks that every component of the sequence self exists and
// that the sequence, with nested sequences expanded, neither refers to
// itself nor has more than MaxSequenceLength atomic actions.
func (s *Server) checkSequence(ctx context.Context, self actions.Name, components []string, id *Identity) error {
	atomic := 0
	var walk func(comps []string, depth int) error
	walk = func(comps []string, depth int) error {
		if depth > actions.MaxSequenceLength {
			return actions.Invalidf("Too many actions in the sequence.")
		}
		for _, c := range comps {
			cn, err := actions.ParseName(c, id.Namespace)
			if err != nil {
				return err
			}
			if cn == self {
				return actions.Invalidf("Sequence may not refer to itself.")
			}
			a, err := actions.Resolve(ctx, s.cfg.Actions, cn, id.Namespace, false)
			if errors.Is(err, hub.ErrNotFound) {
				return actions.Invalidf("Sequence component does not exist: %s.", cn)
			}
			if err != nil {
				return err
			}
			if a.FullName() == self {
				return actions.Invalidf("Sequence may not refer to itself.")
			}
			if a.Exec.Kind == actions.KindSequence {
				if err := walk(a.Exec.Components, depth+1); err != nil {
					return err
				}
				continue
			}
			atomic++
			if atomic > actions.MaxSequenceLength {
				return actions.Invalidf("Too many actions in the sequence.")
			}
		}
		return nil
	}
	return walk(components, 0)
}

// writeList answers a list request: {"<collection>": N} with count, else
// the page of items, summarized.
func writeList[T, S any](w http.ResponseWriter, collection string, items []T, p listParams, summarize func(T) S) error {
	if p.count {
		writeJSON(w, http.StatusOK, map[string]int{collection: len(items)})
		return nil
	}
	items = page(items, p)
	out := make([]S, len(items))
	for i, it := range items {
		out[i] = summarize(it)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
