package feeds

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Params are a feed's parameters, each as the JSON the user gave. The
// getters accept what wsk sends: `-p minutes 5` arrives as the number 5 and
// `-p strict true` as the boolean, but strings that hold them are taken too.
// A getter's error is a *ParamError naming the parameter.
type Params map[string]json.RawMessage

// Has reports whether name is set to something other than null or "".
func (p Params) Has(name string) bool {
	v, ok := p[name]
	if !ok {
		return false
	}
	v = bytes.TrimSpace(v)
	return len(v) > 0 && !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte(`""`))
}

// Set sets name to v encoded as JSON.
func (p Params) Set(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("feeds: parameter " + name + " is not JSON: " + err.Error())
	}
	p[name] = b
}

// String returns the string parameter name; ok is false when it is unset.
func (p Params) String(name string) (s string, ok bool, err error) {
	if !p.Has(name) {
		return "", false, nil
	}
	if err := json.Unmarshal(p[name], &s); err != nil {
		return "", false, Invalid(name, "must be a string")
	}
	return s, true, nil
}

// RequiredString is String for a parameter that must be set.
func (p Params) RequiredString(name string) (string, error) {
	s, ok, err := p.String(name)
	if err == nil && (!ok || strings.TrimSpace(s) == "") {
		err = Invalid(name, "is required")
	}
	return s, err
}

// Int returns the integer parameter name, given as a number or a string.
func (p Params) Int(name string) (n int64, ok bool, err error) {
	if !p.Has(name) {
		return 0, false, nil
	}
	var f float64
	raw := p[name]
	if s, isString, _ := p.String(name); isString {
		raw = []byte(strings.TrimSpace(s))
	}
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false, Invalid(name, "must be an integer, not %s", p[name])
	}
	return int64(f), true, nil
}

// Bool returns the boolean parameter name, given as true/false or as the
// strings "true"/"false".
func (p Params) Bool(name string) (b, ok bool, err error) {
	if !p.Has(name) {
		return false, false, nil
	}
	if json.Unmarshal(p[name], &b) == nil {
		return b, true, nil
	}
	if s, _, _ := p.String(name); s == "true" || s == "false" {
		return s == "true", true, nil
	}
	return false, false, Invalid(name, "must be true or false, not %s", p[name])
}

// Time returns the time parameter name: milliseconds since the epoch, or
// an ISO 8601 / RFC 3339 string, as OpenWhisk's alarms take them.
func (p Params) Time(name string) (t time.Time, ok bool, err error) {
	if !p.Has(name) {
		return time.Time{}, false, nil
	}
	var ms float64
	if json.Unmarshal(p[name], &ms) == nil {
		return time.UnixMilli(int64(ms)), true, nil
	}
	s, _, err := p.String(name)
	if err != nil {
		return time.Time{}, false, Invalid(name, "must be a date: milliseconds since 1970 or an ISO 8601 string")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(n), true, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, Invalid(name, "is not a date: %q (use ISO 8601, e.g. 2026-11-24T15:04:05Z, or milliseconds since 1970)", s)
}

// Clone returns a copy of p that shares no map with it.
func (p Params) Clone() Params {
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}
