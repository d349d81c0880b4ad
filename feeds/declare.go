package feeds

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a feed parameter (Param.Type). The framework parses
// each declared parameter by its type before New runs (Provider.Build), so
// New reads typed values (Config.Values) and never a parameter it did not
// declare.
type Type uint8

// Parameter types. The getters of Values name the type they read.
const (
	// JSON is any JSON value, taken as it is (Values.JSON); the zero Type.
	JSON Type = iota
	// String is a JSON string (Values.String). A required string must not
	// be blank.
	String
	// Int is a whole number, given as a JSON number or a string that holds
	// one (Values.Int).
	Int
	// Bool is true or false, given as a JSON boolean or the strings "true"
	// and "false" (Values.Bool).
	Bool
	// Duration is a Go duration string such as "1m30s", or a number of
	// milliseconds (Values.Duration).
	Duration
	// Time is a date: milliseconds since 1970, or an ISO 8601 / RFC 3339
	// string, as OpenWhisk's alarms take them (Values.Time).
	Time
	// Enum is one of Param.Enum, matched regardless of case and given as a
	// string, boolean or number (Values.String returns the declared
	// spelling).
	Enum
)

var typeNames = [...]string{JSON: "JSON", String: "string", Int: "integer", Bool: "boolean", Duration: "duration", Time: "date", Enum: "enum"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Values are a feed's parameters parsed as its Provider declares them:
// every declared parameter that was given has a value of its Type, and
// absent ones their Param.Default. A getter panics when asked for a
// parameter the provider did not declare, or as another type than declared:
// a programming error that any test building the feed finds.
type Values struct {
	decl map[string]Param
	vals map[string]any // parsed value by name; absent: not given, no default
	raw  Params
}

// ParseParams checks raw against the declarations decl and returns the
// parsed values. The first parameter (in declaration order) that is
// missing though Required, or not of its Type, is a *ParamError.
// Parameters that are not declared are left alone, as OpenWhisk's feeds
// leave them.
func ParseParams(decl []Param, raw Params) (Values, error) {
	v := Values{decl: make(map[string]Param, len(decl)), vals: map[string]any{}, raw: raw}
	for _, p := range decl {
		v.decl[p.Name] = p
		if !raw.Has(p.Name) {
			if p.Required {
				return Values{}, Invalid(p.Name, "is required")
			}
			if p.Default != nil {
				v.vals[p.Name] = p.Default
			}
			continue
		}
		x, err := p.parse(raw)
		if err != nil {
			return Values{}, err
		}
		v.vals[p.Name] = x
	}
	return v, nil
}

// parse reads p's value from raw, which has it.
func (p Param) parse(raw Params) (any, error) {
	switch p.Type {
	case String:
		s, _, err := raw.String(p.Name)
		if err == nil && p.Required && strings.TrimSpace(s) == "" {
			err = Invalid(p.Name, "is required")
		}
		return s, err
	case Int:
		n, _, err := raw.Int(p.Name)
		return n, err
	case Bool:
		b, _, err := raw.Bool(p.Name)
		return b, err
	case Time:
		t, _, err := raw.Time(p.Name)
		return t, err
	case Duration:
		return raw.duration(p.Name)
	case Enum:
		return raw.enum(p.Name, p.Enum)
	}
	return json.RawMessage(strings.TrimSpace(string(raw[p.Name]))), nil
}

// duration reads a Duration parameter.
func (p Params) duration(name string) (time.Duration, error) {
	if s, isString, _ := p.String(name); isString {
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
			return d, nil
		}
		return 0, Invalid(name, "must be a duration such as 1m30s or a number of milliseconds, not %q", s)
	}
	ms, _, err := p.Int(name)
	if err != nil {
		return 0, Invalid(name, "must be a duration such as 1m30s or a number of milliseconds, not %s", p[name])
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// enum reads an Enum parameter: one of values, regardless of case.
func (p Params) enum(name string, values []string) (string, error) {
	var x any
	_ = json.Unmarshal(p[name], &x)
	var s string
	switch x := x.(type) {
	case string:
		s = x
	case bool, float64:
		s = fmt.Sprint(x)
	}
	for _, v := range values {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return v, nil
		}
	}
	return "", Invalid(name, "must be %s, not %s", orList(values), p[name])
}

// orList writes "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// get returns the value of parameter name read as type t; it panics when
// the provider did not declare name as t.
func (v Values) get(name string, types ...Type) (any, bool) {
	p, ok := v.decl[name]
	if !ok {
		panic(fmt.Sprintf("feeds: the provider reads parameter %q, which it does not declare in Provider.Params", name))
	}
	matches := false
	for _, t := range types {
		matches = matches || p.Type == t
	}
	if !matches {
		panic(fmt.Sprintf("feeds: the provider reads parameter %q as a %s, but declares it a %s", name, types[0], p.Type))
	}
	x, ok := v.vals[name]
	return x, ok
}

// Has reports whether parameter name was given, or has a default.
func (v Values) Has(name string) bool {
	if _, ok := v.decl[name]; !ok {
		panic(fmt.Sprintf("feeds: the provider reads parameter %q, which it does not declare in Provider.Params", name))
	}
	_, ok := v.vals[name]
	return ok
}

// String returns a String or Enum parameter; "" when absent.
func (v Values) String(name string) string {
	x, _ := v.get(name, String, Enum)
	s, _ := x.(string)
	return s
}

// Int returns an Int parameter; 0 when absent.
func (v Values) Int(name string) int64 {
	x, _ := v.get(name, Int)
	switch n := x.(type) {
	case int64:
		return n
	case int:
		return int64(n) // a Default written as an int
	}
	return 0
}

// Bool returns a Bool parameter; false when absent.
func (v Values) Bool(name string) bool {
	x, _ := v.get(name, Bool)
	b, _ := x.(bool)
	return b
}

// Duration returns a Duration parameter; 0 when absent.
func (v Values) Duration(name string) time.Duration {
	x, _ := v.get(name, Duration)
	d, _ := x.(time.Duration)
	return d
}

// Time returns a Time parameter; the zero time when absent.
func (v Values) Time(name string) time.Time {
	x, _ := v.get(name, Time)
	t, _ := x.(time.Time)
	return t
}

// JSON returns a JSON parameter as given; nil when absent.
func (v Values) JSON(name string) json.RawMessage {
	x, ok := v.get(name, JSON)
	if !ok {
		return nil
	}
	if raw, isRaw := x.(json.RawMessage); isRaw {
		return raw
	}
	b, _ := json.Marshal(x) // a Default
	return b
}
