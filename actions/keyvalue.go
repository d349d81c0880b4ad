package actions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/gusthub/gust/internal/jsonbuf"
)

// KeyValue is one parameter or annotation: {"key": k, "value": v}. Init marks
// a parameter passed to the action's environment at /init instead of to each
// run.
type KeyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	Init  bool            `json:"init,omitempty"`
}

// KeyValues is an ordered list of parameters or annotations; keys are unique.
type KeyValues []KeyValue

// Get returns the value of key, or nil.
func (kvs KeyValues) Get(key string) json.RawMessage {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// Has reports whether key is present.
func (kvs KeyValues) Has(key string) bool { return kvs.Get(key) != nil }

// IsTrue reports whether key is present with a truthy JSON value (true, a
// non-zero number or a non-empty string other than "false").
func (kvs KeyValues) IsTrue(key string) bool {
	v := bytes.TrimSpace(kvs.Get(key))
	switch {
	case len(v) == 0, string(v) == "false", string(v) == "null", string(v) == `""`, string(v) == "0", string(v) == `"false"`:
		return false
	}
	return true
}

// String returns the value of key when it is a JSON string.
func (kvs KeyValues) String(key string) (string, bool) {
	v := kvs.Get(key)
	if s, ok := plainString(v); ok {
		return s, true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// plainString reads v when it is a JSON string with nothing to unescape
// or replace, as json.Unmarshal would: every record's "path" annotation
// is one, and reflection took 1.5% of the invoker's CPU reading it.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return "", false
		}
	}
	return string(in), true
}

// Set returns kvs with key set to the JSON encoding of v, replacing an
// existing value in place or appending.
func (kvs KeyValues) Set(key string, v any) KeyValues {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	for i := range kvs {
		if kvs[i].Key == key {
			out := append(KeyValues(nil), kvs...)
			out[i].Value = b
			return out
		}
	}
	return append(append(KeyValues(nil), kvs...), KeyValue{Key: key, Value: b})
}

// Without returns kvs without the given keys.
func (kvs KeyValues) Without(keys ...string) KeyValues {
	out := make(KeyValues, 0, len(kvs))
next:
	for _, kv := range kvs {
		for _, k := range keys {
			if kv.Key == k {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// Merge returns kvs overridden by over: keys in over replace those in kvs.
func (kvs KeyValues) Merge(over KeyValues) KeyValues {
	out := append(KeyValues(nil), kvs...)
	for _, kv := range over {
		replaced := false
		for i := range out {
			if out[i].Key == kv.Key {
				out[i] = kv
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// PutKeyValues applies the parameters and annotations of a PUT body (nil
// when not given) to an entity's, each validated first: given parameters
// replace its own, given annotations are merged into its own.
func PutKeyValues(params, annotations *KeyValues, ownParams, ownAnnotations *KeyValues) error {
	if params != nil {
		if err := params.Validate("parameters"); err != nil {
			return err
		}
		*ownParams = *params
	}
	if annotations != nil {
		if err := annotations.Validate("annotations"); err != nil {
			return err
		}
		*ownAnnotations = ownAnnotations.Merge(*annotations)
	}
	return nil
}

// Object returns the parameters as one JSON object's fields.
func (kvs KeyValues) Object() map[string]json.RawMessage {
	m := make(map[string]json.RawMessage, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// Validate checks that every key is non-empty and unique and every value is
// JSON; what names the list ("parameters", "annotations") in messages.
func (kvs KeyValues) Validate(what string) error {
	seen := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		if kv.Key == "" {
			return Invalidf("The request content was malformed:\n%s must have non-empty keys", what)
		}
		if seen[kv.Key] {
			return Invalidf("The request content was malformed:\n%s key '%s' is given more than once", what, kv.Key)
		}
		seen[kv.Key] = true
		if len(kv.Value) == 0 {
			return Invalidf("The request content was malformed:\n%s key '%s' has no value", what, kv.Key)
		}
	}
	return nil
}

// MarshalJSON writes a nil list as [], as OpenWhisk does.
func (kvs KeyValues) MarshalJSON() ([]byte, error) {
	return kvs.AppendJSON(nil)
}

// AppendJSON appends MarshalJSON's form of kvs to dst. It fails, and dst
// is to be dropped, when a value is not valid JSON.
func (kvs KeyValues) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '[')
	for i, kv := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = jsonbuf.KeyString(dst, "key", kv.Key)
		dst = jsonbuf.Key(dst, "value")
		var err error
		if dst, err = jsonbuf.Raw(dst, kv.Value); err != nil {
			return nil, fmt.Errorf("key %q: value: %w", kv.Key, err)
		}
		if kv.Init {
			dst = jsonbuf.KeyBool(dst, "init", true)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}
