// Package jsonbuf appends JSON to byte slices without reflection, byte
// for byte as encoding/json's Marshal writes the same values: strings with
// HTML's characters escaped, raw values compacted. It is for what every
// activation encodes (its record, its /run request), where Marshal's
// reflection cost more than the values' bytes. Members reads back the
// plainest of what Marshal writes, for what every queued activation
// decodes.
package jsonbuf

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe are the ASCII characters a string holds as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// String appends s as a JSON string.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control characters, and <, > and & for HTML
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // JavaScript's line ends
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Raw appends raw, a JSON value, as Marshal writes a json.RawMessage:
// compacted, HTML's characters escaped. An empty raw is null, as Marshal
// writes a nil one (it refuses an empty one that is not nil). It appends
// nothing and reports the error when raw is not valid JSON.
func Raw(dst, raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return append(dst, "null"...), nil
	}
	if isCompact(raw) { // what results and annotations mostly are
		return append(dst, raw...), nil
	}
	start := len(dst)
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, raw); err != nil {
		return dst[:start], err
	}
	dst = buf.Bytes()
	if !needsHTMLEscape(dst[start:]) {
		return dst, nil
	}
	compact := bytes.Clone(dst[start:])
	buf = bytes.NewBuffer(dst[:start])
	json.HTMLEscape(buf, compact)
	return buf.Bytes(), nil
}

// needsHTMLEscape reports whether b holds what HTMLEscape escapes: <, >,
// &, U+2028 or U+2029.
func needsHTMLEscape(b []byte) bool {
	for i, c := range b {
		switch c {
		case '<', '>', '&':
			return true
		case 0xE2:
			if i+2 < len(b) && b[i+1] == 0x80 && b[i+2]&^1 == 0xA8 {
				return true
			}
		}
	}
	return false
}

// Int appends n.
func Int(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Bool appends b.
func Bool(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

// KeyString appends the member key with string value s.
func KeyString(dst []byte, key, s string) []byte { return String(Key(dst, key), s) }

// KeyInt appends the member key with number value n.
func KeyInt(dst []byte, key string, n int64) []byte { return Int(Key(dst, key), n) }

// KeyBool appends the member key with boolean value b.
func KeyBool(dst []byte, key string, b bool) []byte { return Bool(Key(dst, key), b) }

// Key appends key as an object's member name, with its colon, after a
// comma unless it is the object's first (dst ends with '{').
func Key(dst []byte, key string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = String(dst, key)
	return append(dst, ':')
}

// Members calls f with the name and the value of each member of the JSON
// object b, in order, and reports whether b is such an object, written as
// Marshal writes a struct whose strings need no escapes, and f returned
// true for each. The value is a slice of b, valid JSON. It may say false
// of an object Marshal wrote (one whose strings hold escapes), never true
// of one that is not valid JSON. Names are as they are in b, unescaped.
func Members(b []byte, f func(name, value []byte) bool) bool {
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	if string(b) == "{}" {
		return true
	}
	for i := 1; ; {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		end, ok := compactString(b, i)
		if !ok || end >= len(b) || b[end] != ':' {
			return false
		}
		name := b[i+1 : end-1]
		i = end + 1
		if end, ok = compactValue(b, i, 1); !ok || end >= len(b) || !f(name, b[i:end]) {
			return false
		}
		switch b[end] {
		case '}':
			return end == len(b)-1
		case ',':
			i = end + 1
		default:
			return false
		}
	}
}

// maxDepth bounds the nesting isCompact follows; deeper values take
// json.Compact's way.
const maxDepth = 32

// isCompact reports whether b is a JSON value that Raw may copy as it is:
// valid, without whitespace between tokens, and without what Marshal
// escapes in a raw value. It may say false of such a value (a string with
// an escape sequence, or U+2xxx), never true of another.
func isCompact(b []byte) bool {
	i, ok := compactValue(b, 0, 0)
	return ok && i == len(b)
}

// compactValue reads the value at b[i:] and returns where it ends.
func compactValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		i++
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' { // a member's name and colon before its value
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				if i, ok = compactString(b, i); !ok || i >= len(b) || b[i] != ':' {
					return i, false
				}
				i++
			}
			if i, ok = compactValue(b, i, depth+1); !ok || i >= len(b) {
				return i, false
			}
			switch b[i] {
			case end:
				return i + 1, true
			case ',':
				i++
			default:
				return i, false
			}
		}
	case c == '"':
		return compactString(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return number(b, i)
	}
	return i, false
}

// compactString reads the string at b[i:], which starts with its quote,
// refusing escape sequences and what Marshal escapes in a raw value.
func compactString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20, c == '\\', c == '<', c == '>', c == '&', c == 0xE2:
			return i, false
		}
	}
	return i, false
}

func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// number reads the number at b[i:]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i, i > start
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	default:
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}
