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

// ownName resolves {ns}/{name} of a trigger or rule URL: only the owner
// may see these.
func ownName(r *http.Request, id *Identity) (actions.Name, error) {
	ns, err := ownNamespace(r, id)
	if err != nil {
		return actions.Name{}, err
	}
	name := r.PathValue("name")
	if err := actions.CheckName(name); err != nil {
		return actions.Name{}, err
	}
	return actions.Name{Namespace: ns, Name: name}, nil
}

func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ns, err := ownNamespace(r, id)
	if err != nil {
		return err
	}
	p, err := parseList(r, "triggers")
	if err != nil {
		return err
	}
	all, err := s.cfg.Rules.ListTriggers(r.Context(), ns)
	if err != nil {
		return err
	}
	return writeList(w, "triggers", all, p, summarizeTrigger)
}

func (s *Server) getTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	t, _, err := s.cfg.Rules.GetTrigger(r.Context(), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) putTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	var put rules.TriggerPut
	if err := decodeBody(r, maxBodyBytes, &put); err != nil {
		return err
	}
	overwrite, err := queryBool(r, "overwrite")
	if err != nil {
		return err
	}
	current, rev, err := s.cfg.Rules.GetTrigger(ctx, n)
	if current, rev, err = replacing(current, rev, err, overwrite); err != nil {
		return err
	}
	t, err := put.Apply(current, n, s.now())
	if err != nil {
		return err
	}
	if _, err := s.cfg.Rules.PutTrigger(ctx, &t, rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
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
