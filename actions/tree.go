package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gusthub/gust/hub"
)

// Node kinds of an activation tree.
const (
	NodeTrigger  = "trigger"
	NodeRule     = "rule"
	NodeSequence = "sequence"
	NodeAction   = "action"
)

// Tree bounds: a tree is read record by record, so its size is bounded
// against a sequence of sequences or a crafted record.
const (
	MaxTreeDepth = 16
	MaxTreeNodes = 500
)

// TreeNode is one node of an activation tree: a trigger activation, a rule
// it ran (which has no record of its own: it is a line of the trigger's
// logs), a sequence or an action activation.
type TreeNode struct {
	Kind string `json:"kind"`
	// Name is the entity's path without namespace ("pkg/name"), or the
	// rule's name.
	Name         string `json:"name"`
	ActivationID string `json:"activationId,omitempty"`
	// Status is OpenWhisk's status word; Success is true only for "success".
	Status     string `json:"status,omitempty"`
	Success    bool   `json:"success"`
	StatusCode int    `json:"statusCode"`
	Start      int64  `json:"start,omitempty"`
	End        int64  `json:"end,omitempty"`
	Duration   int64  `json:"duration,omitempty"`
	// Attempt numbers the attempts of a rule whose delivery policy retried
	// it (from 1); zero when there was one.
	Attempt int `json:"attempt,omitempty"`
	// Cold is true for an action activation that started a container;
	// NoContainer for one that ended before it got one (neither cold nor
	// warm).
	Cold        bool `json:"cold,omitempty"`
	NoContainer bool `json:"noContainer,omitempty"`
	// ActionKind is the "kind" annotation of an action (nodejs:20...).
	ActionKind string `json:"actionKind,omitempty"`
	// Action is the action a rule node names.
	Action string `json:"action,omitempty"`
	// Error says why a rule did not activate its action, or why a record
	// could not be read (not stored yet, expired, or beyond the bounds).
	Error string `json:"error,omitempty"`
	// Missing is true for a node without a record: Error says why, and
	// Status is empty.
	Missing  bool        `json:"missing,omitempty"`
	Logs     []string    `json:"logs,omitempty"`
	Children []*TreeNode `json:"children,omitempty"`
}

// RecordGetter reads one activation record; Get of ActivationStore is one.
type RecordGetter func(ctx context.Context, ns, id string) (*Activation, error)

// AttemptIDs gives the activation id of attempt n (from 1) of a rule's
// delivery of a trigger activation (rules.AttemptID): retries under a
// rule's delivery policy are not in the trigger's record, only the first.
type AttemptIDs func(triggerID, rule string, n int) string

// maxAttempts bounds the attempts a tree looks for (rules.MaxRetries is 10).
const maxAttempts = 16

// BuildTree reads the activation id of namespace ns and, recursively, the
// activations it caused, as they are linked in the records: a trigger
// record's log lines name each rule's activation (JSON with "rule",
// "action", "activationId"), and a sequence record's logs are its
// components' activation ids. It returns hub.ErrNotFound when id has no
// record. A child whose record is missing gets a node with Error, so a
// tree can be shown while its activations still run. With attempts, a
// rule whose activation failed also shows the retries of its delivery
// policy, while they exist and fail.
func BuildTree(ctx context.Context, get RecordGetter, attempts AttemptIDs, ns, id string) (*TreeNode, error) {
	a, err := get(ctx, ns, id)
	if err != nil {
		return nil, err
	}
	b := treeBuilder{get: get, attempts: attempts, ns: ns, seen: map[string]bool{id: true}}
	return b.node(ctx, a, 0), nil
}

type treeBuilder struct {
	get      RecordGetter
	attempts AttemptIDs
	ns       string
	nodes    int
	seen     map[string]bool // against a cycle of ids
}

// ruleLine is a trigger record's log line for one rule.
type ruleLine struct {
	StatusCode   int    `json:"statusCode"`
	Success      bool   `json:"success"`
	ActivationID string `json:"activationId"`
	Rule         string `json:"rule"`
	Action       string `json:"action"`
	Error        string `json:"error"`
}

func (b *treeBuilder) node(ctx context.Context, a *Activation, depth int) *TreeNode {
	b.nodes++
	n := &TreeNode{
		Name: a.Path(), ActivationID: a.ActivationID, StatusCode: a.Response.StatusCode,
		Status: StatusName(a.Response.StatusCode), Success: a.Response.StatusCode == StatusSuccess,
		Start: a.Start, End: a.End, Duration: a.Duration, Logs: a.Logs,
	}
	kind, _ := a.Annotations.String("kind")
	switch {
	case kind == KindSequence:
		n.Kind = NodeSequence
		n.Logs = nil // they are the components' ids, shown as children
		for _, cid := range a.Logs {
			if IsActivationID(cid) {
				n.Children = append(n.Children, b.child(ctx, cid, "", depth))
			}
		}
	case a.IsTrigger():
		n.Kind = NodeTrigger
		n.Logs = nil // they are the rules' lines, shown as children
		for _, l := range a.Logs {
			var r ruleLine
			if json.Unmarshal([]byte(l), &r) != nil || r.Rule == "" {
				n.Logs = append(n.Logs, l) // a duplicate's note, or an unknown line
				continue
			}
			b.nodes++
			rn := &TreeNode{Kind: NodeRule, Name: r.Rule, Action: r.Action, StatusCode: r.StatusCode,
				Status: StatusName(r.StatusCode), Success: r.Success, Error: r.Error}
			if IsActivationID(r.ActivationID) {
				rn.Children = b.attemptsOf(ctx, a.ActivationID, r, depth+1)
			}
			n.Children = append(n.Children, rn)
		}
	default:
		n.Kind = NodeAction
		n.ActionKind = kind
		n.Cold = a.Annotations.Has("initTime")
		n.NoContainer = a.Annotations.IsTrue(NoContainerAnnotation)
	}
	return n
}

// attemptsOf reads the activation of rule line r of trigger activation
// triggerID and, while it failed, its retries.
func (b *treeBuilder) attemptsOf(ctx context.Context, triggerID string, r ruleLine, depth int) []*TreeNode {
	first := b.child(ctx, r.ActivationID, r.Action, depth)
	out := []*TreeNode{first}
	if b.attempts == nil || b.attempts(triggerID, r.Rule, 1) != r.ActivationID {
		return out // not an id the rule derived: no retries to look for
	}
	last := first
	for n := 2; n <= maxAttempts && !last.Missing && !last.Success && b.nodes < MaxTreeNodes; n++ {
		id := b.attempts(triggerID, r.Rule, n)
		if b.seen[id] {
			break
		}
		a, err := b.get(ctx, b.ns, id)
		if err != nil {
			break // no such retry (yet)
		}
		b.seen[id] = true
		last = b.node(ctx, a, depth)
		last.Attempt = n
		out = append(out, last)
	}
	if len(out) > 1 {
		first.Attempt = 1
	}
	return out
}

// child reads the record id caused by a node at depth, or a node saying
// why it cannot. name names the entity when the record is missing.
func (b *treeBuilder) child(ctx context.Context, id, name string, depth int) *TreeNode {
	missing := func(msg string) *TreeNode {
		b.nodes++
		return &TreeNode{Kind: NodeAction, Name: name, ActivationID: id, Error: msg, Missing: true, StatusCode: StatusInternalError}
	}
	switch {
	case b.seen[id]:
		return missing("The activation appears twice in this tree.")
	case depth+1 > MaxTreeDepth || b.nodes >= MaxTreeNodes:
		return missing(fmt.Sprintf("The tree is cut here: at most %d levels and %d nodes are shown.", MaxTreeDepth, MaxTreeNodes))
	}
	b.seen[id] = true
	a, err := b.get(ctx, b.ns, id)
	switch {
	case errors.Is(err, hub.ErrNotFound):
		return missing("The activation has no record: it is still running, or its record expired.")
	case err != nil:
		return missing(fmt.Sprintf("The activation's record could not be read: %v", err))
	}
	return b.node(ctx, a, depth+1)
}
