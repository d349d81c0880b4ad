package rules

import (
	"context"
	"errors"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	triggersBucket = "gust_triggers"
	rulesBucket    = "gust_rules"
)

// Store keeps triggers and rules in JetStream.
type Store struct {
	triggers *hub.Collection[Trigger]
	rules    *hub.Collection[Rule]
}

// OpenStore opens (creating them if needed) the buckets behind a Store.
func OpenStore(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	ts, err := hub.OpenCollection[Trigger](ctx, js, triggersBucket)
	if err != nil {
		return nil, err
	}
	rs, err := hub.OpenCollection[Rule](ctx, js, rulesBucket)
	if err != nil {
		return nil, err
	}
	return &Store{triggers: ts, rules: rs}, nil
}

func key(n actions.Name) string { return hub.Key(n.Namespace, n.Name) }

// GetTrigger returns the trigger named n and its revision, or hub.ErrNotFound.
func (s *Store) GetTrigger(ctx context.Context, n actions.Name) (*Trigger, uint64, error) {
	t, rev, err := s.triggers.Get(ctx, key(n))
	if err != nil {
		return nil, 0, err
	}
	return &t, rev, nil
}

// TriggerRules returns the names of the rules on trigger n (in no order)
// and the trigger's revision, or hub.ErrNotFound.
func (s *Store) TriggerRules(ctx context.Context, n actions.Name) ([]actions.Name, uint64, error) {
	t, rev, err := s.GetTrigger(ctx, n)
	if err != nil {
		return nil, 0, err
	}
	names := make([]actions.Name, 0, len(t.Rules))
	for key := range t.Rules {
		names = append(names, LinkName(key))
	}
	return names, rev, nil
}

// PutTrigger stores t: created when rev is 0 (hub.ErrExists if present),
// else updated if still at rev (hub.ErrConflict otherwise).
func (s *Store) PutTrigger(ctx context.Context, t *Trigger, rev uint64) (uint64, error) {
	if rev == 0 {
		return s.triggers.Create(ctx, key(t.FullName()), *t)
	}
	return s.triggers.Update(ctx, key(t.FullName()), *t, rev)
}

// WatchTriggers delivers every trigger and then every change, until ctx
// ends (see hub.Collection.Watch), for readers that keep triggers in memory.
func (s *Store) WatchTriggers(ctx context.Context) (<-chan hub.Change[Trigger], error) {
	return s.triggers.Watch(ctx, ">")
}

// TriggersRevision is the triggers' latest revision (see
// hub.Collection.Revision).
func (s *Store) TriggersRevision(ctx context.Context) (uint64, error) {
	return s.triggers.Revision(ctx)
}

// DeleteTrigger removes the trigger named n if still at rev (0: any).
func (s *Store) DeleteTrigger(ctx context.Context, n actions.Name, rev uint64) error {
	return s.triggers.Delete(ctx, key(n), rev)
}

// GetRule returns the rule named n, with its status read from its trigger,
// and its revision, or hub.ErrNotFound.
func (s *Store) GetRule(ctx context.Context, n actions.Name) (*Rule, uint64, error) {
	r, rev, err := s.rules.Get(ctx, key(n))
	if err != nil {
		return nil, 0, err
	}
	t, _, err := s.GetTrigger(ctx, r.Trigger.FullName())
	if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return nil, 0, err
	}
	r.Status = StatusOf(t, &r)
	return &r, rev, nil
}

// PutRule stores r: created when rev is 0, else updated if still at rev.
// Its status is not stored: it lives on the trigger.
func (s *Store) PutRule(ctx context.Context, r *Rule, rev uint64) (uint64, error) {
	v := *r
	v.Status = ""
	if rev == 0 {
		return s.rules.Create(ctx, key(r.FullName()), v)
	}
	return s.rules.Update(ctx, key(r.FullName()), v, rev)
}

// DeleteRule removes the rule named n if still at rev (0: any).
func (s *Store) DeleteRule(ctx context.Context, n actions.Name, rev uint64) error {
	return s.rules.Delete(ctx, key(n), rev)
}

// ListTriggers returns the triggers of namespace ns, newest first.
func (s *Store) ListTriggers(ctx context.Context, ns string) ([]Trigger, error) {
	return s.triggers.ListNewest(ctx, hub.EncodeToken(ns)+".*", func(t Trigger) int64 { return t.Updated })
}

// ListRules returns the rules of namespace ns, newest first, each with its
// status read from its trigger.
func (s *Store) ListRules(ctx context.Context, ns string) ([]Rule, error) {
	out, err := s.rules.ListNewest(ctx, hub.EncodeToken(ns)+".*", func(r Rule) int64 { return r.Updated })
	if err != nil {
		return nil, err
	}
	triggers := map[string]*Trigger{}
	for i, r := range out {
		tk := key(r.Trigger.FullName())
		t, seen := triggers[tk]
		if !seen {
			if tv, _, err := s.triggers.Get(ctx, tk); err == nil {
				t = &tv
			}
			triggers[tk] = t
		}
		r.Status = StatusOf(t, &r)
		out[i] = r
	}
	return out, nil
}

// StatusOf is rule r's status as its trigger t records it; inactive when the
// trigger is gone (nil) or does not know the rule.
func StatusOf(t *Trigger, r *Rule) string {
	if t == nil {
		return StatusInactive
	}
	if l, ok := t.Rules[r.LinkKey()]; ok {
		return l.Status
	}
	return StatusInactive
}
