package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// readBody reads the request body up to limit bytes, answering 413 with
// OpenWhisk's message when it is larger.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Request larger than allowed: %d > %d bytes.", r.ContentLength, limit))
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	var timeout *bodyTimeoutError
	switch {
	case errors.As(err, &timeout):
		return nil, timeout
	case err != nil:
		return nil, errorf(http.StatusBadRequest, "Failed extracting request body.")
	}
	if int64(len(b)) > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Request larger than allowed: more than %d bytes.", limit))
	}
	return b, nil
}

// decodeStream decodes a JSON object body of at most limit bytes into v as
// it arrives, so that a body that is not JSON is refused at its first wrong
// byte, not after it was all read. It returns the body's length. An empty
// body decodes as {}.
func decodeStream(r *http.Request, limit int64, v any) (int64, error) {
	if r.ContentLength > limit {
		return 0, errorf(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Request larger than allowed: %d > %d bytes.", r.ContentLength, limit))
	}
	cr := &countingReader{r: io.LimitReader(r.Body, limit+1)}
	br := bufio.NewReader(cr)
	tooLarge := func() error {
		return errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("Request larger than allowed: more than %d bytes.", limit))
	}
	readErr := func(err error) error {
		var timeout *bodyTimeoutError
		if errors.As(err, &timeout) {
			return timeout
		}
		return errorf(http.StatusBadRequest, "Failed extracting request body.")
	}
	// The first byte that is not space: an object, or nothing.
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return cr.n, decodeObject(nil, v)
		}
		if err != nil {
			return cr.n, readErr(err)
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c != '{' {
			return cr.n, malformed("expected a JSON object")
		}
		_ = br.UnreadByte()
		break
	}
	dec := json.NewDecoder(br)
	err := dec.Decode(v)
	switch {
	case cr.n > limit:
		return cr.n, tooLarge()
	case cr.err != nil && !errors.Is(cr.err, io.EOF):
		return cr.n, readErr(cr.err)
	case err != nil:
		return cr.n, malformed(describeJSONError(err))
	}
	if dec.More() {
		return cr.n, malformed("unexpected data after the JSON object")
	}
	if cr.n > limit {
		return cr.n, tooLarge()
	}
	return cr.n, nil
}

// countingReader counts the bytes read through it and keeps the first
// error that is not EOF.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// decodeBody decodes a JSON object body into v; an empty body decodes as {}.
func decodeBody(r *http.Request, limit int64, v any) error {
	b, err := readBody(r, limit)
	if err != nil {
		return err
	}
	return decodeObject(b, v)
}

// decodeObject decodes b, which must be one JSON object (or empty), into v,
// with messages that name the offending field.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		b = []byte("{}")
	}
	if b[0] != '{' {
		return malformed("expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return malformed(describeJSONError(err))
	}
	if dec.More() {
		return malformed("unexpected data after the JSON object")
	}
	return nil
}

func malformed(detail string) error {
	return errorf(http.StatusBadRequest, msgMalformedStart+detail)
}

// describeJSONError turns a decoding error into a message that names the
// field and the JSON types, not Go's.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the body"
		} else {
			field = "field '" + field + "'"
		}
		return fmt.Sprintf("%s must be %s, not %s", field, jsonKind(te.Type), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return msg
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// listParams are the paging parameters of a list request.
type listParams struct {
	skip, limit int
	count       bool
}

// Paging bounds of list requests, as OpenWhisk's.
const (
	defaultListLimit = 30
	maxListLimit     = 200
)

// parseList reads skip, limit (0 = the maximum) and count for collection.
func parseList(r *http.Request, collection string) (listParams, error) {
	q := r.URL.Query()
	p := listParams{limit: defaultListLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, errorf(http.StatusBadRequest, fmt.Sprintf("The value '%s' is not an integer for %s.", v, collection))
		}
		if n < 0 || n > maxListLimit {
			return p, errorf(http.StatusBadRequest, fmt.Sprintf("The value '%d' is not in the range of 0 to %d for %s.", n, maxListLimit, collection))
		}
		p.limit = n
		if n == 0 {
			p.limit = maxListLimit
		}
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, errorf(http.StatusBadRequest, fmt.Sprintf("The value '%s' is not an integer for %s.", v, collection))
		}
		if n < 0 {
			return p, errorf(http.StatusBadRequest, fmt.Sprintf("The value '%d' is not greater than or equal to 0 for %s.", n, collection))
		}
		p.skip = n
	}
	c, err := queryBool(r, "count")
	if err != nil {
		return p, err
	}
	p.count = c
	return p, nil
}

// page applies skip and limit to items.
func page[T any](items []T, p listParams) []T {
	if p.skip >= len(items) {
		return []T{}
	}
	items = items[p.skip:]
	if len(items) > p.limit {
		items = items[:p.limit]
	}
	return items
}

// queryBool reads a boolean query parameter; absent is false.
func queryBool(r *http.Request, name string) (bool, error) {
	return boolParam(r.URL.Query(), name)
}

// boolParam is queryBool on a query parsed once for several parameters.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	switch strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errorf(http.StatusBadRequest, fmt.Sprintf("The value '%s' of parameter '%s' is not a boolean.", v, name))
}

// queryBoolDefault is queryBool with a default for an absent parameter.
func queryBoolDefault(r *http.Request, name string, def bool) (bool, error) {
	if !r.URL.Query().Has(name) {
		return def, nil
	}
	return queryBool(r, name)
}

// mergeJSON encodes v, which must encode as a JSON object, with the extra
// fields added.
func mergeJSON(v any, extra map[string]any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, x := range extra {
		xb, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		m[k] = xb
	}
	return json.Marshal(m)
}

// entityPut is a PUT of an entity of the caller's own namespace: its name,
// the entity it makes, and the one it replaces (nil when new) with that
// one's revision.
type entityPut[T any] struct {
	name    actions.Name
	next    T
	current *T
	rev     uint64
}

// readPut reads a PUT of an entity of the caller's own namespace (a
// package, trigger or rule): its name, its body B applied to the entity it
// replaces, which get reads (see replaced).
func readPut[T, B any, PB interface {
	*B
	Apply(current *T, n actions.Name, now time.Time) (T, error)
}](s *Server, r *http.Request, id *Identity, get func(context.Context, actions.Name) (*T, uint64, error)) (entityPut[T], error) {
	n, err := ownName(r, id)
	if err != nil {
		return entityPut[T]{}, err
	}
	var body B
	if err := decodeBody(r, maxBodyBytes, &body); err != nil {
		return entityPut[T]{}, err
	}
	current, rev, err := replaced(r, n, get)
	if err != nil {
		return entityPut[T]{}, err
	}
	next, err := PB(&body).Apply(current, n, s.now())
	if err != nil {
		return entityPut[T]{}, err
	}
	return entityPut[T]{name: n, next: next, current: current, rev: rev}, nil
}

// replaced reads ?overwrite and the entity named n that a PUT replaces
// (get reads it), and applies replacing to them.
func replaced[T any](r *http.Request, n actions.Name, get func(context.Context, actions.Name) (*T, uint64, error)) (*T, uint64, error) {
	overwrite, err := queryBool(r, "overwrite")
	if err != nil {
		return nil, 0, err
	}
	current, rev, err := get(r.Context(), n)
	return replacing(current, rev, err, overwrite)
}

// replacing applies OpenWhisk's overwrite rule to the store's answer for the
// entity a PUT names: 409 when it exists and the request did not ask to
// overwrite it, nil and 0 when there is none, the entity and its revision
// otherwise.
func replacing[T any](current *T, rev uint64, err error, overwrite bool) (*T, uint64, error) {
	switch {
	case err == nil && !overwrite:
		return nil, 0, errorf(http.StatusConflict, msgExists)
	case errors.Is(err, hub.ErrNotFound):
		return nil, 0, nil
	case err != nil:
		return nil, 0, err
	}
	return current, rev, nil
}
