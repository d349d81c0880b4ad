package jsonbuf_test

import (
	"encoding/json"
	"testing"

	"github.com/gusthub/gust/internal/jsonbuf"
)

var strings = []string{
	"", "plain", "/guest/noop", `quote " and \ backslash`, "<script>&</script>",
	"tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "héllo wörld ✓ 🎉",
	"line\u2028sep\u2029para", "bad \xff utf8 \xe2\x80", "\xed\xa0\x80 surrogate",
	"2026-12-07T17:50:21.123Z stdout: {\"a\":1}",
}

func TestStringIsWhatMarshalWrites(t *testing.T) {
	for _, s := range strings {
		want, _ := json.Marshal(s)
		if got := jsonbuf.String([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got[1:], want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range strings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := jsonbuf.String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	})
}

var raws = []string{
	"", "{}", " { \"a\" : [ 1, 2 , {\"b\":null} ] } ", "\"<b>&amp;</b>\"", "\"\u2028\"", "123", "true",
	"{\"a\":", "nope", "{} {}", "[1,]", "\"\xff\"",
	`{"timeout":60000,"memory":256,"logs":10,"concurrency":1}`, `[1,-0.5e+3,0,"x",[],{},null,false]`,
	"-", "01", "1.", "1e", "-0", "1E-2", `"a\"b"`, `{"a":1,}`, `{"a" :1}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	"tru", "nul", `{"✓":"é"}`, "\"\x1f\"",
}

// marshalRaw is what Marshal writes for r, empty taken as nil (null).
func marshalRaw(r []byte) ([]byte, error) {
	if len(r) == 0 {
		r = nil
	}
	return json.Marshal(json.RawMessage(r))
}

func TestRawIsWhatMarshalWrites(t *testing.T) {
	for _, r := range raws {
		want, wantErr := marshalRaw([]byte(r))
		got, err := jsonbuf.Raw([]byte("x"), []byte(r))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("Raw(%q): error %v, Marshal's %v", r, err, wantErr)
			continue
		}
		if err != nil {
			if string(got) != "x" {
				t.Errorf("Raw(%q) failed but appended %q", r, got[1:])
			}
			continue
		}
		if string(got) != "x"+string(want) {
			t.Errorf("Raw(%q) = %s, want %s", r, got[1:], want)
		}
	}
}

func FuzzRaw(f *testing.F) {
	for _, r := range raws {
		f.Add([]byte(r))
	}
	f.Fuzz(func(t *testing.T, r []byte) {
		want, wantErr := marshalRaw(r)
		got, err := jsonbuf.Raw(nil, r)
		if (err != nil) != (wantErr != nil) || err == nil && string(got) != string(want) {
			t.Errorf("Raw(%q) = %s, %v; Marshal: %s, %v", r, got, err, want, wantErr)
		}
	})
}

func TestKeySeparatesMembers(t *testing.T) {
	b := jsonbuf.Key([]byte("{"), "a")
	b = jsonbuf.Int(b, -3)
	b = jsonbuf.Key(b, "b<")
	b = jsonbuf.Bool(b, true)
	b = append(b, '}')
	if want := `{"a":-3,"b\u003c":true}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

// FuzzMembers checks that Members says true only of a valid JSON object,
// which its members, joined again, are byte for byte.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":"x","c":[1,{"d":null}],"e":true}`, `{"a":1,}`, `{"a" :1}`, `{"a":"\u0041"}`, `{"a":1}x`, `{"a":1,"a":2}`, `[1]`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		joined := []byte{'{'}
		if !jsonbuf.Members(b, func(name, value []byte) bool {
			if len(joined) > 1 {
				joined = append(joined, ',')
			}
			joined = append(append(append(append(joined, '"'), name...), '"', ':'), value...)
			return true
		}) {
			return
		}
		joined = append(joined, '}')
		if !json.Valid(b) || b[0] != '{' {
			t.Fatalf("Members said true of %q, not a JSON object", b)
		}
		if string(joined) != string(b) {
			t.Fatalf("the members of %q join to %q", b, joined)
		}
	})
}
