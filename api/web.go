package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// WebPrefix is where web actions are served:
// WebPrefix + "{namespace}/{package or default}/{action}[.{ext}][/rest]".
const WebPrefix = "/api/v1/web/"

// The annotations that make and shape a web action.
const (
	annWebExport     = "web-export"
	annRawHTTP       = "raw-http"
	annCustomOptions = "web-custom-options"
	annRequireAuth   = "require-whisk-auth"
	// headerRequireAuth carries the secret of a require-whisk-auth string.
	headerRequireAuth = "X-Require-Whisk-Auth"
)

// webMethods are the methods a web action answers.
const webMethods = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"

// defaultCORSHeaders is what a preflight may send unless it asks for more.
const defaultCORSHeaders = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"

// webAction serves an action annotated web-export over any method, without
// authentication unless the action requires it: the request becomes the
// action's parameters (webRequest.params) and its result the response
// (webResponse).
func (s *Server) webAction(w http.ResponseWriter, r *http.Request) {
	if err := s.serveWeb(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions:
	default:
		w.Header().Set("Allow", webMethods)
		return errorf(http.StatusMethodNotAllowed, msgMethod+webMethods+".")
	}
	n, ext, rest, err := parseWebPath(strings.TrimPrefix(r.URL.Path, WebPrefix))
	if err != nil {
		return err
	}
	if n.Namespace == actions.SystemNamespace && n.Package == apiManagementPackage {
		return s.apiManagement(w, r, n.Name)
	}
	a, err := s.webExported(r, n)
	if err != nil {
		return err
	}
	return s.runWeb(w, r, n, a, ext, rest, nil)
}

// runWeb runs the web action a, named n, for r and answers with its result
// projected on extension ext; rest is __ow_path, and pathParams (of an API
// route) are parameters too.
func (s *Server) runWeb(w http.ResponseWriter, r *http.Request, n actions.Name, a *actions.Action, ext, rest string, pathParams map[string]string) error {
	caller := s.webCaller(r)
	if !a.Annotations.IsTrue(annCustomOptions) {
		setWebCORS(w.Header(), r)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	if r.Method != http.MethodOptions && !webAuthorized(a, r, caller) {
		if string(a.Annotations.Get(annRequireAuth)) == "true" {
			w.Header().Set("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
		}
		return errorf(http.StatusUnauthorized, msgUnauthorized)
	}
	body, err := readBody(r, maxBodyBytes)
	if err != nil {
		return err
	}
	req := webRequest{Method: r.Method, Header: r.Header, Host: r.Host, Path: rest, RawQuery: r.URL.RawQuery, Body: body, PathParams: pathParams}
	if caller != nil {
		req.User = caller.Namespace
		req.Header = r.Header.Clone() // the caller's key is not the action's to see
		req.Header.Del("Authorization")
	}
	params, err := req.params(a.Annotations.IsTrue(annRawHTTP), a.FinalParameters())
	if err != nil {
		return err
	}
	if s.cfg.Activator == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	inv := s.newInvocation(r, a, n.Namespace) // web actions run as their owner
	if inv.Payload, err = json.Marshal(params); err != nil {
		return err
	}
	rec, err := s.activate(r.Context(), w, inv, s.blockingWait())
	if err != nil {
		return err
	}
	if rec == nil {
		return errorf(http.StatusAccepted, msgResponseNotReady)
	}
	result := rec.Response.Result
	switch rec.Response.StatusCode {
	case actions.StatusSuccess:
	case actions.StatusApplicationError:
		fields, _ := objectFields(result)
		var ok bool
		if result, ok = fields["error"]; !ok {
			return errorf(http.StatusNotFound, msgPropertyNotFound)
		}
	default:
		return errorf(http.StatusBadRequest, msgErrorProcessing)
	}
	resp, err := webResponse(ext, result)
	if err != nil {
		return err
	}
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
	return nil
}

// parseWebPath reads "{namespace}/{package or default}/{action}[.ext][/rest]".
func parseWebPath(p string) (n actions.Name, ext, rest string, err error) {
	parts := strings.SplitN(p, "/", 4)
	if len(parts) < 3 {
		return n, "", "", errorf(http.StatusNotFound, msgNotFound)
	}
	n.Namespace = parts[0]
	if parts[1] != "default" {
		n.Package = parts[1]
	}
	n.Name, ext = splitExtension(parts[2])
	if len(parts) == 4 {
		rest = "/" + parts[3]
	}
	if actions.CheckNamespace(n.Namespace) != nil || actions.CheckName(n.Name) != nil ||
		(n.Package != "" && actions.CheckName(n.Package) != nil) {
		return n, "", "", errorf(http.StatusNotFound, msgNotFound)
	}
	return n, ext, rest, nil
}

// webExported returns the action n when it is a web action (web-export),
// resolved as its own namespace sees it; anything else is 404, whatever
// the reason, so that callers learn nothing of what a namespace holds.
func (s *Server) webExported(r *http.Request, n actions.Name) (*actions.Action, error) {
	a, err := actions.Resolve(r.Context(), s.cfg.Invocations, n, n.Namespace, false)
	var invalid *actions.InvalidError
	switch {
	case err == nil:
	case errors.Is(err, hub.ErrNotFound), errors.Is(err, actions.ErrForbidden), errors.As(err, &invalid):
		return nil, errorf(http.StatusNotFound, msgNotFound)
	default:
		return nil, err
	}
	if !a.Annotations.IsTrue(annWebExport) {
		return nil, errorf(http.StatusNotFound, msgNotFound)
	}
	return a, nil
}

// webCaller is the identity of a caller who sent a valid namespace key, nil
// for an anonymous caller (or one whose key is not valid: web actions are
// public unless they require authentication).
func (s *Server) webCaller(r *http.Request) *Identity {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	id, err := s.cfg.Identities.Authenticate(r.Context(), user, pass)
	if err != nil {
		return nil
	}
	return id
}

// webAuthorized applies require-whisk-auth: true needs a caller with a
// valid namespace key, a string (or number) needs that value in the
// X-Require-Whisk-Auth header. Without the annotation, or with false,
// anyone may call.
func webAuthorized(a *actions.Action, r *http.Request, caller *Identity) bool {
	v := a.Annotations.Get(annRequireAuth)
	if v == nil || !a.Annotations.IsTrue(annRequireAuth) {
		return true
	}
	var secret string
	switch {
	case string(v) == "true":
		return caller != nil
	case json.Unmarshal(v, &secret) == nil:
	case len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')):
		secret = string(v)
	default:
		return false
	}
	got := r.Header.Get(headerRequireAuth)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1
}

// setWebCORS sets the CORS headers of a web action that leaves OPTIONS to
// Gust: any origin, the web methods, and the headers a preflight asks for.
func setWebCORS(h http.Header, r *http.Request) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", webMethods)
	if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
		h.Set("Access-Control-Allow-Headers", asked)
	} else {
		h.Set("Access-Control-Allow-Headers", defaultCORSHeaders)
	}
}

// blockingWait is how long a web request waits for its activation before
// answering 202.
func (s *Server) blockingWait() time.Duration {
	if s.cfg.BlockingWait > 0 {
		return s.cfg.BlockingWait
	}
	return maxBlockingWait
}
