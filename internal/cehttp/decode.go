package cehttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
)

// MaxBatch bounds the events of one batch request.
const MaxBatch = 1000

// Mode is a content mode of the CloudEvents HTTP binding.
type Mode string

// The content modes.
const (
	Binary     Mode = "binary"
	Structured Mode = "structured"
	Batch      Mode = "batch"
)

// Error is what is wrong with a request: the HTTP status to answer (400,
// or 413 for a batch of more than MaxBatch events) and why.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// IsCloudEvent reports whether a request with header h says it carries
// CloudEvents: a CloudEvents format as its Content-Type, or the
// ce-specversion header of binary mode. (Decode also rejects other ce-
// headers without ce-specversion; a trigger fire may carry Gust's hop
// counter as ce-gusthops on a plain payload.)
func IsCloudEvent(h http.Header) bool {
	return format.IsFormat(mediaType(h)) || h.Get("ce-specversion") != ""
}

// mediaType is h's Content-Type without parameters, in lower case.
func mediaType(h http.Header) string {
	return strings.ToLower(strings.TrimSpace(strings.SplitN(h.Get("Content-Type"), ";", 2)[0]))
}

// Decode reads the CloudEvents of a request whose body is body, in the
// mode its headers say. Every event is checked: what is wrong is an
// *Error that names the attribute.
func Decode(h http.Header, body []byte) ([]event.Event, Mode, error) {
	ct := h.Get("Content-Type")
	switch mt := mediaType(h); {
	case mt == event.ApplicationCloudEventsBatchJSON:
		evs, err := decodeBatch(body)
		return evs, Batch, err
	case mt == event.ApplicationCloudEventsJSON:
		ev, err := decodeStructured(body)
		if err != nil {
			return nil, Structured, err
		}
		return []event.Event{ev}, Structured, nil
	case format.IsFormat(mt):
		return nil, Structured, bad("Content-Type %q is not a CloudEvents format Gust reads: send %s, %s, or binary mode (ce- headers)",
			ct, event.ApplicationCloudEventsJSON, event.ApplicationCloudEventsBatchJSON)
	case h.Get("ce-specversion") != "":
		ev, err := decodeBinary(h, body)
		return []event.Event{ev}, Binary, err
	}
	if hasCEHeader(h) {
		return nil, Binary, bad("CloudEvent attribute 'specversion' is missing: binary mode needs a ce-specversion header")
	}
	return nil, "", bad("The request is not a CloudEvent: send binary mode (ce-specversion, ce-id, ce-source, ce-type headers), "+
		"or Content-Type %s (structured) or %s (batch), not %q", event.ApplicationCloudEventsJSON, event.ApplicationCloudEventsBatchJSON, ct)
}

func bad(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func hasCEHeader(h http.Header) bool {
	for k := range h {
		if len(k) > 3 && strings.EqualFold(k[:3], "ce-") {
			return true
		}
	}
	return false
}

// decodeBinary reads a binary-mode event: attributes and extensions in
// ce- headers (percent-decoded, as the HTTP binding says), the body as
// data, Content-Type as datacontenttype.
func decodeBinary(h http.Header, body []byte) (event.Event, error) {
	sv := h.Get("ce-specversion")
	version := spec.VS.Version(sv)
	if version == nil {
		return event.Event{}, bad("CloudEvent attribute 'specversion' must be %s or %s, not %q", event.CloudEventsVersionV1, event.CloudEventsVersionV03, sv)
	}
	ev := event.Event{Context: version.NewContext()}
	for k, vs := range h {
		name, ok := cutFold(k, "ce-")
		if !ok || len(vs) == 0 {
			continue
		}
		name = strings.ToLower(name)
		if err := checkName(name); err != nil {
			return event.Event{}, err
		}
		if name == "specversion" {
			continue
		}
		if name == "datacontenttype" {
			return event.Event{}, bad("CloudEvent attribute 'datacontenttype' goes in the Content-Type header in binary mode, not in ce-datacontenttype")
		}
		v, err := headerValue(vs[0])
		if err != nil {
			return event.Event{}, bad("CloudEvent attribute '%s': %v", name, err)
		}
		if a := version.Attribute(name); a != nil {
			err = a.Set(ev.Context, v)
		} else {
			err = ev.Context.SetExtension(name, v)
		}
		if err != nil {
			return event.Event{}, bad("CloudEvent attribute '%s' is not valid: %v", name, err)
		}
	}
	if len(body) > 0 {
		if ct := h.Get("Content-Type"); ct != "" {
			ev.SetDataContentType(ct)
			if isJSONType(ct) && !json.Valid(body) {
				return event.Event{}, bad("CloudEvent attribute 'datacontenttype' is %s, but the data is not valid JSON", ct)
			}
		}
		ev.DataEncoded = body
	}
	return ev, check(ev)
}

// isJSONType reports whether the media type ct is JSON: application/json
// or a +json suffix.
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// cutFold is strings.CutPrefix ignoring case.
func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// headerValue decodes a binary-mode header value (HTTP binding 3.1.3.2):
// a double-quoted string is unquoted, then percent-escapes are decoded.
// A value with a stray '%' (as SDKs that do not encode send it) is taken
// as it is; escapes that decode to invalid UTF-8 are an error.
func headerValue(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
	}
	if !strings.Contains(v, "%") {
		return v, nil
	}
	d, err := url.PathUnescape(v)
	if err != nil {
		return v, nil
	}
	if !utf8.ValidString(d) {
		return "", errors.New("its percent-encoded bytes are not UTF-8")
	}
	return d, nil
}

// decodeStructured reads one event in the JSON format with the SDK, and
// on failure finds which attribute is wrong.
func decodeStructured(b []byte) (event.Event, error) {
	if err := checkMembers(b); err != nil {
		return event.Event{}, err
	}
	var ev event.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return event.Event{}, explain(b, err)
	}
	return ev, check(ev)
}

// checkMembers applies the JSON format's rules that the SDK lets pass:
// attribute names are lower-case letters and digits (CloudEvents 1.0,
// "Attribute Naming Convention"), and an event has data or data_base64,
// not both (JSON format 3.1). A body that is not a JSON object is left to
// the SDK and explain.
func checkMembers(b []byte) error {
	var members map[string]json.RawMessage
	if json.Unmarshal(b, &members) != nil {
		return nil
	}
	_, data := members["data"]
	_, data64 := members["data_base64"]
	if data && data64 {
		return bad("A CloudEvent has 'data' or 'data_base64', not both (CloudEvents JSON format, section 3.1)")
	}
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == "data" || k == "data_base64" {
			continue
		}
		if err := checkName(k); err != nil {
			return err
		}
	}
	return nil
}

// checkName refuses an attribute name that is not lower-case ASCII
// letters and digits.
func checkName(name string) error {
	if name == "" {
		return bad("CloudEvent attribute names must not be empty (CloudEvents 1.0, attribute naming convention)")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return bad("CloudEvent attribute name '%s' must consist of lower-case letters a-z and digits 0-9 only (CloudEvents 1.0, attribute naming convention)", name)
		}
	}
	return nil
}

// stringAttributes are the context attributes that must be JSON strings.
var stringAttributes = []string{"specversion", "id", "source", "type", "subject", "datacontenttype", "dataschema", "schemaurl", "time"}

// explain turns the SDK's error for a structured event into one that names
// the attribute.
func explain(b []byte, sdkErr error) error {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(b, &attrs); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return bad("The structured CloudEvent is not valid JSON (at byte %d): %v", syn.Offset, err)
		}
		return bad("A structured CloudEvent must be a JSON object: %v", err)
	}
	raw, ok := attrs["specversion"]
	if !ok {
		return bad("CloudEvent attribute 'specversion' is missing")
	}
	var sv string
	if json.Unmarshal(raw, &sv) != nil || spec.VS.Version(sv) == nil {
		return bad("CloudEvent attribute 'specversion' must be %q or %q, not %s", event.CloudEventsVersionV1, event.CloudEventsVersionV03, raw)
	}
	for _, name := range stringAttributes {
		if raw, ok := attrs[name]; ok {
			var s string
			if json.Unmarshal(raw, &s) != nil && !bytes.Equal(raw, []byte("null")) {
				return bad("CloudEvent attribute '%s' must be a string, not %s", name, raw)
			}
		}
	}
	var ve event.ValidationError
	if errors.As(sdkErr, &ve) {
		return validationError(ve)
	}
	msg := sdkErr.Error()
	switch {
	case strings.Contains(msg, "media type"), strings.Contains(msg, "datacontenttype"):
		return bad("CloudEvent attribute 'datacontenttype' does not fit the data: %v", sdkErr)
	case strings.Contains(msg, "time"), strings.Contains(msg, "Timestamp"):
		return bad("CloudEvent attribute 'time' must be an RFC 3339 time: %v", sdkErr)
	case strings.Contains(msg, "data_base64"), strings.Contains(msg, "base64"):
		return bad("CloudEvent member 'data_base64' must be base64: %v", sdkErr)
	}
	return bad("The structured CloudEvent is not valid: %v", sdkErr)
}

// check returns a 400 naming the first attribute that is missing or
// wrong.
func check(ev event.Event) error {
	if ev.Context == nil {
		return bad("CloudEvent attribute 'specversion' is missing")
	}
	for _, a := range []struct{ name, v string }{{"id", ev.ID()}, {"source", ev.Source()}, {"type", ev.Type()}} {
		if strings.TrimSpace(a.v) == "" {
			return bad("CloudEvent attribute '%s' is missing", a.name)
		}
	}
	if err := ev.Validate(); err != nil {
		var ve event.ValidationError
		if errors.As(err, &ve) {
			return validationError(ve)
		}
		return bad("The CloudEvent is not valid: %v", err)
	}
	if ct := ev.DataContentType(); ct != "" {
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			return bad("CloudEvent attribute 'datacontenttype' is not a media type: %q", ct)
		}
	}
	return nil
}

// validationError names the attributes of the SDK's validation error, in
// order.
func validationError(ve event.ValidationError) error {
	names := make([]string, 0, len(ve))
	for k := range ve {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("attribute '%s' %v", k, ve[k])
	}
	return bad("Invalid CloudEvent: %s", strings.Join(parts, "; "))
}

// decodeBatch reads a JSON batch: an array of structured events, all
// checked before any is emitted.
func decodeBatch(b []byte) ([]event.Event, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, bad("A CloudEvents batch must be a JSON array of structured events: %v", err)
	}
	switch {
	case len(raws) == 0:
		return nil, bad("The CloudEvents batch is empty")
	case len(raws) > MaxBatch:
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("A batch may hold at most %d CloudEvents, not %d.", MaxBatch, len(raws))}
	}
	evs := make([]event.Event, len(raws))
	for i, raw := range raws {
		ev, err := decodeStructured(raw)
		if err != nil {
			return nil, bad("Event %d of the batch: %s", i, err)
		}
		evs[i] = ev
	}
	return evs, nil
}
