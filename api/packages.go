package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// packageSummary is a package as lists show it: binding is false or the
// bound package.
type packageSummary struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Publish     bool              `json:"publish"`
	Annotations actions.KeyValues `json:"annotations"`
	Binding     any               `json:"binding"`
	Updated     int64             `json:"updated"`
}

func summarizePackage(p actions.Package) packageSummary {
	s := packageSummary{Namespace: p.Namespace, Name: p.Name, Version: p.Version, Publish: p.Publish,
		Annotations: p.Annotations, Binding: false, Updated: p.Updated}
	if p.Binding != nil {
		s.Binding = p.Binding
	}
	return s
}

// entitySummary is how a package's GET lists its actions and feeds.
type entitySummary struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Annotations actions.KeyValues `json:"annotations"`
}

func packageName(r *http.Request, ns string) (actions.Name, error) {
	name := r.PathValue("name")
	if err := actions.CheckName(name); err != nil {
		return actions.Name{}, err
	}
	return actions.Name{Namespace: ns, Name: name}, nil
}

// visiblePackage returns the package named n if the caller may read it.
func (s *Server) visiblePackage(ctx context.Context, n actions.Name, id *Identity) (*actions.Package, error) {
	p, _, err := s.cfg.Actions.GetPackage(ctx, n)
	if n.Namespace != id.Namespace && (err != nil || !p.Publish) {
		return nil, actions.ErrForbidden
	}
	return p, err
}

func (s *Server) listPackages(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ns, own, err := namespace(r, id)
	if err != nil {
		return err
	}
	p, err := parseList(r, "packages")
	if err != nil {
		return err
	}
	all, err := s.cfg.Actions.ListPackages(r.Context(), ns)
	if err != nil {
		return err
	}
	if !own { // another namespace shows only what it published
		shared := all[:0]
		for _, pkg := range all {
			if pkg.Publish {
				shared = append(shared, pkg)
			}
		}
		all = shared
	}
	return writeList(w, "packages", all, p, summarizePackage)
}

func (s *Server) getPackage(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	ns, _, err := namespace(r, id)
	if err != nil {
		return err
	}
	n, err := packageName(r, ns)
	if err != nil {
		return err
	}
	pkg, err := s.visiblePackage(ctx, n, id)
	if err != nil {
		return err
	}
	src := pkg.FullName()
	if pkg.Binding != nil {
		// As OpenWhisk, a binding shows the bound package's parameters
		// overridden by its own, and the bound package's actions.
		bound, err := s.visiblePackage(ctx, actions.Name{Namespace: pkg.Binding.Namespace, Name: pkg.Binding.Name}, id)
		if err != nil {
			return err
		}
		pkg.Parameters = bound.Parameters.Merge(pkg.Parameters)
		src = bound.FullName()
	}
	acts, err := s.cfg.Actions.ListActions(ctx, src.Namespace, src.Name)
	if err != nil {
		return err
	}
	body := packageWithContents{pkg: *pkg, actions: []entitySummary{}, feeds: []entitySummary{}}
	for _, a := range acts {
		e := entitySummary{Name: a.Name, Version: a.Version, Annotations: a.Annotations}
		if a.Annotations.IsTrue("feed") {
			body.feeds = append(body.feeds, e)
		} else {
			body.actions = append(body.actions, e)
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// packageWithContents is a package's GET body: the package plus its actions
// and feeds.
type packageWithContents struct {
	pkg            actions.Package
	actions, feeds []entitySummary
}

func (p packageWithContents) MarshalJSON() ([]byte, error) {
	return mergeJSON(p.pkg, map[string]any{"actions": p.actions, "feeds": p.feeds})
}

func (s *Server) putPackage(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	p, err := readPut[actions.Package, actions.PackagePut](s, r, id, s.cfg.Actions.GetPackage)
	if err != nil {
		return err
	}
	ns, pkg, rev := p.name.Namespace, p.next, p.rev
	if pkg.Binding != nil {
		target, _, err := s.cfg.Actions.GetPackage(ctx, actions.Name{Namespace: pkg.Binding.Namespace, Name: pkg.Binding.Name})
		switch {
		case errors.Is(err, hub.ErrNotFound) && pkg.Binding.Namespace == ns:
			return actions.Invalidf("Binding references a package that does not exist.")
		case errors.Is(err, hub.ErrNotFound):
			return actions.ErrForbidden
		case err != nil:
			return err
		case target.Namespace != ns && !target.Publish:
			return actions.ErrForbidden
		case target.Binding != nil:
			return actions.Invalidf("Cannot bind to another package binding.")
		}
	}
	if _, err := s.cfg.Actions.PutPackage(ctx, &pkg, rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pkg)
	return nil
}

func (s *Server) deletePackage(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	force, err := queryBool(r, "force")
	if err != nil {
		return err
	}
	pkg, rev, err := s.cfg.Actions.GetPackage(ctx, n)
	if err != nil {
		return err
	}
	if pkg.Binding == nil {
		acts, err := s.cfg.Actions.ListActions(ctx, n.Namespace, n.Name)
		if err != nil {
			return err
		}
		if len(acts) > 0 && !force {
			noun := "entities"
			if len(acts) == 1 {
				noun = "entity"
			}
			return errorf(http.StatusConflict, fmt.Sprintf(
				"Package not empty (contains %d %s). Set force param or delete package contents.", len(acts), noun))
		}
		for _, a := range acts {
			if err := s.cfg.Actions.DeleteAction(ctx, a.FullName(), 0); err != nil && !errors.Is(err, hub.ErrNotFound) {
				return err
			}
		}
	}
	if err := s.cfg.Actions.DeletePackage(ctx, n, rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pkg)
	return nil
}
