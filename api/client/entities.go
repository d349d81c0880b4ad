package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gusthub/gust/actions"
)

// Collection is one kind of entity of the API (actions, packages, triggers,
// rules), decoded as T.
type Collection[T any] struct {
	c        *Client
	kind     string
	getQuery url.Values
}

// ListOptions page a list; wsk sends both always (limit 0 means the
// server's maximum).
type ListOptions struct {
	Limit, Skip int
}

func (o ListOptions) values() url.Values {
	return url.Values{"limit": {strconv.Itoa(o.Limit)}, "skip": {strconv.Itoa(o.Skip)}}
}

// Summary is an entity as lists show it.
type Summary struct {
	// Namespace is "ns", or "ns/pkg" for an action in a package.
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Publish     bool              `json:"publish"`
	Annotations actions.KeyValues `json:"annotations"`
	Updated     int64             `json:"updated"`
}

// List returns a page of the caller's entities: GET
// /namespaces/_/{kind}?limit=L&skip=S.
func (k *Collection[T]) List(ctx context.Context, o ListOptions) ([]Summary, *Response, error) {
	return k.ListIn(ctx, DefaultNamespace, o)
}

// ListIn is List in namespace ns, which shows another namespace's shared
// entities only.
func (k *Collection[T]) ListIn(ctx context.Context, ns string, o ListOptions) ([]Summary, *Response, error) {
	v, resp, err := call[[]Summary](ctx, k.c, http.MethodGet, namespacePath(ns, k.kind, ""), o.values(), nil)
	if err != nil {
		return nil, resp, err
	}
	return *v, resp, nil
}

// Get returns the entity name ("name", "pkg/name" for actions, or
// "/ns/..."). Actions are read without their code.
func (k *Collection[T]) Get(ctx context.Context, name string) (*T, *Response, error) {
	p, err := entityPath(k.kind, name)
	if err != nil {
		return nil, nil, err
	}
	return call[T](ctx, k.c, http.MethodGet, p, k.getQuery, nil)
}

// Put creates the entity name from body (overwrite false: a 409 if it
// exists) or creates or updates it (overwrite true).
func (k *Collection[T]) Put(ctx context.Context, name string, body any, overwrite bool) (*T, *Response, error) {
	p, err := entityPath(k.kind, name)
	if err != nil {
		return nil, nil, err
	}
	return call[T](ctx, k.c, http.MethodPut, p, url.Values{"overwrite": {strconv.FormatBool(overwrite)}}, body)
}

// Delete deletes the entity name and returns it as it was. query may add
// parameters (packages take force=true); nil adds none.
func (k *Collection[T]) Delete(ctx context.Context, name string, query url.Values) (*T, *Response, error) {
	p, err := entityPath(k.kind, name)
	if err != nil {
		return nil, nil, err
	}
	return call[T](ctx, k.c, http.MethodDelete, p, query, nil)
}

// post sends body to the entity name with POST.
func (k *Collection[T]) post(ctx context.Context, name string, query url.Values, body any) (*Response, error) {
	p, err := entityPath(k.kind, name)
	if err != nil {
		return nil, err
	}
	return k.c.Do(ctx, http.MethodPost, p, query, body)
}

// Exec is the exec of an action request, in wsk's field order.
type Exec struct {
	Kind       string   `json:"kind"`
	Code       *string  `json:"code,omitempty"`
	Image      string   `json:"image,omitempty"`
	Main       string   `json:"main,omitempty"`
	Components []string `json:"components,omitempty"`
}

// Limits are an action request's limits; nil fields are left out and keep
// their current value.
type Limits struct {
	Timeout     *int `json:"timeout,omitempty"`
	Memory      *int `json:"memory,omitempty"`
	Logs        *int `json:"logs,omitempty"`
	Concurrency *int `json:"concurrency,omitempty"`
}

// ActionRequest is the body of an action PUT, as wsk writes it.
type ActionRequest struct {
	Namespace   string            `json:"namespace,omitempty"`
	Name        string            `json:"name,omitempty"`
	Exec        *Exec             `json:"exec,omitempty"`
	Annotations actions.KeyValues `json:"annotations,omitempty"`
	Parameters  actions.KeyValues `json:"parameters,omitempty"`
	Limits      *Limits           `json:"limits,omitempty"`
	Publish     *bool             `json:"publish,omitempty"`
}

// PackageRequest is the body of a package PUT; Binding makes a binding.
type PackageRequest struct {
	Namespace   string            `json:"namespace,omitempty"`
	Name        string            `json:"name,omitempty"`
	Publish     *bool             `json:"publish,omitempty"`
	Annotations actions.KeyValues `json:"annotations,omitempty"`
	Parameters  actions.KeyValues `json:"parameters,omitempty"`
	Binding     *actions.Binding  `json:"binding,omitempty"`
}

// TriggerRequest is the body of a trigger PUT.
type TriggerRequest struct {
	Name        string            `json:"name,omitempty"`
	Annotations actions.KeyValues `json:"annotations,omitempty"`
	Parameters  actions.KeyValues `json:"parameters,omitempty"`
	Publish     *bool             `json:"publish,omitempty"`
}

// RuleRequest is the body of a rule PUT: trigger and action are fully
// qualified names ("/_/t").
type RuleRequest struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Trigger string `json:"trigger"`
	Action  string `json:"action"`
}

// InvokeOptions say how to invoke an action.
type InvokeOptions struct {
	// Blocking waits for the activation (up to the server's limit).
	Blocking bool
	// Result asks a blocking call for the result only.
	Result bool
}

// Invoke invokes the action name with params (a JSON object; nil sends
// {}): POST ?blocking=B&result=R. The answer is 202 {"activationId"} when
// not blocking or not finished in time, else the activation or its result.
// A failed action is an *ActivationError.
func (c *Client) Invoke(ctx context.Context, name string, params json.RawMessage, o InvokeOptions) (*Response, error) {
	q := url.Values{"blocking": {strconv.FormatBool(o.Blocking)}, "result": {strconv.FormatBool(o.Result)}}
	return c.Actions.post(ctx, name, q, objectOrEmpty(params))
}

// Fire fires the trigger name with payload (a JSON object; nil sends {}).
// It returns the trigger activation's id, or "" when the server answered
// 204 because no rule is active.
func (c *Client) Fire(ctx context.Context, name string, payload json.RawMessage) (string, *Response, error) {
	resp, err := c.Triggers.post(ctx, name, nil, objectOrEmpty(payload))
	if err != nil {
		return "", resp, err
	}
	var v struct {
		ActivationID string `json:"activationId"`
	}
	if len(resp.Body) > 0 {
		_ = json.Unmarshal(resp.Body, &v)
	}
	return v.ActivationID, resp, nil
}

// SetRuleStatus enables ("active") or disables ("inactive") the rule name.
func (c *Client) SetRuleStatus(ctx context.Context, name, status string) (*Response, error) {
	body := struct {
		Status  string `json:"status"`
		Trigger any    `json:"trigger"`
		Action  any    `json:"action"`
	}{Status: status}
	return c.Rules.post(ctx, name, nil, body)
}

func objectOrEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}
