package hub_test

import (
	"strings"
	"testing"

	"github.com/gusthub/gust/hub"
)

func TestEncodeToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"guest", "guest"},
		{"a-b_C9", "a-b_C9"},
		{"", "="},
		{"whisk.system", "whisk=2Esystem"},
		{"pkg/act", "pkg=2Fact"},
		{"a b", "a=20b"},
		{"=", "=3D"},
		{"=2E", "=3D2E"},
		{"*", "=2A"},
		{">", "=3E"},
		{"@", "=40"},
		{"é", "=C3=A9"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := hub.EncodeToken(tc.in)
			if got != tc.want {
				t.Errorf("EncodeToken(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if strings.ContainsAny(got, ".*> \t") {
				t.Errorf("EncodeToken(%q) = %q is not one subject token", tc.in, got)
			}
			if back := hub.DecodeToken(got); back != tc.in {
				t.Errorf("DecodeToken(%q) = %q, want %q", got, back, tc.in)
			}
		})
	}
}

func TestDecodeTokenMalformed(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a=", "a="},
		{"a=4", "a=4"},
		{"a=ZZ", "a=ZZ"},
		{"a=2e", "a=2e"}, // lower-case hex is not what EncodeToken writes
		{"=41=", "A="},
	} {
		if got := hub.DecodeToken(tc.in); got != tc.want {
			t.Errorf("DecodeToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzTokenRoundTrip(f *testing.F) {
	for _, s := range []string{"", "guest", "whisk.system", "a/b", "=", "=3D", "\x00\xff", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := hub.EncodeToken(s)
		if enc == "" || strings.ContainsAny(enc, ".*> \t\r\n") {
			t.Fatalf("EncodeToken(%q) = %q", s, enc)
		}
		if got := hub.DecodeToken(enc); got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}

func TestKeyDistinguishesTokens(t *testing.T) {
	// Names that would collide if tokens were joined without encoding.
	keys := map[string]bool{}
	for _, parts := range [][]string{
		{"a.b", "c"}, {"a", "b.c"}, {"a", "b", "c"}, {"a", "", "c"}, {"a", "=", "c"}, {"a.b.c"},
	} {
		k := hub.Key(parts...)
		if keys[k] {
			t.Errorf("Key(%q) = %q collides", parts, k)
		}
		keys[k] = true
	}
	if got := hub.Key("guest", "", "hello"); got != "guest.=.hello" {
		t.Errorf("Key = %q", got)
	}
}
