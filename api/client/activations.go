package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gusthub/gust/actions"
)

// ActivationListOptions select activations; wsk sends limit and skip
// always, the others when set.
type ActivationListOptions struct {
	// Name keeps the activations of one entity: "name" or "pkg/name".
	Name        string
	Limit, Skip int
	// Since and Upto bound the start time, in epoch milliseconds; zero
	// means unbounded.
	Since, Upto int64
	// Docs asks for full records (with results and logs).
	Docs bool
}

// ListActivations returns the caller's activations, newest first.
func (c *Client) ListActivations(ctx context.Context, o ActivationListOptions) ([]actions.Activation, *Response, error) {
	q := ListOptions{Limit: o.Limit, Skip: o.Skip}.values()
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.Since > 0 {
		q.Set("since", strconv.FormatInt(o.Since, 10))
	}
	if o.Upto > 0 {
		q.Set("upto", strconv.FormatInt(o.Upto, 10))
	}
	if o.Docs {
		q.Set("docs", "true")
	}
	v, resp, err := call[[]actions.Activation](ctx, c, http.MethodGet, namespacePath(DefaultNamespace, "activations", ""), q, nil)
	if err != nil {
		return nil, resp, err
	}
	return *v, resp, nil
}

// GetActivation returns the activation id.
func (c *Client) GetActivation(ctx context.Context, id string) (*actions.Activation, *Response, error) {
	return call[actions.Activation](ctx, c, http.MethodGet, namespacePath(DefaultNamespace, "activations", id), nil, nil)
}

// ActivationTree returns the activation id with every activation it
// caused, recursively (GET .../activations/{id}/tree).
func (c *Client) ActivationTree(ctx context.Context, id string) (*actions.TreeNode, *Response, error) {
	return call[actions.TreeNode](ctx, c, http.MethodGet, namespacePath(DefaultNamespace, "activations", id+"/tree"), nil, nil)
}

// ActivationLogs returns the log lines of the activation id.
func (c *Client) ActivationLogs(ctx context.Context, id string) ([]string, *Response, error) {
	v, resp, err := call[struct {
		Logs []string `json:"logs"`
	}](ctx, c, http.MethodGet, namespacePath(DefaultNamespace, "activations", id+"/logs"), nil, nil)
	if err != nil {
		return nil, resp, err
	}
	return v.Logs, resp, nil
}

// ActivationResult is the answer of GET /activations/{id}/result.
type ActivationResult struct {
	Result  json.RawMessage `json:"result"`
	Success bool            `json:"success"`
	Status  string          `json:"status"`
	Size    int             `json:"size,omitempty"`
}

// GetActivationResult returns the result of the activation id.
func (c *Client) GetActivationResult(ctx context.Context, id string) (*ActivationResult, *Response, error) {
	return call[ActivationResult](ctx, c, http.MethodGet, namespacePath(DefaultNamespace, "activations", id+"/result"), nil, nil)
}

// Namespaces returns the namespaces the key may act in.
func (c *Client) Namespaces(ctx context.Context) ([]string, *Response, error) {
	v, resp, err := call[[]string](ctx, c, http.MethodGet, "/api/v1/namespaces", nil, nil)
	if err != nil {
		return nil, resp, err
	}
	return *v, resp, nil
}

// NamespaceKey is a new namespace and its key.
type NamespaceKey struct {
	Namespace string `json:"namespace"`
	Auth      string `json:"auth"`
}

// CreateNamespace creates namespace ns with a fresh key; the client's key
// must be an admin key.
func (c *Client) CreateNamespace(ctx context.Context, ns string) (*NamespaceKey, *Response, error) {
	return call[NamespaceKey](ctx, c, http.MethodPut, "/api/v1/namespaces/"+ns, nil, nil)
}

// Info is the answer of GET /api/v1, which needs no key.
type Info struct {
	Description    string `json:"description"`
	APIVersion     string `json:"api_version"`
	APIVersionPath string `json:"api_version_path"`
	Build          string `json:"build"`
	BuildNumber    string `json:"buildno"`
}

// Info returns the server's API description and build.
func (c *Client) Info(ctx context.Context) (*Info, *Response, error) {
	return call[Info](ctx, c, http.MethodGet, "/api/v1", nil, nil)
}

// RuntimesBuilding returns the runtime kinds whose images the invokers are
// building now (GET /api/v1/runtimes/building, a Gust extension): a first
// activation of such a kind waits for its build.
func (c *Client) RuntimesBuilding(ctx context.Context) ([]string, *Response, error) {
	v, resp, err := call[struct {
		Building []string `json:"building"`
	}](ctx, c, http.MethodGet, "/api/v1/runtimes/building", nil, nil)
	if err != nil {
		return nil, resp, err
	}
	return v.Building, resp, nil
}

// NamespaceLimits are a namespace's throttles as GET and PUT .../limits show them;
// a throttle that is not enforced is 0 (and left out of a PUT).
type NamespaceLimits struct {
	InvocationsPerMinute  int `json:"invocationsPerMinute,omitempty"`
	ConcurrentInvocations int `json:"concurrentInvocations,omitempty"`
	FiresPerMinute        int `json:"firesPerMinute,omitempty"`
}

// Limits returns the limits of ns: the key's own namespace ("_"), or any
// with an admin key.
func (c *Client) Limits(ctx context.Context, ns string) (*NamespaceLimits, *Response, error) {
	return call[NamespaceLimits](ctx, c, http.MethodGet, "/api/v1/namespaces/"+ns+"/limits", nil, nil)
}

// SetLimits sets the throttles of ns that set gives (non-zero), removes
// those remove names (invocationsPerMinute, concurrentInvocations,
// firesPerMinute: sent as null, so that the deployment's default holds
// again), keeps the others, and returns the limits now in force; the
// client's key must be an admin key.
func (c *Client) SetLimits(ctx context.Context, ns string, set NamespaceLimits, remove ...string) (*NamespaceLimits, *Response, error) {
	body := map[string]any{}
	for name, v := range map[string]int{"invocationsPerMinute": set.InvocationsPerMinute,
		"concurrentInvocations": set.ConcurrentInvocations, "firesPerMinute": set.FiresPerMinute} {
		if v != 0 {
			body[name] = v
		}
	}
	for _, name := range remove {
		body[name] = nil
	}
	return call[NamespaceLimits](ctx, c, http.MethodPut, "/api/v1/namespaces/"+ns+"/limits", nil, body)
}

// Rerun invokes the action of activation id again with the parameters it
// was invoked with (POST .../activations/{id}/rerun?blocking=B&result=R);
// the answer is as Invoke's.
func (c *Client) Rerun(ctx context.Context, id string, o InvokeOptions) (*Response, error) {
	q := url.Values{"blocking": {strconv.FormatBool(o.Blocking)}, "result": {strconv.FormatBool(o.Result)}}
	return c.Do(ctx, http.MethodPost, namespacePath(DefaultNamespace, "activations", id+"/rerun"), q, nil)
}

// Retention is how long a namespace's trigger events are kept for
// replays (GET and PUT .../retention).
type Retention struct {
	Namespace     string `json:"namespace"` // the name, also when asked as "_"
	Events        string `json:"events"`
	EventsSeconds int64  `json:"eventsSeconds"`
	Default       bool   `json:"default"`
}

// Retention returns namespace ns's event retention ("_" for the key's).
func (c *Client) Retention(ctx context.Context, ns string) (*Retention, *Response, error) {
	return call[Retention](ctx, c, http.MethodGet, "/api/v1/namespaces/"+url.PathEscape(ns)+"/retention", nil, nil)
}

// SetRetention sets namespace ns's event retention to events, a duration
// such as "72h", or "" for the default.
func (c *Client) SetRetention(ctx context.Context, ns, events string) (*Retention, *Response, error) {
	return call[Retention](ctx, c, http.MethodPut, "/api/v1/namespaces/"+url.PathEscape(ns)+"/retention", nil, map[string]string{"events": events})
}
