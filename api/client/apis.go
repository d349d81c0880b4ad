package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// apiManagement is where API routes are managed: the web actions of
// OpenWhisk's apimgmt package, which the stock wsk calls too.
const apiManagement = "/api/v1/web/whisk.system/apimgmt/"

// APIValue is an API as the server describes it: the URL of its base path
// and its swagger 2.0 document.
type APIValue struct {
	Namespace string `json:"namespace"`
	URL       string `json:"gwApiUrl"`
	Doc       struct {
		BasePath string `json:"basePath"`
		Info     struct {
			Title string `json:"title"`
		} `json:"info"`
		Paths map[string]map[string]APIOperation `json:"paths"`
	} `json:"apidoc"`
}

// APIOperation is one route of an API: the web action it runs.
type APIOperation struct {
	OperationID string `json:"operationId"`
	Action      struct {
		Namespace string `json:"namespace"`
		Package   string `json:"package"`
		Name      string `json:"action"`
		URL       string `json:"url"`
	} `json:"x-openwhisk"`
}

// ActionName is the operation's action as /namespace/[package/]name.
func (o APIOperation) ActionName() string {
	if o.Action.Package != "" {
		return "/" + o.Action.Namespace + "/" + o.Action.Package + "/" + o.Action.Name
	}
	return "/" + o.Action.Namespace + "/" + o.Action.Name
}

// APIRoute is a route to create: METHOD BasePath+Path runs Action (a web
// action), answering as ResponseType (json, http, html, svg or text).
type APIRoute struct {
	BasePath, Path, Method, Action, ResponseType, APIName string
}

// CreateAPI adds a route, as `wsk api create` does.
func (c *Client) CreateAPI(ctx context.Context, rt APIRoute) (*APIValue, *Response, error) {
	ns, name := SplitName(rt.Action)
	pkg := "default"
	if p, n, ok := strings.Cut(name, "/"); ok {
		pkg, name = p, n
	}
	if rt.ResponseType == "" {
		rt.ResponseType = "json"
	}
	if rt.APIName == "" {
		rt.APIName = rt.BasePath
	}
	doc := map[string]any{
		"namespace": DefaultNamespace, "apiName": rt.APIName, "gatewayBasePath": rt.BasePath, "gatewayPath": rt.Path,
		"gatewayMethod": strings.ToUpper(rt.Method), "id": "API:" + DefaultNamespace + ":" + rt.BasePath,
		"action": map[string]any{"name": name, "namespace": ns, "backendMethod": strings.ToUpper(rt.Method),
			"backendUrl": c.APIHost() + "/api/v1/web/" + ns + "/" + pkg + "/" + name + "." + rt.ResponseType},
	}
	return call[APIValue](ctx, c, http.MethodPost, apiManagement+"createApi.http",
		url.Values{"responsetype": {rt.ResponseType}}, map[string]any{"apidoc": doc})
}

// CreateAPIFromSwagger creates the API a swagger 2.0 document describes
// (`wsk api create --config-file`).
func (c *Client) CreateAPIFromSwagger(ctx context.Context, swagger []byte, responseType string) (*APIValue, *Response, error) {
	q := url.Values{}
	if responseType != "" {
		q.Set("responsetype", responseType)
	}
	return call[APIValue](ctx, c, http.MethodPost, apiManagement+"createApi.http", q,
		map[string]any{"apidoc": map[string]any{"namespace": DefaultNamespace, "swagger": string(swagger)}})
}

// ListAPIs returns the APIs, or those of base path (or API name) base,
// with only the routes of path and method when they are given.
func (c *Client) ListAPIs(ctx context.Context, base, path, method string) ([]APIValue, *Response, error) {
	q := url.Values{}
	for k, v := range map[string]string{"basepath": base, "relpath": path, "operation": strings.ToUpper(method)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	v, resp, err := call[struct {
		APIs []struct {
			Value APIValue `json:"value"`
		} `json:"apis"`
	}](ctx, c, http.MethodGet, apiManagement+"getApi.http", q, nil)
	if err != nil {
		return nil, resp, err
	}
	out := make([]APIValue, 0, len(v.APIs))
	for _, a := range v.APIs {
		out = append(out, a.Value)
	}
	return out, resp, nil
}

// DeleteAPI deletes the API of base path (or name) base, or only its
// routes of path, or of path and method.
func (c *Client) DeleteAPI(ctx context.Context, base, path, method string) (*Response, error) {
	q := url.Values{"basepath": {base}}
	if path != "" {
		q.Set("relpath", path)
	}
	if method != "" {
		q.Set("operation", strings.ToUpper(method))
	}
	_, resp, err := call[json.RawMessage](ctx, c, http.MethodDelete, apiManagement+"deleteApi.http", q, nil)
	return resp, err
}
