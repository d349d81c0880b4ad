package actions

import (
	"regexp"
	"testing"
)

// nameRule is OpenWhisk's rule for entity and namespace names.
var nameRule = regexp.MustCompile(`^([\w]|[\w][\w@ .-]*[\w@.-]+)$`)

// TestValidNameIsTheRule: validName accepts exactly the names nameRule
// matches, on every string of up to three bytes from an alphabet with a
// byte of each class and some outside, and on the fuzzer's.
func TestValidNameIsTheRule(t *testing.T) {
	alphabet := []byte{'a', 'Z', '0', '_', '@', '.', '-', ' ', '/', '\t', 'é' & 0xff, 0xc3, '$', 0}
	var try func(s []byte)
	try = func(s []byte) {
		if got, want := validName(string(s)), nameRule.MatchString(string(s)); got != want {
			t.Errorf("validName(%q) = %t, the rule says %t", s, got, want)
		}
		if len(s) == 3 {
			return
		}
		for _, c := range alphabet {
			try(append(s, c))
		}
	}
	try(nil)
	for _, s := range []string{"hello", "my action", "my action ", " x", "a.b-c@d", "x y z", "ns/pkg", "héllo", "a\n"} {
		if got, want := validName(s), nameRule.MatchString(s); got != want {
			t.Errorf("validName(%q) = %t, the rule says %t", s, got, want)
		}
	}
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"hello", "my action", "a ", "@a", "a@", "ns.x-y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validName(s), nameRule.MatchString(s); got != want {
			t.Errorf("validName(%q) = %t, the rule says %t", s, got, want)
		}
	})
}
