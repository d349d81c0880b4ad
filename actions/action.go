package actions

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// InitialVersion is an entity's version when it is created.
const InitialVersion = "0.0.1"

// Action is a function: code, an image or a sequence, with its parameters,
// annotations and limits. Its JSON is OpenWhisk's.
type Action struct {
	// Namespace is the action's path: "ns" or "ns/pkg".
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Exec        Exec      `json:"exec"`
	Annotations KeyValues `json:"annotations"`
	Parameters  KeyValues `json:"parameters"`
	Limits      Limits    `json:"limits"`
	Publish     bool      `json:"publish"`
	// Updated is the time of the last change, in epoch milliseconds.
	Updated int64 `json:"updated"`
}

// FullName is the action's fully qualified name.
func (a *Action) FullName() Name {
	ns, pkg, _ := strings.Cut(a.Namespace, "/")
	return Name{Namespace: ns, Package: pkg, Name: a.Name}
}

// ActionPut is the body of PUT /actions/{name}. Absent fields keep the
// current action's values on update.
type ActionPut struct {
	Exec           *Exec      `json:"exec"`
	Parameters     *KeyValues `json:"parameters"`
	Annotations    *KeyValues `json:"annotations"`
	Limits         *LimitsPut `json:"limits"`
	Version        *string    `json:"version"`
	Publish        *bool      `json:"publish"`
	DelAnnotations []string   `json:"delAnnotations"`
}

// CodeLength is the length of the code the request carries, 0 when none.
func (p *ActionPut) CodeLength() int {
	if p.Exec == nil {
		return 0
	}
	return len(p.Exec.Code)
}

// Apply builds the action that a PUT of p makes of current (nil when the
// action is new) under name n. It resolves the kind, computes "binary",
// bumps the version and adds the "exec" and "provide-api-key" annotations as
// OpenWhisk does.
func (p *ActionPut) Apply(current *Action, n Name, m *Manifest, now time.Time) (Action, error) {
	var a Action
	if current != nil {
		a = *current
		a.Version = BumpVersion(current.Version)
	} else {
		if p.Exec == nil {
			return Action{}, Invalidf("The request content was malformed:\nexec undefined")
		}
		a = Action{Version: InitialVersion, Limits: DefaultLimits()}
	}
	a.Namespace, a.Name = n.Path(), n.Name
	if p.Exec != nil {
		e, err := p.Exec.normalize(m, n.Namespace)
		if err != nil {
			return Action{}, err
		}
		a.Exec = e
	}
	if err := PutKeyValues(p.Parameters, p.Annotations, &a.Parameters, &a.Annotations); err != nil {
		return Action{}, err
	}
	if len(p.DelAnnotations) > 0 {
		a.Annotations = a.Annotations.Without(p.DelAnnotations...)
	}
	l, err := p.Limits.Apply(a.Limits)
	if err != nil {
		return Action{}, err
	}
	a.Limits = l
	if p.Publish != nil {
		a.Publish = *p.Publish
	}
	if err := checkParameterSize(a.Parameters, "parameters"); err != nil {
		return Action{}, err
	}
	if err := checkParameterSize(a.Annotations, "annotations"); err != nil {
		return Action{}, err
	}
	a.Annotations = a.Annotations.Set("exec", a.Exec.Kind)
	if current == nil && !a.Annotations.Has("provide-api-key") {
		a.Annotations = a.Annotations.Set("provide-api-key", false)
	}
	a.Updated = now.UnixMilli()
	return a, nil
}

// BumpVersion increments the patch number of a semantic version.
func BumpVersion(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return InitialVersion
	}
	patch, err := strconv.Atoi(parts[2])
	if err != nil {
		return InitialVersion
	}
	return fmt.Sprintf("%s.%s.%d", parts[0], parts[1], patch+1)
}

// checkParameterSize bounds parameters or annotations (field names which)
// to MaxParameterBytes, as OpenWhisk bounds both.
func checkParameterSize(kvs KeyValues, field string) error {
	size := 0
	for _, kv := range kvs {
		size += len(kv.Key) + len(kv.Value)
	}
	if size > MaxParameterBytes {
		return &SizeError{Field: field, Size: size, Limit: MaxParameterBytes}
	}
	return nil
}

// SizeError reports a field of an entity larger than its limit, which
// OpenWhisk answers with 413. Its message is OpenWhisk's.
type SizeError struct {
	Field       string // "exec", "parameters" or "annotations"
	Size, Limit int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s larger than allowed: %d > %d bytes.", e.Field, e.Size, e.Limit)
}

// FinalParameters returns the keys of parameters an invocation may not
// override: with the "final" annotation, every defined parameter.
func (a *Action) FinalParameters() []string {
	if !a.Annotations.IsTrue("final") {
		return nil
	}
	keys := make([]string, 0, len(a.Parameters))
	for _, kv := range a.Parameters {
		keys = append(keys, kv.Key)
	}
	return keys
}
