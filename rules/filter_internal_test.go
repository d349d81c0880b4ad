package rules

import (
	"strings"
	"testing"
)

// TestGuardedParse: inputs that make the SDK's CESQL parser panic are
// errors. ParseFilter rejects them before, with a better message, so the
// guard is tested here.
func TestGuardedParse(t *testing.T) {
	for _, src := range []string{"type = ", "(true", "'abc", "type = 'a' )", "x IN (", "1 +"} {
		t.Run(src, func(t *testing.T) {
			expr, err := guardedParse(src)
			if err == nil || expr != nil {
				t.Fatalf("guardedParse(%q) = %v, %v", src, expr, err)
			}
			if !strings.HasPrefix(err.Error(), "syntax error") {
				t.Errorf("error = %v", err)
			}
		})
	}
	if _, err := guardedParse("type = 'a'"); err != nil {
		t.Errorf("valid expression: %v", err)
	}
}

func TestLookupJSON(t *testing.T) {
	data := []byte(` {"a": {"b": [1, {"c": "d"}, "e\"]"]}, "f": -1.5e3, "g": true, "h": null, "i": {}} `)
	for _, tc := range []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"a", "b", "1", "c"}, `"d"`, true},
		{[]string{"a", "b", "2"}, `"e\"]"`, true},
		{[]string{"a", "b", "0"}, `1`, true},
		{[]string{"a", "b"}, `[1, {"c": "d"}, "e\"]"]`, true},
		{[]string{"f"}, `-1.5e3`, true},
		{[]string{"g"}, `true`, true},
		{[]string{"h"}, `null`, true},
		{[]string{"i"}, `{}`, true},
		{[]string{"i", "x"}, ``, false},
		{[]string{"a", "b", "3"}, ``, false},
		{[]string{"a", "b", "-1"}, ``, false},
		{[]string{"a", "b", "+1"}, ``, false},
		{[]string{"f", "x"}, ``, false},
		{[]string{"z"}, ``, false},
	} {
		got, ok := lookupJSON(data, tc.path)
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("lookupJSON(%v) = %s, %v; want %s, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}
