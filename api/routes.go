package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/nats-io/nats.go/jetstream"
)

// An API (`wsk api`) maps routes, a base path with relative paths and
// methods, to web actions. Gust serves them itself on
// /api/<namespace><basePath><relPath>; relative paths may hold parameters
// such as /books/{id}, which reach the action as parameters.
type API struct {
	Namespace string `json:"namespace"`
	// BasePath is "/" followed by one or more segments, e.g. "/library".
	BasePath string `json:"basePath"`
	// Name is the API's name (wsk's --apiname); BasePath when not given.
	Name   string  `json:"name"`
	Routes []Route `json:"routes"`
}

// Route is one operation of an API.
type Route struct {
	Path   string       `json:"path"`   // "/books/{id}"
	Method string       `json:"method"` // lowercase, e.g. "get"
	Action actions.Name `json:"action"`
	// ResponseType is the web action extension the route answers with:
	// json (wsk's default), http, html, svg or text.
	ResponseType string `json:"responseType"`
}

const apisBucket = "gust_apis"

// routesPattern is where API routes are served: /api/<namespace>/...
const routesPattern = "/api/"

// Routes keeps APIs in JetStream, one key per namespace and base path.
type Routes struct {
	c *hub.Collection[API]
}

// OpenRoutes opens (creating it if needed) the APIs bucket.
func OpenRoutes(ctx context.Context, js jetstream.JetStream) (*Routes, error) {
	c, err := hub.OpenCollection[API](ctx, js, apisBucket)
	if err != nil {
		return nil, err
	}
	return &Routes{c: c}, nil
}

func apiKey(ns, basePath string) string { return hub.Key(ns, basePath) }

// Get returns the API of ns at basePath, hub.ErrNotFound if none.
func (rs *Routes) Get(ctx context.Context, ns, basePath string) (*API, uint64, error) {
	a, rev, err := rs.c.Get(ctx, apiKey(ns, basePath))
	if err != nil {
		return nil, 0, err
	}
	return &a, rev, nil
}

// List returns the APIs of ns ordered by base path.
func (rs *Routes) List(ctx context.Context, ns string) ([]API, error) {
	es, err := rs.c.List(ctx, hub.Key(ns)+".>")
	if err != nil {
		return nil, err
	}
	out := make([]API, 0, len(es))
	for _, e := range es {
		out = append(out, e.Value)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BasePath < out[j].BasePath })
	return out, nil
}

// AddRoutes adds routes to the API of ns at basePath, creating it (named
// name) if needed. A route whose path and method an existing route of the
// API already serves with another action is a *RouteClashError; the same
// route again replaces its response type.
func (rs *Routes) AddRoutes(ctx context.Context, ns, basePath, name string, routes []Route) (*API, error) {
	for attempt := 0; ; attempt++ {
		cur, rev, err := rs.Get(ctx, ns, basePath)
		switch {
		case errors.Is(err, hub.ErrNotFound):
			cur = &API{Namespace: ns, BasePath: basePath, Name: name}
			if cur.Name == "" {
				cur.Name = basePath
			}
		case err != nil:
			return nil, err
		}
		next := *cur
		next.Routes = slices.Clone(cur.Routes)
		for _, r := range routes {
			i := slices.IndexFunc(next.Routes, func(o Route) bool { return o.Method == r.Method && pathShape(o.Path) == pathShape(r.Path) })
			switch {
			case i < 0:
				next.Routes = append(next.Routes, r)
			case next.Routes[i].Path == r.Path && next.Routes[i].Action == r.Action:
				next.Routes[i] = r
			default:
				return nil, &RouteClashError{Method: r.Method, Path: basePath + r.Path, Action: next.Routes[i].Action}
			}
		}
		if rev == 0 {
			_, err = rs.c.Create(ctx, apiKey(ns, basePath), next)
		} else {
			_, err = rs.c.Update(ctx, apiKey(ns, basePath), next, rev)
		}
		if err == nil {
			return &next, nil
		}
		if attempt == 3 || !(errors.Is(err, hub.ErrExists) || errors.Is(err, hub.ErrConflict)) {
			return nil, err
		}
	}
}

// DeleteRoutes deletes the routes of the API of ns at basePath that match
// relPath and method ("" matches any); an API left with no route is
// deleted. hub.ErrNotFound when nothing matched.
func (rs *Routes) DeleteRoutes(ctx context.Context, ns, basePath, relPath, method string) error {
	cur, rev, err := rs.Get(ctx, ns, basePath)
	if err != nil {
		return err
	}
	keep := slices.DeleteFunc(slices.Clone(cur.Routes), func(r Route) bool {
		return (relPath == "" || r.Path == relPath) && (method == "" || r.Method == method)
	})
	if len(keep) == len(cur.Routes) {
		return hub.ErrNotFound
	}
	if len(keep) == 0 {
		return rs.c.Delete(ctx, apiKey(ns, basePath), rev)
	}
	cur.Routes = keep
	_, err = rs.c.Update(ctx, apiKey(ns, basePath), *cur, rev)
	return err
}

// RouteClashError is a route whose path and method another route of the
// API already serves (409).
type RouteClashError struct {
	Method, Path string
	Action       actions.Name
}

func (e *RouteClashError) Error() string {
	return fmt.Sprintf("Route %s %s already exists for action %s; delete it first.", strings.ToUpper(e.Method), e.Path, e.Action)
}

// HTTPStatus is 409.
func (e *RouteClashError) HTTPStatus() int { return http.StatusConflict }

// pathShape is a path with its parameter names erased: /books/{id} and
// /books/{isbn} are the same route.
func pathShape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if isParamSegment(s) {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

func isParamSegment(s string) bool {
	return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}'
}

// match reports whether the path template tmpl matches path, with the
// values of its parameters.
func match(tmpl, path string) (map[string]string, bool) {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	var params map[string]string
	for i, t := range ts {
		switch {
		case isParamSegment(t):
			if ps[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[t[1:len(t)-1]] = ps[i]
		case t != ps[i]:
			return nil, false
		}
	}
	return params, true
}

// checkAPIPath checks a base or relative path: "/" and segments of
// letters, digits and -._~ or a {parameter}.
func checkAPIPath(what, p string, params bool) error {
	if !strings.HasPrefix(p, "/") || len(p) > 512 {
		return errorf(http.StatusBadRequest, fmt.Sprintf("The %s '%s' must start with '/'.", what, p))
	}
	if p == "/" {
		if params {
			return nil
		}
		return errorf(http.StatusBadRequest, "The base path must have a segment, e.g. /books.")
	}
	for _, s := range strings.Split(p[1:], "/") {
		if params && isParamSegment(s) {
			s = strings.ReplaceAll(s[1:len(s)-1], "_", "") // a name: letters, digits, _
		}
		if s == "" || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != "" {
			return errorf(http.StatusBadRequest, fmt.Sprintf("The %s '%s' is not valid: use segments of letters, digits and -._~%s.", what, p,
				map[bool]string{true: ", or {name} for a parameter", false: ""}[params]))
		}
	}
	return nil
}

// routeResponseTypes maps wsk's --response-type to web extensions.
var routeResponseTypes = map[string]string{"json": ".json", "http": ".http", "html": ".html", "svg": ".svg", "text": ".text"}

// serveRoute serves /api/<namespace><basePath><relPath> from the API
// routes: the longest base path of the namespace that has an API, then the
// route of the method whose path matches; the route's action runs as a web
// action with the path's parameters as parameters.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v1/") || s.cfg.Routes == nil {
		s.unrouted(w, r)
		return
	}
	if err := s.route(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	ns, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
	if actions.CheckNamespace(ns) != nil {
		return errorf(http.StatusNotFound, msgNotFound)
	}
	segs := strings.Split(rest, "/")
	for n := len(segs); n >= 1; n-- {
		base := "/" + strings.Join(segs[:n], "/")
		if segs[n-1] == "" {
			continue
		}
		api, _, err := s.cfg.Routes.Get(r.Context(), ns, base)
		if errors.Is(err, hub.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		rel := "/" + strings.Join(segs[n:], "/")
		var allowed []string
		for _, rt := range api.Routes {
			params, ok := match(rt.Path, rel)
			if !ok {
				continue
			}
			if !strings.EqualFold(rt.Method, r.Method) {
				allowed = append(allowed, strings.ToUpper(rt.Method))
				continue
			}
			a, err := s.webExported(r, rt.Action)
			if err != nil {
				return err
			}
			return s.runWeb(w, r, rt.Action, a, routeResponseTypes[rt.ResponseType], rel, params)
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return errorf(http.StatusMethodNotAllowed, msgMethod+strings.Join(allowed, ", ")+".")
		}
	}
	return errorf(http.StatusNotFound, msgNotFound)
}
