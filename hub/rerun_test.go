package hub

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestWithoutSecrets(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{"__ow_headers":{"Authorization":"Basic eA==","cookie":"s=1","accept":"*/*"},"x":2}`, `{"__ow_headers":{"accept":"*/*"},"x":2}`},
		{`{"__ow_headers":"odd"}`, `{"__ow_headers":"odd"}`},
	} {
		var got, want any
		if err := json.Unmarshal(withoutSecrets(json.RawMessage(c.in)), &got); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(c.want), &want)
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("withoutSecrets(%s) = %s, want %s", c.in, g, w)
		}
	}
}

func TestInlineParams(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`{"a":1}`, `{"a":1}`, true},
		{``, `null`, true},
		{`{"__ow_headers":{"Cookie":"s=1","accept":"*/*"}}`, `{"__ow_headers":{"accept":"*/*"}}`, true},
		{"{\"a\":\n1}", "", false},
		{"{\"a\":\t1}", "", false},
		{`{"a":"` + strings.Repeat("x", inlineParamsLimit) + `"}`, "", false},
	} {
		got, ok := InlineParams(json.RawMessage(c.in))
		if ok != c.ok || got != c.want {
			t.Errorf("InlineParams(%.40q) = %.40q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
		if !ok {
			continue
		}
		back, err := ParamsFromHeader(nats.Header{RerunParamsHeader: []string{got}})
		if want := strings.TrimPrefix(c.want, "null"); err != nil || string(back) != want {
			t.Errorf("ParamsFromHeader(%q) = %s, %v; want %s", got, back, err, want)
		}
	}
	if p, err := ParamsFromHeader(nats.Header{}); !errors.Is(err, ErrParamsNotKept) {
		t.Errorf("ParamsFromHeader of no header = %s, %v; want ErrParamsNotKept", p, err)
	}
}
