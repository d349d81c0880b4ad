package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/antlr/antlr4/runtime/Go/antlr"
	cesql "github.com/cloudevents/sdk-go/sql/v2"
	sqlerrors "github.com/cloudevents/sdk-go/sql/v2/errors"
	cesqlgen "github.com/cloudevents/sdk-go/sql/v2/gen"
	cesqlparser "github.com/cloudevents/sdk-go/sql/v2/parser"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// FilterAnnotation is the rule annotation that holds a rule's filter: its
// JSON value is the filter, in the form ParseFilter reads. Keeping the
// filter in an annotation lets OpenWhisk clients read and copy the rule.
const FilterAnnotation = "filter"

// ErrInvalidFilter is wrapped by every error of ParseFilter.
var ErrInvalidFilter = errors.New("invalid filter")

// maxFilterDepth bounds how deeply filter expressions nest.
const maxFilterDepth = 32

// Filter decides which events of a trigger a rule acts on. It is the
// CloudEvents Subscriptions API filter: a JSON object with one dialect, or
// a list of them that must all match.
//
//	{"exact": {"type": "com.github.push"}}    attribute equals the value
//	{"prefix": {"source": "/repos/"}}         attribute starts with the value
//	{"suffix": {"subject": ".png"}}           attribute ends with the value
//	{"all": [F, ...]}                         every filter matches
//	{"any": [F, ...]}                         at least one filter matches
//	{"not": F}                                the filter does not match
//	{"sql": "type LIKE 'com.github.%'"}       a CESQL v1 condition ("cesql" too)
//	[F, ...]                                  same as {"all": [F, ...]}
//
// exact, prefix and suffix take one or more "attribute": "value" pairs, all
// of which must match; an event without the attribute does not match.
// Attribute names are CloudEvents context attributes (id, source, type,
// specversion, subject, time, datacontenttype, dataschema) or extensions.
//
// As an extension of the specification, an attribute named data.<path>
// reads a field of JSON data: data.repository.name is the name field of the
// repository object, and a number in the path indexes an array
// (data.commits.0.id). A string field compares as its text; a number,
// true or false compares as its JSON literal (data.size "3"); null,
// objects, arrays, a missing field, and data that is not JSON never
// match. CESQL sees context attributes only, as its specification says.
//
// The zero Filter matches every event. A Filter is safe for concurrent use.
type Filter struct {
	root *node
}

type op uint8

const (
	opAll op = iota
	opAny
	opNot
	opExact
	opPrefix
	opSuffix
	opSQL
)

// node is one compiled filter expression.
type node struct {
	op    op
	attr  string   // exact, prefix, suffix: the attribute
	path  []string // the path into the data when attr is data.<path>
	value string   // exact, prefix, suffix: the value
	kids  []node   // all, any, not (one)
	sql   cesql.Expression
}

// ParseFilter compiles the JSON filter b. Its errors wrap ErrInvalidFilter
// and say where the problem is, e.g.
// "invalid filter: all[1].exact: attribute name 'Type' is not valid".
func ParseFilter(b []byte) (Filter, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return Filter{}, fmt.Errorf("%w: empty", ErrInvalidFilter)
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return Filter{}, fmt.Errorf("%w: not JSON: %v", ErrInvalidFilter, err)
	}
	n, err := parseExpr(json.RawMessage(b), "", 0)
	if err != nil {
		return Filter{}, err
	}
	return Filter{root: &n}, nil
}

func filterErr(where, format string, args ...any) error {
	if where != "" {
		where += ": "
	}
	return fmt.Errorf("%w: %s%s", ErrInvalidFilter, where, fmt.Sprintf(format, args...))
}

func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// parseExpr parses a filter object or a list of them (all of which must
// match); where says where raw is in the whole filter.
func parseExpr(raw json.RawMessage, where string, depth int) (node, error) {
	if depth > maxFilterDepth {
		return node{}, filterErr(where, "filters nest deeper than %d levels", maxFilterDepth)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		kids, err := parseList(raw, where, depth)
		if err != nil {
			return node{}, err
		}
		if len(kids) == 1 {
			return kids[0], nil
		}
		return node{op: opAll, kids: kids}, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return node{}, filterErr(where, "a filter is an object such as {\"exact\": {\"type\": \"...\"}} or a list of them, not %s", jsonKind(raw))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return node{}, filterErr(where, "%v", err)
	}
	if len(obj) == 0 {
		return node{}, filterErr(where, "empty filter object: give one dialect (exact, prefix, suffix, all, any, not or sql)")
	}
	if len(obj) > 1 {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return node{}, filterErr(where, "a filter object has exactly one dialect, not %d (%s); combine them with all or a list", len(keys), strings.Join(keys, ", "))
	}
	for dialect, v := range obj {
		at := dialect
		if where != "" {
			at = where + "." + dialect
		}
		switch dialect {
		case "exact":
			return parseAttrs(opExact, v, at)
		case "prefix":
			return parseAttrs(opPrefix, v, at)
		case "suffix":
			return parseAttrs(opSuffix, v, at)
		case "all", "any":
			if k := jsonKind(v); k != "a list" {
				return node{}, filterErr(at, "must be a list of filters, not %s", k)
			}
			kids, err := parseList(v, at, depth)
			if err != nil {
				return node{}, err
			}
			o := opAll
			if dialect == "any" {
				o = opAny
			}
			return node{op: o, kids: kids}, nil
		case "not":
			kid, err := parseExpr(v, at, depth+1)
			if err != nil {
				return node{}, err
			}
			return node{op: opNot, kids: []node{kid}}, nil
		case "sql", "cesql":
			return parseSQL(v, at)
		default:
			return node{}, filterErr(where, "unknown dialect '%s' (want exact, prefix, suffix, all, any, not or sql)", dialect)
		}
	}
	panic("unreachable")
}

// parseList parses a non-empty list of filters.
func parseList(raw json.RawMessage, where string, depth int) ([]node, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, filterErr(where, "%v", err)
	}
	if len(items) == 0 {
		if where == "" {
			return nil, filterErr(where, "empty list of filters")
		}
		return nil, filterErr(where, "needs at least one filter")
	}
	kids := make([]node, len(items))
	for i, item := range items {
		k, err := parseExpr(item, fmt.Sprintf("%s[%d]", where, i), depth+1)
		if err != nil {
			return nil, err
		}
		kids[i] = k
	}
	return kids, nil
}

// parseAttrs parses the {"attribute": "value", ...} of exact, prefix or
// suffix; several pairs must all match.
func parseAttrs(o op, raw json.RawMessage, where string) (node, error) {
	if k := jsonKind(raw); k != "an object" {
		return node{}, filterErr(where, "must be an object of attribute names to values, not %s", k)
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return node{}, filterErr(where, "%v", err)
	}
	if len(attrs) == 0 {
		return node{}, filterErr(where, "needs an attribute and a value, e.g. {\"type\": \"com.example.created\"}")
	}
	names := make([]string, 0, len(attrs))
	for a := range attrs {
		names = append(names, a)
	}
	sort.Strings(names)
	kids := make([]node, 0, len(names))
	for _, a := range names {
		var v string
		if err := json.Unmarshal(attrs[a], &v); err != nil {
			return node{}, filterErr(where, "the value of '%s' must be a string, not %s", a, jsonKind(attrs[a]))
		}
		n := node{op: o, attr: a, value: v}
		if rest, ok := strings.CutPrefix(a, "data."); ok {
			n.path = strings.Split(rest, ".")
			for _, seg := range n.path {
				if seg == "" {
					return node{}, filterErr(where, "data path '%s' has an empty field name", a)
				}
			}
		} else if err := checkAttrName(a); err != nil {
			return node{}, filterErr(where, "%v", err)
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return node{op: opAll, kids: kids}, nil
}

// checkAttrName checks a CloudEvents attribute name: lower-case letters
// and digits, and not "data".
func checkAttrName(a string) error {
	if a == "data" {
		return errors.New("attribute 'data' is not allowed: name a field of JSON data as data.<path>")
	}
	if a == "" {
		return errors.New("attribute name is empty")
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("attribute name '%s' is not valid: CloudEvents attribute names are lower-case letters a-z and digits 0-9", a)
		}
	}
	return nil
}

// parseSQL compiles a CESQL expression. The SDK's parser panics on some
// inputs (e.g. "type = " or "(true"), prints its lexer's errors to stderr
// and loses its parser's messages, so the input is checked here first and
// the SDK's parse guarded.
func parseSQL(raw json.RawMessage, where string) (node, error) {
	var src string
	if err := json.Unmarshal(raw, &src); err != nil {
		return node{}, filterErr(where, "must be a CESQL expression in a string, not %s", jsonKind(raw))
	}
	if strings.TrimSpace(src) == "" {
		return node{}, filterErr(where, "empty expression")
	}
	if err := checkSQL(src); err != nil {
		if strings.Contains(src, "data.") {
			return node{}, filterErr(where, "%v; CESQL reads an event's attributes, not its data: match data fields with the other dialects, e.g. {\"exact\": {\"data.name\": \"Ada\"}}", err)
		}
		return node{}, filterErr(where, "%v", err)
	}
	expr, err := guardedParse(src)
	if err != nil {
		return node{}, filterErr(where, "%v", err)
	}
	// A condition is boolean: try it on an event, as the SDK has no static
	// types. An evaluation error still yields a value of the right type.
	// (A missing attribute evaluates to false, so the probe has them all;
	// an extension used as the whole condition goes unnoticed.)
	probe := event.New()
	probe.SetID("probe")
	probe.SetSource("/probe")
	probe.SetType("probe")
	probe.SetSubject("probe")
	probe.SetTime(time.Unix(0, 0))
	probe.SetDataSchema("/probe")
	probe.SetDataContentType("application/json")
	v, err := guardedEval(expr, probe)
	if sqlerrors.IsMissingFunctionError(err) {
		return node{}, filterErr(where, "%v in '%s'", err, src)
	}
	switch v.(type) {
	case bool:
	case nil:
		return node{}, filterErr(where, "expression '%s' cannot be evaluated", src)
	default:
		return node{}, filterErr(where, "expression '%s' is not a condition: it yields a %s, not a boolean", src, sqlType(v))
	}
	return node{op: opSQL, sql: expr}, nil
}

func sqlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int32, int64, int:
		return "integer"
	}
	return fmt.Sprintf("%T", v)
}

func guardedParse(src string) (expr cesql.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			expr, err = nil, fmt.Errorf("syntax error in '%s'", src)
		}
	}()
	expr, err = cesqlparser.Parse(src)
	if err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), "parse error: "))
		if msg == "syntax error:" {
			msg = "syntax error"
		}
		return nil, fmt.Errorf("%s in '%s'", msg, src)
	}
	if expr == nil {
		return nil, fmt.Errorf("syntax error in '%s'", src)
	}
	return expr, nil
}

func guardedEval(expr cesql.Expression, ev event.Event) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("evaluation failed: %v", r)
		}
	}()
	return expr.Evaluate(ev)
}

// sqlSyntax collects the first syntax error of the lexer or the parser,
// with ANTLR's message; the SDK's parser prints the lexer's to stderr and
// drops the parser's messages.
type sqlSyntax struct {
	*antlr.DefaultErrorListener
	first error
}

func (l *sqlSyntax) SyntaxError(_ antlr.Recognizer, _ any, _, column int, msg string, _ antlr.RecognitionException) {
	if l.first == nil {
		l.first = fmt.Errorf("syntax error at column %d: %s", column+1, msg)
	}
}

// checkSQL parses src with the SDK's generated grammar to report its
// syntax errors in full.
func checkSQL(src string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("syntax error in '%s'", src)
		}
	}()
	errs := &sqlSyntax{DefaultErrorListener: antlr.NewDefaultErrorListener()}
	lexer := cesqlgen.NewCESQLParserLexer(cesqlparser.NewCaseChangingStream(antlr.NewInputStream(src), true))
	lexer.RemoveErrorListeners()
	lexer.AddErrorListener(errs)
	p := cesqlgen.NewCESQLParserParser(antlr.NewCommonTokenStream(lexer, antlr.TokenDefaultChannel))
	p.RemoveErrorListeners()
	p.AddErrorListener(errs)
	p.Cesql()
	if errs.first != nil {
		return fmt.Errorf("%w in '%s'", errs.first, src)
	}
	return nil
}

// Match reports whether ev passes the filter. An expression that cannot be
// evaluated on ev (a CESQL error, a missing attribute) does not match.
func (f Filter) Match(ev event.Event) bool {
	if f.root == nil {
		return true
	}
	if ev.Context == nil {
		return false
	}
	return f.root.match(&ev)
}

func (n *node) match(ev *event.Event) bool {
	switch n.op {
	case opAll:
		for i := range n.kids {
			if !n.kids[i].match(ev) {
				return false
			}
		}
		return true
	case opAny:
		for i := range n.kids {
			if n.kids[i].match(ev) {
				return true
			}
		}
		return false
	case opNot:
		return !n.kids[0].match(ev)
	case opSQL:
		v, err := guardedEval(n.sql, *ev)
		b, ok := v.(bool)
		return err == nil && ok && b
	}
	if n.path != nil {
		v, ok := dataField(ev, n.path)
		return ok && n.compare(v)
	}
	v, ok := attribute(ev, n.attr)
	if !ok {
		return false
	}
	switch n.op {
	case opExact:
		return v == n.value
	case opPrefix:
		return strings.HasPrefix(v, n.value)
	case opSuffix:
		return strings.HasSuffix(v, n.value)
	}
	return false
}

// compare applies exact, prefix or suffix to data field v; the
// conversions do not allocate.
func (n *node) compare(v []byte) bool {
	switch n.op {
	case opExact:
		return string(v) == n.value
	case opPrefix:
		return len(v) >= len(n.value) && string(v[:len(n.value)]) == n.value
	case opSuffix:
		return len(v) >= len(n.value) && string(v[len(v)-len(n.value):]) == n.value
	}
	return false
}

// attribute is the value of ev's context attribute or extension name as a
// string; ok is false when ev does not have it.
func attribute(ev *event.Event, name string) (v string, ok bool) {
	switch name {
	case "id":
		v = ev.ID()
	case "source":
		v = ev.Source()
	case "type":
		v = ev.Type()
	case "specversion":
		v = ev.SpecVersion()
	case "subject":
		v = ev.Subject()
	case "datacontenttype":
		v = ev.DataContentType()
	case "dataschema":
		v = ev.DataSchema()
	case "time":
		t := ev.Time()
		if t.IsZero() {
			return "", false
		}
		return t.UTC().Format(time.RFC3339Nano), true
	default:
		x, found := extension(ev, name)
		if !found {
			return "", false
		}
		if s, isString := x.(string); isString {
			return s, true
		}
		s, err := types.Format(x)
		return s, err == nil
	}
	return v, v != ""
}

// extension is ev's extension name. Event.Extensions copies the map, so a
// v1.0 context's map is read directly.
func extension(ev *event.Event, name string) (any, bool) {
	if c, ok := ev.Context.(*event.EventContextV1); ok {
		x, found := c.Extensions[name]
		return x, found
	}
	x, found := ev.Extensions()[name]
	return x, found
}
