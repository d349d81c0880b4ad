package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// apiManagementPackage is where the stock wsk sends `wsk api` requests:
// the web actions /whisk.system/apimgmt/{createApi,getApi,deleteApi}.http,
// which Gust answers itself.
const apiManagementPackage = "apimgmt"

// apiManagement answers wsk's API management requests, as OpenWhisk's
// apimgmt actions do, for the caller's own namespace.
func (s *Server) apiManagement(w http.ResponseWriter, r *http.Request, name string) error {
	id, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if s.cfg.Routes == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	q := r.URL.Query()
	switch {
	case name == "createApi" && r.Method == http.MethodPost:
		var req struct {
			APIDoc *apiDocRequest `json:"apidoc"`
		}
		if err := decodeBody(r, maxBodyBytes, &req); err != nil {
			return err
		}
		if req.APIDoc == nil {
			return malformed("apidoc undefined")
		}
		base, apiName, routes, err := req.APIDoc.routes(id.Namespace, q.Get("responsetype"))
		if err != nil {
			return err
		}
		for _, rt := range routes {
			if err := s.routeAction(r, rt.Action); err != nil {
				return err
			}
		}
		api, err := s.cfg.Routes.AddRoutes(r.Context(), id.Namespace, base, apiName, routes)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, apiValue(r, api))
		return nil
	case name == "getApi" && r.Method == http.MethodGet:
		apis, err := s.cfg.Routes.List(r.Context(), id.Namespace)
		if err != nil {
			return err
		}
		items := []map[string]any{}
		base, rel, op := q.Get("basepath"), q.Get("relpath"), strings.ToLower(q.Get("operation"))
		for i := range apis {
			a := &apis[i]
			if base != "" && a.BasePath != base && a.Name != base {
				continue
			}
			a.Routes = filterRoutes(a.Routes, rel, op)
			if len(a.Routes) == 0 {
				continue
			}
			items = append(items, map[string]any{"id": "API:" + a.Namespace + ":" + a.BasePath, "key": a.Namespace + ":" + a.BasePath, "value": apiValue(r, a)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"apis": items})
		return nil
	case name == "deleteApi" && r.Method == http.MethodDelete:
		base := q.Get("basepath")
		if base == "" {
			return errorf(http.StatusBadRequest, "basepath is required.")
		}
		if apis, err := s.cfg.Routes.List(r.Context(), id.Namespace); err == nil {
			for _, a := range apis { // an API may be named by its name, too
				if a.Name == base {
					base = a.BasePath
				}
			}
		}
		err := s.cfg.Routes.DeleteRoutes(r.Context(), id.Namespace, base, q.Get("relpath"), strings.ToLower(q.Get("operation")))
		if errors.Is(err, hub.ErrNotFound) {
			return errorf(http.StatusNotFound, fmt.Sprintf("API '%s' does not exist.", strings.TrimSpace(base+" "+q.Get("relpath")+" "+q.Get("operation"))))
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	return errorf(http.StatusNotFound, msgNotFound)
}

// routeAction checks that the action of a new route exists (404 if not)
// and is a web action (400 if not), in the words of wsk's own check, which
// the stock wsk makes before it asks (gust's CLI does not). The hint names
// the CLI the request came from.
func (s *Server) routeAction(r *http.Request, n actions.Name) error {
	a, err := actions.Resolve(r.Context(), s.cfg.Invocations, n, n.Namespace, false)
	cli := clientCLI(r)
	switch {
	case errors.Is(err, hub.ErrNotFound), errors.Is(err, actions.ErrForbidden):
		return errorf(http.StatusNotFound, fmt.Sprintf("Unable to get action '%s': %s Create it as a web action first: '%s action create %s FILE --web true'.",
			n, msgNotFound, cli, n.Local()))
	case err != nil:
		return err
	case !a.Annotations.IsTrue(annWebExport):
		update := fmt.Sprintf("wsk action update \"%s\" --web true", n.Local())
		if cli == cliGust {
			update = fmt.Sprintf("gust action update %s --web true", n.Local())
		}
		return errorf(http.StatusBadRequest, fmt.Sprintf("Action '%s' is not a web action. Issue '%s' to convert the action to a web action.", n, update))
	}
	return nil
}

func filterRoutes(rs []Route, rel, op string) []Route {
	var out []Route
	for _, r := range rs {
		if (rel == "" || r.Path == rel) && (op == "" || r.Method == op) {
			out = append(out, r)
		}
	}
	return out
}

// apiDocRequest is the apidoc of wsk's createApi request: one route, or a
// swagger document (--config-file).
type apiDocRequest struct {
	Namespace string `json:"namespace"`
	Name      string `json:"apiName"`
	BasePath  string `json:"gatewayBasePath"`
	RelPath   string `json:"gatewayPath"`
	Method    string `json:"gatewayMethod"`
	Swagger   string `json:"swagger"`
	Action    *struct {
		Name       string `json:"name"`
		Namespace  string `json:"namespace"`
		BackendURL string `json:"backendUrl"`
	} `json:"action"`
}

// swaggerDoc is the part of a swagger 2.0 document an API is made of.
type swaggerDoc struct {
	BasePath string `json:"basePath"`
	Info     struct {
		Title string `json:"title"`
	} `json:"info"`
	Paths map[string]map[string]struct {
		XOpenWhisk *struct {
			Namespace string `json:"namespace"`
			Package   string `json:"package"`
			Action    string `json:"action"`
			URL       string `json:"url"`
		} `json:"x-openwhisk"`
	} `json:"paths"`
}

// routes reads the API's base path, name and routes from the request, for
// namespace ns; responseType is wsk's --response-type (json by default).
func (d *apiDocRequest) routes(ns, responseType string) (base, name string, routes []Route, err error) {
	if responseType == "" {
		responseType = "json"
	}
	if _, ok := routeResponseTypes[responseType]; !ok {
		return "", "", nil, errorf(http.StatusBadRequest, fmt.Sprintf("The response type '%s' is not valid: use json, http, html, svg or text.", responseType))
	}
	if d.Swagger != "" {
		var doc swaggerDoc
		if err := json.Unmarshal([]byte(d.Swagger), &doc); err != nil {
			return "", "", nil, malformed("the swagger document: " + describeJSONError(err))
		}
		base, name = doc.BasePath, doc.Info.Title
		for p, ops := range doc.Paths {
			for m, op := range ops {
				if op.XOpenWhisk == nil {
					return "", "", nil, errorf(http.StatusBadRequest, fmt.Sprintf("The operation %s %s has no x-openwhisk action.", strings.ToUpper(m), p))
				}
				rt := Route{Path: p, Method: strings.ToLower(m), ResponseType: responseType}
				if x := op.XOpenWhisk; x.URL != "" {
					if rt.Action, rt.ResponseType, err = webURLAction(x.URL, ns); err != nil {
						return "", "", nil, err
					}
				} else {
					rt.Action = actions.Name{Namespace: ownNS(x.Namespace, ns), Package: x.Package, Name: x.Action}
				}
				routes = append(routes, rt)
			}
		}
		sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	} else {
		base, name = d.BasePath, d.Name
		rt := Route{Path: d.RelPath, Method: strings.ToLower(d.Method), ResponseType: responseType}
		switch {
		case d.Action == nil:
			return "", "", nil, malformed("apidoc.action undefined")
		case d.Action.BackendURL != "":
			if rt.Action, _, err = webURLAction(d.Action.BackendURL, ns); err != nil {
				return "", "", nil, err
			}
		default:
			an, err := actions.ParseName(d.Action.Name, ownNS(d.Action.Namespace, ns))
			if err != nil {
				return "", "", nil, err
			}
			rt.Action = an
		}
		routes = []Route{rt}
	}
	if err := checkAPIPath("base path", base, false); err != nil {
		return "", "", nil, err
	}
	if len(routes) == 0 {
		return "", "", nil, errorf(http.StatusBadRequest, "The API has no operations.")
	}
	for _, rt := range routes {
		if err := checkAPIPath("relative path", rt.Path, true); err != nil {
			return "", "", nil, err
		}
		switch rt.Method {
		case "get", "put", "post", "delete", "patch", "head", "options":
		default:
			return "", "", nil, errorf(http.StatusBadRequest, fmt.Sprintf("The operation '%s' is not valid: use GET, PUT, POST, DELETE, PATCH, HEAD or OPTIONS.", rt.Method))
		}
		if rt.Action.Namespace != ns {
			return "", "", nil, errorf(http.StatusForbidden, msgForbidden)
		}
	}
	return base, name, routes, nil
}

func ownNS(ns, caller string) string {
	if ns == "" || ns == actions.DefaultNamespace {
		return caller
	}
	return ns
}

// webURLAction reads the action and response type of a web action's URL
// (wsk sends .../api/v1/web/<ns>/<pkg>/<action>.<type>).
func webURLAction(raw, caller string) (actions.Name, string, error) {
	u, err := url.Parse(raw)
	_, p, ok := strings.Cut(u.Path, WebPrefix)
	if err != nil || !ok {
		return actions.Name{}, "", errorf(http.StatusBadRequest, fmt.Sprintf("The action URL '%s' is not a web action's URL.", raw))
	}
	n, ext, _, err := parseWebPath(p)
	if err != nil {
		return actions.Name{}, "", errorf(http.StatusBadRequest, fmt.Sprintf("The action URL '%s' is not a web action's URL.", raw))
	}
	n.Namespace = ownNS(n.Namespace, caller)
	return n, strings.TrimPrefix(ext, "."), nil
}

// apiValue is an API as the apimgmt actions answer it: the gateway URL of
// its base path and a swagger 2.0 document whose operations name their
// web actions in x-openwhisk.
func apiValue(r *http.Request, a *API) map[string]any {
	host := "http://" + r.Host
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		host = "https://" + r.Host
	}
	paths := map[string]map[string]any{}
	for _, rt := range a.Routes {
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		pkg := rt.Action.Package
		if pkg == "" {
			pkg = "default"
		}
		paths[rt.Path][rt.Method] = map[string]any{
			"operationId": rt.Method + strings.ReplaceAll(rt.Path, "/", "_"),
			"responses":   map[string]any{"default": map[string]string{"description": "Default response"}},
			"x-openwhisk": map[string]string{
				"namespace": rt.Action.Namespace, "package": rt.Action.Package, "action": rt.Action.Name,
				"url": host + WebPrefix + rt.Action.Namespace + "/" + pkg + "/" + rt.Action.Name + "." + rt.ResponseType,
			},
		}
	}
	return map[string]any{
		"namespace":      a.Namespace,
		"gwApiUrl":       host + "/api/" + a.Namespace + strings.TrimSuffix(a.BasePath, "/"),
		"gwApiActivated": true,
		"tenantId":       a.Namespace,
		"apidoc": map[string]any{
			"swagger":  "2.0",
			"basePath": a.BasePath,
			"info":     map[string]string{"title": a.Name, "version": "1.0.0"},
			"paths":    paths,
		},
	}
}
