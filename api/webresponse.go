package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// webExtensions are the response types a web action's URL may ask for; a
// name without one of them is served as .http.
var webExtensions = []string{".http", ".json", ".html", ".svg", ".text"}

// splitExtension splits a web action's URL segment into the action's name
// and its extension (".http" when it has none of webExtensions).
func splitExtension(seg string) (name, ext string) {
	for _, e := range webExtensions {
		if base, ok := strings.CutSuffix(seg, e); ok && base != "" {
			return base, e
		}
	}
	return seg, ".http"
}

// webReply is the HTTP response a web action's result makes.
type webReply struct {
	status int
	header http.Header
	body   []byte
}

// OpenWhisk's messages for results that make no response of their
// extension.
const (
	msgPropertyNotFound    = "Response does not include requested property."
	msgUnknownContentType  = "Response did not specify a known content-type."
	msgContentTypeMismatch = "Response type in header did not match generated content type."
	msgErrorProcessing     = "There was an error processing your request."
	msgResponseNotReady    = "Response not yet ready."
)

func invalidMedia(mediaType string) error {
	return errorf(http.StatusBadRequest, "Response is not valid '"+mediaType+"'.")
}

// webResponse projects a web action's result (already the "error" field
// for an application error) onto the response of extension ext, by
// OpenWhisk's rules: .json answers an object or array, .html and .svg the
// string in body (or html/svg), .text the body (or text) field as text, and
// .http the statusCode, headers and body the result describes.
func webResponse(ext string, result json.RawMessage) (*webReply, error) {
	result = bytes.TrimSpace(result)
	fields, isObject := objectFields(result)
	field := func(names ...string) (json.RawMessage, bool) {
		if !isObject {
			return result, true
		}
		for _, n := range names {
			if v, ok := fields[n]; ok {
				return v, true
			}
		}
		return nil, false
	}
	switch ext {
	case ".json":
		if len(result) == 0 || (result[0] != '{' && result[0] != '[') {
			return nil, invalidMedia("application/json")
		}
		var b bytes.Buffer
		if err := json.Compact(&b, result); err != nil {
			return nil, invalidMedia("application/json")
		}
		return reply(http.StatusOK, "application/json", unescapeHTML(b.Bytes())), nil
	case ".html", ".svg":
		kind, mediaType, contentType := "html", "text/html", "text/html; charset=UTF-8"
		if ext == ".svg" {
			kind, mediaType, contentType = "svg", "image/svg+xml", "image/svg+xml"
		}
		v, _ := field("body", kind)
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, invalidMedia(mediaType)
		}
		return reply(http.StatusOK, contentType, []byte(s)), nil
	case ".text":
		v, ok := field("body", "text")
		if !ok {
			return nil, errorf(http.StatusNotFound, msgPropertyNotFound)
		}
		return reply(http.StatusOK, "text/plain; charset=UTF-8", textOf(v)), nil
	}
	if !isObject {
		return nil, invalidMedia("message/http")
	}
	return httpResponse(fields)
}

func reply(status int, contentType string, body []byte) *webReply {
	return &webReply{status: status, header: http.Header{"Content-Type": {contentType}}, body: body}
}

// objectFields decodes v when it is a JSON object.
func objectFields(v json.RawMessage) (map[string]json.RawMessage, bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return nil, false
	}
	return m, true
}

// textOf is a JSON value as .text shows it: a string as itself, an object
// or array indented, anything else as its JSON.
func textOf(v json.RawMessage) []byte {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return []byte(s)
	}
	if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
		var b bytes.Buffer
		if json.Indent(&b, v, "", "  ") == nil {
			return unescapeHTML(b.Bytes())
		}
	}
	return unescapeHTML(v)
}

// httpResponse is the response a .http result describes: statusCode (200,
// or 204 without a body), headers (arrays for repeated ones) and body. A
// string body is text for a text content type (text/html by default) and
// base64 for a binary one; any other JSON body is sent as JSON.
func httpResponse(fields map[string]json.RawMessage) (*webReply, error) {
	header := http.Header{}
	if raw, ok := fields["headers"]; ok && !isNull(raw) {
		hs, ok := objectFields(raw)
		if !ok {
			return nil, invalidMedia("message/http")
		}
		for k, v := range hs {
			if !validHeaderName(k) {
				return nil, invalidMedia("message/http")
			}
			if err := addHeaderValues(header, k, v); err != nil {
				return nil, err
			}
		}
	}
	status := 0
	if raw, ok := fields["statusCode"]; ok && !isNull(raw) {
		c, err := statusCodeOf(raw)
		if err != nil {
			return nil, err
		}
		status = c
	}
	or := func(def int) int {
		if status == 0 {
			return def
		}
		return status
	}
	contentType := header.Get("Content-Type")
	header.Del("Content-Type")
	body := bytes.TrimSpace(fields["body"])
	var str string
	switch {
	case len(body) == 0 || isNull(body) || (json.Unmarshal(body, &str) == nil && str == ""):
		return &webReply{status: or(http.StatusNoContent), header: header}, nil
	case body[0] != '"': // JSON
		if contentType == "" {
			contentType = "application/json"
		}
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, msgUnknownContentType)
		}
		var b bytes.Buffer
		if mt == "application/json" {
			contentType = "application/json"
			err = json.Compact(&b, body)
		} else if isJSONMedia(mt) {
			contentType = mt + "; charset=UTF-8"
			err = json.Indent(&b, body, "", "  ")
		} else {
			return nil, errorf(http.StatusBadRequest, msgContentTypeMismatch)
		}
		if err != nil {
			return nil, invalidMedia("message/http")
		}
		header.Set("Content-Type", contentType)
		return &webReply{status: or(http.StatusOK), header: header, body: unescapeHTML(b.Bytes())}, nil
	}
	if contentType == "" {
		contentType = "text/html"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.Contains(mt, "/") {
		return nil, errorf(http.StatusBadRequest, msgUnknownContentType)
	}
	text := !hub.IsBinary(contentType, nil)
	var data []byte
	switch {
	case isJSONMedia(mt) && actions.IsBinaryCode(str):
		// legacy: JSON that an action sent as base64
		data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(str))
	case text:
		data = []byte(str)
	default:
		data, err = base64.StdEncoding.DecodeString(str)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, msgContentTypeMismatch)
	}
	if text && params["charset"] == "" {
		if params == nil {
			params = map[string]string{}
		}
		params["charset"] = "UTF-8"
	}
	header.Set("Content-Type", mime.FormatMediaType(mt, params))
	return &webReply{status: or(http.StatusOK), header: header, body: data}, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// statusCodeOf reads a result's statusCode: an integer, or a string that
// holds one, that Go's server can send as a final status.
func statusCodeOf(raw json.RawMessage) (int, error) {
	var s string
	text := string(raw)
	if json.Unmarshal(raw, &s) == nil {
		text = s
	}
	c, err := strconv.Atoi(text)
	if err != nil || c < 200 || c > 599 {
		return 0, invalidMedia("message/http")
	}
	return c, nil
}

// addHeaderValues adds a result's header k: a string, number or boolean, or
// an array of them for a repeated header (Set-Cookie).
func addHeaderValues(h http.Header, k string, v json.RawMessage) error {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return invalidMedia("message/http")
	}
	switch v[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return invalidMedia("message/http")
		}
		for _, it := range items {
			if err := addHeaderValues(h, k, it); err != nil {
				return err
			}
		}
		return nil
	case '{', 'n':
		return invalidMedia("message/http")
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil || strings.ContainsAny(s, "\r\n\x00") {
			return invalidMedia("message/http")
		}
		h.Add(k, s)
		return nil
	}
	h.Add(k, string(v)) // a number or a boolean, as written
	return nil
}

// validHeaderName reports whether k is an HTTP token, as header names must
// be.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// unescapeHTML undoes Go's escaping of <, > and & in JSON strings
// (\u003c, \u003e, \u0026), which results pick up on their way through
// Gust, so that a web response shows them as the action wrote them.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch strings.ToLower(string(b[i+2 : i+6])) {
			case "003c":
				out = append(out, '<')
				i += 5
				continue
			case "003e":
				out = append(out, '>')
				i += 5
				continue
			case "0026":
				out = append(out, '&')
				i += 5
				continue
			}
		}
		out = append(out, b[i], b[i+1]) // any other escape, kept whole
		i++
	}
	return out
}
