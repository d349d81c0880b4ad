package rules

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// This file reads data.<path> fields of JSON event data without decoding
// the data: json.Valid, then a scan that skips what the path does not name.

// dataField is the text of the scalar at path in ev's data when the data
// is JSON: a string's contents or a number's or boolean's literal.
func dataField(ev *event.Event, path []string) ([]byte, bool) {
	if !isJSONType(ev.DataContentType()) {
		return nil, false
	}
	data := ev.Data()
	if len(data) == 0 || !json.Valid(data) {
		return nil, false
	}
	raw, ok := lookupJSON(data, path)
	if !ok || len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '{', '[', 'n':
		return nil, false
	case '"':
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') < 0 {
			return s, true
		}
		var u string
		if json.Unmarshal(raw, &u) != nil {
			return nil, false
		}
		return []byte(u), true
	}
	return raw, true
}

// isJSONType reports whether data of media type ct may be JSON: no type,
// application/json, or any type whose subtype ends in json (+json).
func isJSONType(ct string) bool {
	if ct == "" {
		return true
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return len(ct) >= 4 && strings.EqualFold(ct[len(ct)-4:], "json")
}

// lookupJSON returns the raw JSON value at path in data, which must be
// valid JSON. A path segment is an object key, or an array index.
func lookupJSON(data []byte, path []string) ([]byte, bool) {
	i := skipSpace(data, 0)
	for _, seg := range path {
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case '{':
			j, ok := objectField(data, i, seg)
			if !ok {
				return nil, false
			}
			i = j
		case '[':
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 || seg[0] == '+' {
				return nil, false
			}
			j, ok := arrayItem(data, i, idx)
			if !ok {
				return nil, false
			}
			i = j
		default:
			return nil, false
		}
	}
	if i >= len(data) {
		return nil, false
	}
	return data[i:skipValue(data, i)], true
}

// objectField returns where the value of key is in the object at data[i].
func objectField(data []byte, i int, key string) (int, bool) {
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] != '}' {
		end := skipString(data, i)
		k := data[i+1 : end-1]
		i = skipSpace(data, end)
		i = skipSpace(data, i+1) // ':'
		if keyEquals(k, key) {
			return i, true
		}
		i = nextItem(data, i)
	}
	return 0, false
}

// nextItem returns where the object field or array item after the value
// at data[i] starts (or the closing bracket).
func nextItem(data []byte, i int) int {
	i = skipSpace(data, skipValue(data, i))
	if i < len(data) && data[i] == ',' {
		i = skipSpace(data, i+1)
	}
	return i
}

func keyEquals(raw []byte, key string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == key
	}
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	return json.Unmarshal(q, &s) == nil && s == key
}

// arrayItem returns where item idx of the array at data[i] is.
func arrayItem(data []byte, i, idx int) (int, bool) {
	i = skipSpace(data, i+1)
	for n := 0; i < len(data) && data[i] != ']'; n++ {
		if n == idx {
			return i, true
		}
		i = nextItem(data, i)
	}
	return 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts at data[i].
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// skipValue returns the index after the value that starts at data[i].
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
