package api

import (
	"errors"
	"net/http"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

func (s *Server) listRules(w http.ResponseWriter, r *http.Request, id *Identity) error {
	return listOwn(w, r, id, "rules", s.cfg.Rules.ListRules, func(r rules.Rule) rules.Rule { return r })
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request, id *Identity) error {
	return getOwn(w, r, id, s.cfg.Rules.GetRule)
}

// putRule answers PUT /rules/{name}. Beyond OpenWhisk, a rule may carry a
// filter (rules.Filter) in its annotation "filter", or as the body field
// "filter", which is stored as that annotation; an invalid filter is a 400
// that names the problem. The filter is copied onto the trigger's link so
// that the engine need not read the rule per event. So is its delivery
// policy (rules.Delivery), in the annotation "delivery" or the body field
// "delivery"; its dead-letter trigger must exist in the rule's namespace.
func (s *Server) putRule(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	p, err := readPut[rules.Rule, rules.RulePut](s, r, id, s.cfg.Rules.GetRule)
	if err != nil {
		return err
	}
	n, rule, current, rev := p.name, p.next, p.current, p.rev
	tn := rule.Trigger.FullName()
	if tn.Namespace != n.Namespace {
		return actions.ErrForbidden
	}
	if _, _, err := s.cfg.Rules.GetTrigger(ctx, tn); errors.Is(err, hub.ErrNotFound) {
		return actions.Invalidf("trigger %s does not exist", tn)
	} else if err != nil {
		return err
	}
	if d := rule.Delivery(); d != nil {
		if dl, ok := d.DeadLetterName(); ok {
			if _, _, err := s.cfg.Rules.GetTrigger(ctx, dl); errors.Is(err, hub.ErrNotFound) {
				return actions.Invalidf("The request content was malformed:\n%v: the dead-letter trigger %s does not exist", rules.ErrInvalidDelivery, dl)
			} else if err != nil {
				return err
			}
		}
	}
	an := rule.Action.FullName()
	if _, err := actions.Resolve(ctx, s.cfg.Actions, an, id.Namespace, false); errors.Is(err, hub.ErrNotFound) {
		return actions.Invalidf("action %s does not exist", an)
	} else if err != nil {
		return err
	}
	status := rules.StatusActive
	if current != nil {
		status = current.Status
	}
	if _, err := s.cfg.Rules.PutRule(ctx, &rule, rev); err != nil {
		return err
	}
	if current != nil && current.Trigger != rule.Trigger {
		err := s.updateTrigger(ctx, current.Trigger.FullName(), func(t *rules.Trigger) { delete(t.Rules, rule.LinkKey()) })
		if err != nil && !errors.Is(err, hub.ErrNotFound) {
			return err
		}
	}
	link := rules.LinkOf(&rule, status)
	if err := s.updateTrigger(ctx, tn, func(t *rules.Trigger) {
		if t.Rules == nil {
			t.Rules = map[string]rules.Link{}
		}
		t.Rules[rule.LinkKey()] = link
	}); err != nil {
		return err
	}
	rule.Status = status
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (s *Server) setRuleStatus(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	var put rules.StatusPut
	if err := decodeBody(r, maxBodyBytes, &put); err != nil {
		return err
	}
	if err := put.Check(); err != nil {
		return err
	}
	rule, _, err := s.cfg.Rules.GetRule(ctx, n)
	if err != nil {
		return err
	}
	if rule.Status != put.Status {
		err := s.updateTrigger(ctx, rule.Trigger.FullName(), func(t *rules.Trigger) {
			if t.Rules == nil {
				t.Rules = map[string]rules.Link{}
			}
			t.Rules[rule.LinkKey()] = rules.LinkOf(rule, put.Status)
		})
		if errors.Is(err, hub.ErrNotFound) {
			return errorf(http.StatusNotFound, "Only rules with existing triggers can be activated")
		}
		if err != nil {
			return err
		}
		rule.Status = put.Status
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	n, err := ownName(r, id)
	if err != nil {
		return err
	}
	rule, rev, err := s.cfg.Rules.GetRule(ctx, n)
	if err != nil {
		return err
	}
	err = s.updateTrigger(ctx, rule.Trigger.FullName(), func(t *rules.Trigger) { delete(t.Rules, rule.LinkKey()) })
	if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return err
	}
	if err := s.cfg.Rules.DeleteRule(ctx, n, rev); err != nil {
		return err
	}
	rule.Status = rules.StatusInactive
	writeJSON(w, http.StatusOK, rule)
	return nil
}
