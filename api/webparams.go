package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gusthub/gust/hub"
)

// The parameters through which a web action sees its HTTP request, as
// OpenWhisk names them.
const (
	owMethod  = "__ow_method"
	owHeaders = "__ow_headers"
	owPath    = "__ow_path"
	owUser    = "__ow_user"
	owQuery   = "__ow_query"
	owBody    = "__ow_body"
)

// reservedWebParams are the parameters a request may not set itself.
var reservedWebParams = []string{owMethod, owHeaders, owPath, owUser, owQuery, owBody}

// webRequest is what a web action is told of the HTTP request that invokes
// it.
type webRequest struct {
	Method string
	// Header holds the request's headers; Host is added as "host".
	Header http.Header
	Host   string
	// Path is the part of the URL path after the action's name and
	// extension ("" or "/...").
	Path     string
	RawQuery string
	Body     []byte
	// User is the namespace of a caller who authenticated, "" for an
	// anonymous one.
	User string
	// PathParams are the parameters of an API route's path (/books/{id});
	// they win over the query's and the body's.
	PathParams map[string]string
}

// params turns the request into the action's parameters, as OpenWhisk
// does. A JSON object body and a form body are promoted to parameters over
// the query's (last wins); any other body is __ow_body, base64-encoded when
// it is binary (hub.IsBinary: the rule event data follows too). A raw action (raw-http) gets the query string
// as __ow_query and the body as __ow_body, base64 for JSON and binary
// content. Outside raw mode a request may not set a reserved __ow_
// parameter nor one of final (400).
func (q *webRequest) params(raw bool, final []string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{
		owMethod:  jsonString(strings.ToLower(q.Method)),
		owHeaders: q.headers(),
		owPath:    jsonString(q.Path),
	}
	if q.User != "" {
		out[owUser] = jsonString(q.User)
	}
	mediaType := requestMediaType(q.Header.Get("Content-Type"))
	if raw {
		out[owQuery] = jsonString(q.RawQuery)
		switch {
		case len(q.Body) == 0:
			out[owBody] = jsonString("")
		case isJSONMedia(mediaType) || hub.IsBinary(q.Header.Get("Content-Type"), q.Body):
			out[owBody] = jsonString(base64.StdEncoding.EncodeToString(q.Body))
		default:
			out[owBody] = jsonString(string(q.Body))
		}
		for k, v := range q.PathParams {
			out[k] = jsonString(v)
		}
		return out, nil
	}
	query, err := url.ParseQuery(q.RawQuery)
	if err != nil {
		return nil, malformed("the query string: " + err.Error())
	}
	given := map[string]json.RawMessage{}
	for k, vs := range query {
		given[k] = jsonString(vs[len(vs)-1])
	}
	var body json.RawMessage // a body that is not promoted
	switch {
	case len(q.Body) == 0:
	case isJSONMedia(mediaType):
		var v json.RawMessage
		if err := json.Unmarshal(q.Body, &v); err != nil {
			return nil, malformed(describeJSONError(err))
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(v, &fields) == nil && fields != nil {
			for k, x := range fields {
				given[k] = x
			}
		} else {
			body = v
		}
	case mediaType == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(q.Body))
		if err != nil {
			return nil, malformed("the form body: " + err.Error())
		}
		for k, vs := range form {
			given[k] = jsonString(vs[len(vs)-1])
		}
	case !hub.IsBinary(q.Header.Get("Content-Type"), q.Body):
		body = jsonString(string(q.Body))
	default:
		body = jsonString(base64.StdEncoding.EncodeToString(q.Body))
	}
	for k, v := range q.PathParams {
		given[k] = jsonString(v)
	}
	var reserved, overridden []string
	for k := range given {
		switch {
		case slices.Contains(reservedWebParams, k):
			reserved = append(reserved, k)
		case slices.Contains(final, k):
			overridden = append(overridden, k)
		}
	}
	if len(reserved) > 0 || len(overridden) > 0 {
		return nil, paramsNotAllowed(reserved, overridden, "")
	}
	for k, v := range given {
		out[k] = v
	}
	if body != nil {
		out[owBody] = body
	}
	return out, nil
}

// msgParamsNotAllowed is OpenWhisk's answer to a request that sets reserved
// or final parameters.
const msgParamsNotAllowed = "Request defines parameters that are not allowed (e.g., reserved properties)."

// paramsNotAllowed is a 400 with msgParamsNotAllowed, then which of the
// request's parameters are not allowed and why: reserved are __ow_
// parameters of a web request, final ones the action defines (or its
// package does) while its "final" annotation is true. A hint, when given,
// ends the message.
func paramsNotAllowed(reserved, final []string, hint string) error {
	msg := msgParamsNotAllowed
	if len(reserved) > 0 {
		msg += fmt.Sprintf(" The %s reserved: the __ow_ parameters of a web action come from its HTTP request.", paramsAre(reserved))
	}
	if len(final) > 0 {
		msg += fmt.Sprintf(" The action's %s final: its 'final' annotation is true (--web true and --web raw set it), "+
			"so a request may not override the parameters the action or its package defines.", paramsAre(final))
	}
	if hint != "" {
		msg += " " + hint
	}
	return errorf(http.StatusBadRequest, msg)
}

// paramsAre is "parameter 'a' is" or "parameters 'a', 'b' are".
func paramsAre(keys []string) string {
	if len(keys) == 1 {
		return "parameter " + quoteParams(keys) + " is"
	}
	return "parameters " + quoteParams(keys) + " are"
}

// quoteParams is parameter names for a message: "'a', 'b'", sorted.
func quoteParams(keys []string) string {
	keys = slices.Sorted(slices.Values(keys))
	return "'" + strings.Join(keys, "', '") + "'"
}

// headers is __ow_headers: the request's headers with lowercase names, the
// values of a repeated header joined with ", ".
func (q *webRequest) headers() json.RawMessage {
	m := make(map[string]string, len(q.Header)+1)
	for k, vs := range q.Header {
		m[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	if q.Host != "" {
		m["host"] = q.Host
	}
	b, _ := json.Marshal(m)
	return b
}

// requestMediaType is the media type of a request's Content-Type header,
// lowercase; application/octet-stream when it has none that parses.
func requestMediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	return mt
}

// isJSONMedia reports whether a media type is application/json or one of its
// +json family.
func isJSONMedia(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
