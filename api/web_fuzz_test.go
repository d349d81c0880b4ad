package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzWebParams feeds arbitrary requests (content type, query, body, raw
// or not) to the decoder that turns a web action's request into its
// parameters. The properties: no panic; a rejection is a 400 with a
// message; and accepted parameters are a JSON object that holds the
// context parameters and sets no reserved one from the request.
func FuzzWebParams(f *testing.F) {
	for _, s := range []struct {
		ct, query, body string
		raw             bool
	}{
		{"application/json", "a=1", `{"name":"Ada","n":[1,2]}`, false},
		{"application/json; charset=utf-8", "", `[1,"x"]`, false},
		{"application/x-www-form-urlencoded", "b=2", "name=Ada&x=%20y", false},
		{"text/plain", "", "hello", false},
		{"image/png", "", "\x89PNG\x00", false},
		{"", "__ow_user=x", "", false},
		{"application/cloudevents+json", "q=%zz", `{"id":1}`, false},
		{"multipart/form-data; boundary=x", "", "--x--", true},
		{"application/json", "a=1&a=2", `{"a":`, true},
		{"text/html; charset", "", "\xff\xfe", false},
	} {
		f.Add(s.ct, s.query, []byte(s.body), s.raw)
	}
	f.Fuzz(func(t *testing.T, contentType, query string, body []byte, raw bool) {
		h := http.Header{}
		h.Set("Content-Type", contentType)
		q := webRequest{Method: "POST", Header: h, Host: "h", Path: "/p", RawQuery: query, Body: body}
		got, err := q.params(raw, []string{"secret"})
		if err != nil {
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Message == "" {
				t.Fatalf("%q %q %q: %T %v, want a 400", contentType, query, body, err, err)
			}
			return
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("parameters do not encode: %v", err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("parameters are not a JSON object: %s", b)
		}
		if back[owMethod] != "post" || back[owPath] != "/p" || back[owUser] != nil {
			t.Fatalf("context parameters overridden: %s", b)
		}
		if _, ok := back["secret"]; ok && !raw {
			t.Fatalf("a final parameter was set: %s", b)
		}
		if raw && utf8.ValidString(query) && back[owQuery] != query {
			t.Fatalf("__ow_query %v, want %q", back[owQuery], query)
		}
	})
}
