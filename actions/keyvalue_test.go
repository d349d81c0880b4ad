package actions_test

import (
	"encoding/json"
	"testing"

	"github.com/gusthub/gust/actions"
)

// FuzzKeyValuesString checks that String reads a value as json.Unmarshal
// does, its fast path for plain strings included.
func FuzzKeyValuesString(f *testing.F) {
	for _, v := range []string{`"guest/noop"`, `""`, `"a\"b"`, `"a\\b"`, `"é"`, "\"\xff\"", `"\u00e9"`, `"tab	"`, ` "x"`, `"x" `, `"x`, `x"`, `"`, `1`, `null`, `["x"]`, `"a"b"`} {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, ok := actions.KeyValues{{Key: "path", Value: v}}.String("path")
		var want string
		err := json.Unmarshal(v, &want)
		if ok != (err == nil) || got != want {
			t.Fatalf("String(%q) = %q, %v; json.Unmarshal: %q, %v", v, got, ok, want, err)
		}
	})
}
