package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gusthub/gust/actions"
)

// Rule statuses.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Ref points at an entity: Path is "ns" or "ns/pkg".
type Ref struct {
	Path string `json:"path"`
	Name string `json:"name"`
}

// RefOf returns the reference to the entity named n.
func RefOf(n actions.Name) Ref { return Ref{Path: n.Path(), Name: n.Name} }

// FullName is the name r points at.
func (r Ref) FullName() actions.Name {
	ns, pkg, _ := strings.Cut(r.Path, "/")
	return actions.Name{Namespace: ns, Package: pkg, Name: r.Name}
}

// String is the fully qualified name with a leading slash.
func (r Ref) String() string { return r.FullName().String() }

// Link is what a trigger keeps of each of its rules: enough to run the
// rule without reading it. Filter is a copy of the rule's filter annotation
// (FilterAnnotation), absent when the rule takes every event; Delivery is
// the rule's delivery policy (DeliveryAnnotation), absent when the rule has
// none.
type Link struct {
	Action   Ref             `json:"action"`
	Status   string          `json:"status"`
	Filter   json.RawMessage `json:"filter,omitempty"`
	Delivery *Delivery       `json:"delivery,omitempty"`
}

// LinkOf is the link of rule r with status.
func LinkOf(r *Rule, status string) Link {
	return Link{Action: r.Action, Status: status, Filter: r.Annotations.Get(FilterAnnotation), Delivery: r.Delivery()}
}

// Trigger is a named stream of events. Its JSON is OpenWhisk's.
type Trigger struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Parameters  actions.KeyValues `json:"parameters"`
	Annotations actions.KeyValues `json:"annotations"`
	Limits      struct{}          `json:"limits"`
	Publish     bool              `json:"publish"`
	Updated     int64             `json:"updated"`
	// Rules maps "ns/rule" to the rule's action and status.
	Rules map[string]Link `json:"rules,omitempty"`
}

// FullName is the trigger's fully qualified name.
func (t *Trigger) FullName() actions.Name { return actions.Name{Namespace: t.Namespace, Name: t.Name} }

// TriggerPut is the body of PUT /triggers/{name}.
type TriggerPut struct {
	Parameters  *actions.KeyValues `json:"parameters"`
	Annotations *actions.KeyValues `json:"annotations"`
	Version     *string            `json:"version"`
	Publish     *bool              `json:"publish"`
}

// Apply builds the trigger a PUT of p makes of current (nil when new) named n.
func (p *TriggerPut) Apply(current *Trigger, n actions.Name, now time.Time) (Trigger, error) {
	var t Trigger
	if current != nil {
		t = *current
		t.Version = actions.BumpVersion(current.Version)
	} else {
		t = Trigger{Version: actions.InitialVersion}
	}
	t.Namespace, t.Name = n.Namespace, n.Name
	if err := actions.PutKeyValues(p.Parameters, p.Annotations, &t.Parameters, &t.Annotations); err != nil {
		return Trigger{}, err
	}
	if _, _, err := t.DedupWindow(); err != nil {
		return Trigger{}, err
	}
	if feed, ok := t.Annotations.String("feed"); ok {
		if _, err := actions.ParseName(feed, n.Namespace); err != nil {
			return Trigger{}, actions.Invalidf("The request content was malformed:\nfeed name '%s' is not valid", feed)
		}
	}
	if p.Publish != nil {
		t.Publish = *p.Publish
	}
	t.Updated = now.UnixMilli()
	return t, nil
}

// Rule maps a trigger to an action. Status is not stored on the rule but
// read from its trigger.
type Rule struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Status      string            `json:"status"`
	Trigger     Ref               `json:"trigger"`
	Action      Ref               `json:"action"`
	Annotations actions.KeyValues `json:"annotations"`
	Publish     bool              `json:"publish"`
	Updated     int64             `json:"updated"`
}

// FullName is the rule's fully qualified name.
func (r *Rule) FullName() actions.Name { return actions.Name{Namespace: r.Namespace, Name: r.Name} }

// LinkKey is the key of r in its trigger's Rules: "ns/name".
func (r *Rule) LinkKey() string { return r.Namespace + "/" + r.Name }

// LinkName is the name of the rule whose LinkKey is key.
func LinkName(key string) actions.Name {
	ns, name, _ := strings.Cut(key, "/")
	return actions.Name{Namespace: ns, Name: name}
}

// RulePut is the body of PUT /rules/{name}. Trigger and action are fully
// qualified names ("/_/t") or {path, name} objects.
type RulePut struct {
	Trigger     *NameOrRef         `json:"trigger"`
	Action      *NameOrRef         `json:"action"`
	Annotations *actions.KeyValues `json:"annotations"`
	Version     *string            `json:"version"`
	Publish     *bool              `json:"publish"`
	Status      string             `json:"status"`
	// Filter, when present, sets the rule's filter annotation
	// (FilterAnnotation); null removes it. It is a convenience: the
	// annotation is the stored form.
	Filter json.RawMessage `json:"filter,omitempty"`
	// Delivery, when present, sets the rule's delivery policy annotation
	// (DeliveryAnnotation); null removes it.
	Delivery json.RawMessage `json:"delivery,omitempty"`
}

// NameOrRef is an entity named by a string or by a {path, name} object.
type NameOrRef struct{ Text string }

// UnmarshalJSON accepts a string or a {path, name} object.
func (n *NameOrRef) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		n.Text = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		n.Text = s
		return nil
	}
	var r Ref
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("expected a fully qualified name or {path, name}")
	}
	n.Text = "/" + r.Path + "/" + r.Name
	return nil
}

// Resolve parses the name relative to namespace ns; ok is false when the
// name was not given.
func (n *NameOrRef) Resolve(ns string) (actions.Name, bool, error) {
	if n == nil || n.Text == "" {
		return actions.Name{}, false, nil
	}
	name, err := actions.ParseName(n.Text, ns)
	return name, true, err
}

// Apply builds the rule a PUT of p makes of current (nil when new) named n,
// with its trigger and action resolved. The caller checks both exist.
func (p *RulePut) Apply(current *Rule, n actions.Name, now time.Time) (Rule, error) {
	var r Rule
	if current != nil {
		r = *current
		r.Version = actions.BumpVersion(current.Version)
	} else {
		r = Rule{Version: actions.InitialVersion}
	}
	r.Namespace, r.Name = n.Namespace, n.Name
	tn, tok, err := p.Trigger.Resolve(n.Namespace)
	if err != nil {
		return Rule{}, err
	}
	an, aok, err := p.Action.Resolve(n.Namespace)
	if err != nil {
		return Rule{}, err
	}
	if current == nil && (!tok || !aok) {
		return Rule{}, actions.Invalidf("rule requires a valid trigger and a valid action")
	}
	if tok {
		if tn.Package != "" {
			return Rule{}, actions.Invalidf("rule requires a valid trigger and a valid action")
		}
		r.Trigger = RefOf(tn)
	}
	if aok {
		r.Action = RefOf(an)
	}
	if p.Annotations != nil {
		if err := p.Annotations.Validate("annotations"); err != nil {
			return Rule{}, err
		}
		r.Annotations = *p.Annotations
	}
	if p.Filter != nil {
		r.Annotations = r.Annotations.Without(FilterAnnotation)
		if string(p.Filter) != "null" {
			r.Annotations = append(r.Annotations, actions.KeyValue{Key: FilterAnnotation, Value: p.Filter})
		}
	}
	if p.Delivery != nil {
		r.Annotations = r.Annotations.Without(DeliveryAnnotation)
		if string(p.Delivery) != "null" {
			r.Annotations = append(r.Annotations, actions.KeyValue{Key: DeliveryAnnotation, Value: p.Delivery})
		}
	}
	if err := normalizeFilter(&r); err != nil {
		return Rule{}, err
	}
	if err := normalizeDelivery(&r); err != nil {
		return Rule{}, err
	}
	if p.Publish != nil {
		r.Publish = *p.Publish
	}
	r.Updated = now.UnixMilli()
	return r, nil
}

// normalizeFilter checks r's filter annotation and stores it as compact
// JSON. A string value is read as the filter's JSON text, for clients that
// can only send string annotations.
func normalizeFilter(r *Rule) error {
	raw := r.Annotations.Get(FilterAnnotation)
	if raw == nil {
		return nil
	}
	if s, ok := r.Annotations.String(FilterAnnotation); ok {
		raw = json.RawMessage(s)
	}
	if _, err := ParseFilter(raw); err != nil {
		return actions.Invalidf("The request content was malformed:\n%v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return actions.Invalidf("The request content was malformed:\n%v: %v", ErrInvalidFilter, err)
	}
	r.Annotations = r.Annotations.Set(FilterAnnotation, json.RawMessage(buf.Bytes()))
	return nil
}

// StatusPut is the body of POST /rules/{name}.
type StatusPut struct {
	Status string `json:"status"`
}

// Check validates the requested status.
func (s StatusPut) Check() error {
	if s.Status != StatusActive && s.Status != StatusInactive {
		return actions.Invalidf("The request content was malformed:\nstatus must be 'active' or 'inactive'")
	}
	return nil
}
