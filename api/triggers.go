package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// triggerSummary is a trigger as lists show it.
type triggerSummary struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Publish     bool              `json:"publish"`
	Annotations actions.KeyValues `json:"annotations"`
	Updated     int64             `json:"updated"`
}

func summarizeTrigger(t rules.Trigger) triggerSummary {
	return triggerSummary{Namespace: t.Namespace, Name: t.Name, Version: t.Version, Publish: t.Publish,
		Annotations: t.Annotations, Updated: t.Updated}
}

// ownName resolves {ns}/{name} of a trigger, rule or package URL that
// only the owner may use: all of triggers and rules, changes to packages.
func ownName(r *http.Request, id *Identity) (actions.Name, error) {
	return owned(r, id, packageName)
}

// owned resolves {ns}/{name} of a URL that only the namespace's owner may
// use, name parsing {name} relative to the namespace (packageName,
// actionName).
func owned(r *http.Request, id *Identity, name func(r *http.Request, ns string) (actions.Name, error)) (actions.Name, error) {
	ns, err := ownNamespace(r, id)
	if err != nil {
		return actions.Name{}, err
	}
	return name(r, ns)
}

// listOwn answers GET of a collection of the caller's own namespace (list
// reads it) as writeList writes it.
func listOwn[T, S any](w http.ResponseWriter, r *http.Request, id *Identity, collection string,
	list func(ctx context.Context, ns string) ([]T, error), summarize func(T) S) error {
	ns, err := ownNamespace(r, id)
	if err != nil {
		return err
	}
	p, err := parseList(r, collection)
	if err != nil {
		return err
	}
	all, err := list(r.Context(), ns)
	if err != nil {
		return err
	}
	return writeList(w, collection, all, p, summarize)
}

// getOwn answers GET of an entity of the caller's own namespace by name
// (get reads it).
func getOwn[T any](w http.ResponseWriter, r *http.Request, id *Identity, get func(context.Context, actions.Name) (*T, uint64, error)) error {
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	v, _, err := get(r.Context(), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request, id *Identity) error {
	return listOwn(w, r, id, "triggers", s.cfg.Rules.ListTriggers, summarizeTrigger)
}

func (s *Server) getTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	return getOwn(w, r, id, s.cfg.Rules.GetTrigger)
}

func (s *Server) putTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	p, err := readPut[rules.Trigger, rules.TriggerPut](s, r, id, s.cfg.Rules.GetTrigger)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Rules.PutTrigger(r.Context(), &p.next, p.rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p.next)
	return nil
}

func (s *Server) deleteTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	t, rev, err := s.cfg.Rules.GetTrigger(r.Context(), n)
	if err != nil {
		return err
	}
	if err := s.cfg.Rules.DeleteTrigger(r.Context(), n, rev); err != nil {
		return err
	}
	s.forgetFeed(r.Context(), t)
	writeJSON(w, http.StatusOK, t)
	return nil
}

// updateTrigger applies change to the trigger named n, retrying when another
// writer got there first.
func (s *Server) updateTrigger(ctx context.Context, n actions.Name, change func(*rules.Trigger)) error {
	for attempt := 0; ; attempt++ {
		t, rev, err := s.cfg.Rules.GetTrigger(ctx, n)
		if err != nil {
			return err
		}
		change(t)
		_, err = s.cfg.Rules.PutTrigger(ctx, t, rev)
		if !errors.Is(err, hub.ErrConflict) || attempt == 10 {
			return err
		}
	}
}
