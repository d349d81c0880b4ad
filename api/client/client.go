package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

// DefaultNamespace is the namespace of relative names: the caller's own.
const DefaultNamespace = "_"

// Config is what a Client is built from.
type Config struct {
	// APIHost is the server's base URL, e.g. "http://127.0.0.1:3233". A
	// host without a scheme means https, or http for a loopback host.
	APIHost string
	// Auth is the namespace key, "uuid:secret".
	Auth string
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Insecure skips TLS certificate checks (wsk's -i) when HTTPClient is
	// nil.
	Insecure bool
	// UserAgent is sent with every request; empty means "gust-client".
	UserAgent string
}

// Client talks to one Gust (or OpenWhisk) API host as one namespace key.
// It is safe for concurrent use.
type Client struct {
	base      *url.URL
	authz     string
	http      *http.Client
	userAgent string

	// Actions are the namespace's actions; Get leaves out the code.
	Actions *Collection[actions.Action]
	// Packages are the namespace's packages and bindings.
	Packages *Collection[actions.Package]
	// Triggers are the namespace's triggers.
	Triggers *Collection[rules.Trigger]
	// Rules are the namespace's rules.
	Rules *Collection[rules.Rule]
}

// New returns a client for cfg. It needs APIHost; Auth may be empty for
// the calls that need none (Info).
func New(cfg Config) (*Client, error) {
	base, err := ParseAPIHost(cfg.APIHost)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, http: cfg.HTTPClient, userAgent: cfg.UserAgent}
	if cfg.Auth != "" {
		c.authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Auth))
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for -i
		}
		c.http = &http.Client{Transport: tr}
	}
	if c.userAgent == "" {
		c.userAgent = "gust-client"
	}
	c.Actions = &Collection[actions.Action]{c: c, kind: "actions", getQuery: url.Values{"code": {"false"}}}
	c.Packages = &Collection[actions.Package]{c: c, kind: "packages"}
	c.Triggers = &Collection[rules.Trigger]{c: c, kind: "triggers"}
	c.Rules = &Collection[rules.Rule]{c: c, kind: "rules"}
	return c, nil
}

// ParseAPIHost turns an API host setting into the server's base URL: a bare
// "host:port" gets https, or http when the host is loopback.
func ParseAPIHost(apiHost string) (*url.URL, error) {
	s := strings.TrimRight(strings.TrimSpace(apiHost), "/")
	if s == "" {
		return nil, errors.New("no API host given")
	}
	if !strings.Contains(s, "://") {
		host := s
		if h, _, err := net.SplitHostPort(s); err == nil {
			host = h
		}
		scheme := "https://"
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			scheme = "http://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("API host %q: %w", apiHost, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("API host %q: want http://host:port or https://host:port", apiHost)
	}
	return u, nil
}

// APIHost is the server's base URL, e.g. "http://127.0.0.1:3233".
func (c *Client) APIHost() string { return c.base.String() }

// Response is an answer of the API: its status and raw body.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       json.RawMessage
}

// ErrNotFound is what errors.Is reports for an *Error of status 404.
var ErrNotFound = errors.New("not found")

// Error is a non-2xx answer: OpenWhisk's {"error", "code"} body.
type Error struct {
	StatusCode int
	// Message is the server's "error", or the HTTP status text when the
	// body had none.
	Message string
	// Code is the server's "code": the request's transaction id.
	Code string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return fmt.Sprintf("%s (code %s)", e.Message, e.Code)
}

// Is reports a 404 as ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// ActivationError is a blocking invocation whose action failed: the server
// answered 502 with the activation record, or its result, and no error
// code.
type ActivationError struct {
	// Body is the activation record, or its result when the call asked for
	// the result only.
	Body json.RawMessage
}

func (e *ActivationError) Error() string {
	var v struct {
		Response struct {
			Status string          `json:"status"`
			Result json.RawMessage `json:"result"`
		} `json:"response"`
		Error json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(e.Body, &v)
	detail := v.Error
	if len(detail) == 0 {
		detail = errorOf(v.Response.Result)
	}
	switch {
	case len(detail) > 0:
		var s string
		if json.Unmarshal(detail, &s) == nil {
			return s
		}
		return string(detail)
	case v.Response.Status != "":
		return "the action failed: " + v.Response.Status
	}
	return "the action failed"
}

// errorOf returns the "error" field of a result object, if any.
func errorOf(result json.RawMessage) json.RawMessage {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(result, &r)
	return r.Error
}

// maxErrorBody bounds how much of a non-JSON error body is kept.
const maxErrorBody = 512

// Do sends one request: path is under the API host (e.g.
// "/api/v1/namespaces"), body is encoded as JSON unless nil. It returns an
// *Error for a non-2xx answer and an *ActivationError for a 502 without a
// code; the Response is returned either way once the server answered.
// clusterPath is the cluster's status, for the admin key (Gust's
// extension); Do sends the key there too.
const clusterPath = "/api/v1/cluster"

func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (*Response, error) {
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err // a *url.Error: it names the method and URL
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer of %s %s: %w", method, req.URL.Redacted(), err)
	}
	r := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: b}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return r, nil
	}
	return r, answerError(resp.StatusCode, b)
}

// newRequest is the request Do sends: path under the API host, body as
// JSON unless nil, and the key for the namespace API.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.authz != "" && (strings.HasPrefix(path, "/api/v1/namespaces") || strings.HasPrefix(path, "/api/v1/runtimes/") || strings.HasPrefix(path, apiManagement) || path == clusterPath) {
		req.Header.Set("Authorization", c.authz)
	}
	req.Header.Set("User-Agent", c.userAgent)
	return req, nil
}

// answerError decodes a non-2xx answer as wsk does: with a code it is an
// error; a 502 without one is the failed activation.
func answerError(status int, b []byte) error {
	var body struct {
		Error json.RawMessage `json:"error"`
		Code  json.RawMessage `json:"code"`
	}
	isJSON := json.Unmarshal(b, &body) == nil
	if status == http.StatusBadGateway && isJSON && len(body.Code) == 0 && len(bytes.TrimSpace(b)) > 0 {
		return &ActivationError{Body: b}
	}
	e := &Error{StatusCode: status, Message: http.StatusText(status)}
	var msg string
	switch {
	case isJSON && json.Unmarshal(body.Error, &msg) == nil && msg != "":
		e.Message = msg
	case isJSON && len(body.Error) > 0:
		e.Message = string(body.Error)
	case !isJSON && len(bytes.TrimSpace(b)) > 0:
		text := strings.TrimSpace(string(b))
		if len(text) > maxErrorBody {
			text = text[:maxErrorBody] + "..."
		}
		e.Message = fmt.Sprintf("%s: %s", e.Message, text)
	}
	var code string
	if json.Unmarshal(body.Code, &code) == nil {
		e.Code = code
	} else if len(body.Code) > 0 {
		e.Code = string(body.Code)
	}
	return e
}

// call sends a request and decodes a 2xx answer into a new T.
func call[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (*T, *Response, error) {
	resp, err := c.Do(ctx, method, path, query, body)
	if err != nil {
		return nil, resp, err
	}
	v := new(T)
	if len(bytes.TrimSpace(resp.Body)) == 0 {
		return v, resp, nil
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return nil, resp, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return v, resp, nil
}

// SplitName splits an entity name as wsk does: "/ns/rest" names namespace
// ns; anything else ("name", "pkg/name") is relative to DefaultNamespace.
func SplitName(name string) (ns, rest string) {
	if s, ok := strings.CutPrefix(name, "/"); ok {
		ns, rest, _ = strings.Cut(s, "/")
		return ns, rest
	}
	return DefaultNamespace, name
}

// Qualify is the fully qualified form of name that wsk sends and prints:
// "/_/name" for relative names, absolute names as they are.
func Qualify(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return "/" + DefaultNamespace + "/" + name
}

// namespacePath is /api/v1/namespaces/{ns}/{collection}[/rest].
func namespacePath(ns, collection, rest string) string {
	p := "/api/v1/namespaces/" + ns + "/" + collection
	if rest != "" {
		p += "/" + rest
	}
	return p
}

// entityPath is the URL path of the entity name in collection.
func entityPath(collection, name string) (string, error) {
	ns, rest := SplitName(name)
	if ns == "" || rest == "" || strings.HasPrefix(rest, "/") || strings.HasSuffix(rest, "/") {
		return "", fmt.Errorf("%q is not a valid entity name", name)
	}
	return namespacePath(ns, collection, rest), nil
}
