package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// EventReplayer puts stored events of a trigger on it again
// (hub.Publisher.Replay).
type EventReplayer interface {
	Replay(ctx context.Context, ns, trigger string, q hub.ReplayQuery, newID func() string) ([]hub.Replayed, error)
}

// replayRequest is the body of POST .../triggers/{name}/replay. Since and
// Until are RFC 3339 times or Go durations before now ("1h", "90m"); no
// Since means every event the stream still holds (the namespace's
// retention). ActivationID selects one event instead, by its trigger
// activation id (the event's id on the stream).
type replayRequest struct {
	ActivationID string `json:"activationId"`
	Since        string `json:"since"`
	Until        string `json:"until"`
	Rule         string `json:"rule"`
	DryRun       bool   `json:"dryRun"`
	Limit        int    `json:"limit"`
}

// replayTrigger answers POST /namespaces/{ns}/triggers/{name}/replay: the
// trigger's events stored in [since, until) are put on it again, each
// under a new trigger activation whose cause is the original's, and run
// its rules (or only rule) once more; the answer lists them
// ({"replayed": [...]}). With dryRun nothing is put, the list says what
// would be. Dead letters (rules.DeadLetterType events, on a rule's
// dead-letter trigger) are redriven instead: the event that failed goes
// back to the rule that failed it (redriveTarget).
func (s *Server) replayTrigger(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	n, err := ownName(r, id) // another namespace is 404 whatever this Gust can do
	if err != nil {
		return err
	}
	if s.cfg.Replayer == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	body, err := readBody(r, 64<<10)
	if err != nil {
		return err
	}
	var req replayRequest
	if err := decodeObject(body, &req); err != nil {
		return err
	}
	now := s.now()
	q := hub.ReplayQuery{DryRun: req.DryRun, Limit: req.Limit}
	if q.Since, err = replayTime("since", req.Since, now); err != nil {
		return err
	}
	if q.Until, err = replayTime("until", req.Until, now); err != nil {
		return err
	}
	if !q.Until.IsZero() && !q.Until.After(q.Since) {
		return malformed(fmt.Sprintf(`"until" (%s) must be after "since" (%s)`, q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339)))
	}
	if req.Limit < 0 || req.Limit > hub.MaxReplay {
		return malformed(fmt.Sprintf(`"limit" must be between 1 and %d (0 or absent: %d)`, hub.MaxReplay, hub.MaxReplay))
	}
	t, _, err := s.cfg.Rules.GetTrigger(ctx, n)
	if err != nil {
		return err
	}
	if req.ActivationID != "" {
		if q, err = s.replayOneQuery(ctx, n, req, q); err != nil {
			return err
		}
	}
	ownRule := true
	if req.Rule != "" {
		// The trigger names its rules "ns/rule"; a rule of the trigger's
		// namespace may be given by its name alone. A rule of another
		// trigger selects the dead letters of that rule.
		q.Rule = strings.TrimPrefix(req.Rule, "/")
		if !strings.Contains(q.Rule, "/") {
			q.Rule = n.Namespace + "/" + q.Rule
		}
		if _, ownRule = t.Rules[q.Rule]; !ownRule && !s.ruleExists(ctx, q.Rule) {
			return errorf(http.StatusNotFound, fmt.Sprintf("Rule '%s' is not a rule of trigger '%s'.", req.Rule, n.Name))
		}
	}
	q.Redirect = func(ctx context.Context, ev event.Event) (*hub.ReplayTarget, error) {
		if ev.Type() != rules.DeadLetterType {
			if !ownRule {
				return &hub.ReplayTarget{Omit: true}, nil
			}
			return nil, nil
		}
		return s.redriveTarget(ctx, ev, q.Rule)
	}
	out, err := s.cfg.Replayer.Replay(ctx, n.Namespace, n.Name, q, actions.NewActivationID)
	if err != nil && req.DryRun && hub.Unavailable(err) {
		return errorf(http.StatusServiceUnavailable, msgUnreadable) // a dry run only reads
	}
	if err != nil {
		return err
	}
	if q.ActivationID != "" && len(out) == 0 {
		return noEvent(req.ActivationID, n.Name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"replayed": out, "dryRun": req.DryRun})
	return nil
}

// replayOneQuery narrows q to the one event of trigger n stored as trigger
// activation req.ActivationID. The activation's record, when there is one,
// says when the event was stored, so the stream is read from there and
// not from its start; a record of another trigger is 404.
func (s *Server) replayOneQuery(ctx context.Context, n actions.Name, req replayRequest, q hub.ReplayQuery) (hub.ReplayQuery, error) {
	aid := req.ActivationID
	if !actions.IsActivationID(aid) {
		return q, errorf(http.StatusBadRequest, fmt.Sprintf("The activation id is not valid: %s", aid))
	}
	if req.Since != "" || req.Until != "" || req.Limit != 0 {
		return q, malformed(`"activationId" selects one event: give no "since", "until" or "limit" with it`)
	}
	q.ActivationID = aid
	if s.cfg.Activations == nil {
		return q, nil
	}
	a, err := s.cfg.Activations.Get(ctx, n.Namespace, aid)
	switch {
	case errors.Is(err, hub.ErrNotFound):
		return q, nil // an event no rule took has no record; the stream is read whole
	case err != nil:
		return q, err
	case !a.IsTrigger() || a.Name != n.Name:
		return q, noEvent(aid, n.Name)
	}
	// The record's start is the stored time in milliseconds; a little
	// either side costs nothing, the id picks the event.
	stored := time.UnixMilli(a.Start)
	q.Since, q.Until = stored.Add(-time.Second), stored.Add(time.Second)
	return q, nil
}

// noEvent is the 404 of a replay of one event the trigger does not hold.
func noEvent(aid, trigger string) error {
	return errorf(http.StatusNotFound, fmt.Sprintf("Trigger '%s' holds no stored event with activation id %s (it may have expired).", trigger, aid))
}

// replayTime reads a replay bound: an RFC 3339 time, or a positive
// duration that far before now; "" is the zero time.
func replayTime(field, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, malformed(fmt.Sprintf("%q must be a positive duration, got %q", field, v))
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, malformed(fmt.Sprintf("%q is neither a time (RFC 3339, e.g. 2026-12-06T01:00:00Z) nor a duration (e.g. 1h): %q", field, v))
	}
	return t, nil
}

func (s *Server) ruleExists(ctx context.Context, key string) bool {
	ns, name, _ := strings.Cut(key, "/")
	_, _, err := s.cfg.Rules.GetRule(ctx, actions.Name{Namespace: ns, Name: name})
	return err == nil
}

// redriveTarget is where a dead letter is redriven: the event that failed
// goes back to the trigger of the rule that failed it, for that rule alone,
// as a replay of the failed activation (so the new trigger activation's
// cause is the activation that failed last, whose own cause is the
// original event's). only, when set, omits dead letters of other rules.
func (s *Server) redriveTarget(ctx context.Context, ev event.Event, only string) (*hub.ReplayTarget, error) {
	dl, failed, err := rules.ParseDeadLetter(ev)
	if err != nil {
		return &hub.ReplayTarget{Skip: err.Error()}, nil
	}
	if only != "" && dl.Rule != only {
		return &hub.ReplayTarget{Omit: true}, nil
	}
	ns, name, _ := strings.Cut(dl.Rule, "/")
	to := &hub.ReplayTarget{Namespace: ns, Rule: dl.Rule, Of: dl.ActivationID, Event: failed}
	r, _, err := s.cfg.Rules.GetRule(ctx, actions.Name{Namespace: ns, Name: name})
	switch {
	case errors.Is(err, hub.ErrNotFound):
		to.Skip = fmt.Sprintf("Rule '%s' that failed the event does not exist any more.", dl.Rule)
		return to, nil
	case err != nil:
		return nil, err
	}
	tn := r.Trigger.FullName()
	to.Namespace, to.Trigger = tn.Namespace, tn.Name
	return to, nil
}
