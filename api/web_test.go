package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
)

func TestWebParams(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', 0, 1, 2}
	for _, tc := range []struct {
		name        string
		raw         bool
		contentType string
		query, body string
		final       []string
		want        string // the parameters other than __ow_method, __ow_headers, __ow_path
		status      int    // of the error, 0 for none
	}{
		{name: "query only", query: "a=1&b=x&b=y", want: `{"a":"1","b":"y"}`},
		{name: "JSON object promoted over the query", contentType: "application/json", query: "a=1&c=3", body: `{"a":2,"b":{"n":true}}`, want: `{"a":2,"b":{"n":true},"c":"3"}`},
		{name: "+json promoted", contentType: "application/cloudevents+json; charset=utf-8", body: `{"id":"e1"}`, want: `{"id":"e1"}`},
		{name: "JSON array as __ow_body", contentType: "application/json", body: `[1,2]`, want: `{"__ow_body":[1,2]}`},
		{name: "JSON string as __ow_body", contentType: "application/json", body: `"hi"`, want: `{"__ow_body":"hi"}`},
		{name: "invalid JSON", contentType: "application/json", body: `{"a":`, status: 400},
		{name: "form promoted", contentType: "application/x-www-form-urlencoded", body: "name=Ada&x=1&x=2", want: `{"name":"Ada","x":"2"}`},
		{name: "bad form", contentType: "application/x-www-form-urlencoded", body: "a=%zz", status: 400},
		{name: "text body", contentType: "text/plain", body: "hello", want: `{"__ow_body":"hello"}`},
		{name: "xml body", contentType: "application/xml", body: "<a/>", want: `{"__ow_body":"<a/>"}`},
		{name: "binary body as base64", contentType: "image/png", body: string(png), want: `{"__ow_body":"iVBORwABAg=="}`},
		{name: "no content type is text", body: "abc", want: `{"__ow_body":"abc"}`},
		{name: "text that is not UTF-8 is binary", contentType: "text/plain", body: "\xff\xfe", want: `{"__ow_body":"//4="}`},
		{name: "reserved parameter in the query", query: "__ow_user=root", status: 400},
		{name: "reserved parameter in the body", contentType: "application/json", body: `{"__ow_method":"get"}`, status: 400},
		{name: "final parameter", query: "secret=mine", final: []string{"secret"}, status: 400},
		{name: "raw: query and body boxed", raw: true, contentType: "text/plain", query: "a=1&__ow_user=x", body: "hi", want: `{"__ow_query":"a=1&__ow_user=x","__ow_body":"hi"}`},
		{name: "raw: JSON as base64", raw: true, contentType: "application/json", body: `{"a":1}`, want: `{"__ow_query":"","__ow_body":"eyJhIjoxfQ=="}`},
		{name: "raw: empty body", raw: true, want: `{"__ow_query":"","__ow_body":""}`},
		{name: "raw: binary as base64", raw: true, contentType: "application/octet-stream", body: string(png), want: `{"__ow_query":"","__ow_body":"iVBORwABAg=="}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-Custom": {"a", "b"}}
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			q := webRequest{Method: "POST", Header: h, Host: "example.org", Path: "/x/y", RawQuery: tc.query, Body: []byte(tc.body)}
			got, err := q.params(tc.raw, tc.final)
			if tc.status != 0 {
				var apiErr *Error
				if !errors.As(err, &apiErr) || apiErr.Status != tc.status {
					t.Fatalf("err %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var headers map[string]string
			_ = json.Unmarshal(got[owHeaders], &headers)
			if string(got[owMethod]) != `"post"` || string(got[owPath]) != `"/x/y"` || headers["x-custom"] != "a, b" || headers["host"] != "example.org" {
				t.Errorf("context parameters: method %s path %s headers %v", got[owMethod], got[owPath], headers)
			}
			if _, ok := got[owUser]; ok {
				t.Errorf("__ow_user for an anonymous caller: %s", got[owUser])
			}
			delete(got, owMethod)
			delete(got, owHeaders)
			delete(got, owPath)
			sameJSONValue(t, got, tc.want)
		})
	}
	t.Run("authenticated caller", func(t *testing.T) {
		q := webRequest{Method: "GET", Header: http.Header{}, User: "guest"}
		got, err := q.params(false, nil)
		if err != nil || string(got[owUser]) != `"guest"` {
			t.Fatalf("__ow_user %s, err %v", got[owUser], err)
		}
	})
}

func sameJSONValue(t *testing.T, got any, want string) {
	t.Helper()
	b, _ := json.Marshal(got)
	var g, w any
	_ = json.Unmarshal(b, &g)
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestWebResponse(t *testing.T) {
	for _, tc := range []struct {
		name, ext, result string
		status            int
		header            http.Header
		body              string
		err               string // the error message, when the result makes no response
	}{
		{name: "json object", ext: ".json", result: `{"b":1, "a":[true]}`, status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `{"b":1,"a":[true]}`},
		{name: "json unescapes HTML characters", ext: ".json", result: `{"q":"a=1\u0026b\u003c2","s":"\\u0026"}`, status: 200, body: `{"q":"a=1&b<2","s":"\\u0026"}`},
		{name: "json of a string", ext: ".json", result: `"x"`, err: "Response is not valid 'application/json'."},
		{name: "html body", ext: ".html", result: `{"body":"<p>hi</p>"}`, status: 200, header: http.Header{"Content-Type": {"text/html; charset=UTF-8"}}, body: "<p>hi</p>"},
		{name: "html field", ext: ".html", result: `{"html":"<b>x</b>"}`, status: 200, body: "<b>x</b>"},
		{name: "html not a string", ext: ".html", result: `{"body":1}`, err: "Response is not valid 'text/html'."},
		{name: "svg", ext: ".svg", result: `{"svg":"<svg/>"}`, status: 200, header: http.Header{"Content-Type": {"image/svg+xml"}}, body: "<svg/>"},
		{name: "text field", ext: ".text", result: `{"text":"plain"}`, status: 200, header: http.Header{"Content-Type": {"text/plain; charset=UTF-8"}}, body: "plain"},
		{name: "text of an object", ext: ".text", result: `{"body":{"a":1}}`, status: 200, body: "{\n  \"a\": 1\n}"},
		{name: "text of a number", ext: ".text", result: `{"body":42}`, status: 200, body: "42"},
		{name: "text missing", ext: ".text", result: `{"other":1}`, err: "Response does not include requested property."},
		{name: "http defaults to 204 without body", ext: ".http", result: `{}`, status: 204},
		{name: "http text body is html", ext: ".http", result: `{"body":"<h1>x</h1>"}`, status: 200, header: http.Header{"Content-Type": {"text/html; charset=UTF-8"}}, body: "<h1>x</h1>"},
		{name: "http redirect", ext: ".http", result: `{"statusCode":302,"headers":{"location":"https://example.org/"}}`, status: 302, header: http.Header{"Location": {"https://example.org/"}}},
		{name: "http cookies and numbers", ext: ".http", result: `{"statusCode":"201","headers":{"Set-Cookie":["a=1","b=2"],"X-N":7,"X-B":true},"body":"ok"}`, status: 201,
			header: http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-N": {"7"}, "X-B": {"true"}}, body: "ok"},
		{name: "http JSON body", ext: ".http", result: `{"body":{"z":1,"a":2}}`, status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `{"z":1,"a":2}`},
		{name: "http +json body", ext: ".http", result: `{"headers":{"content-type":"application/problem+json"},"body":{"a":2}}`, status: 200,
			header: http.Header{"Content-Type": {"application/problem+json; charset=UTF-8"}}, body: "{\n  \"a\": 2\n}"},
		{name: "http JSON body with a text type", ext: ".http", result: `{"headers":{"content-type":"text/plain"},"body":{"a":2}}`, err: "Response type in header did not match generated content type."},
		{name: "http binary body", ext: ".http", result: `{"headers":{"Content-Type":"image/png"},"body":"iVBORwABAg=="}`, status: 200,
			header: http.Header{"Content-Type": {"image/png"}}, body: "\x89PNG\x00\x01\x02"},
		{name: "http binary body not base64", ext: ".http", result: `{"headers":{"Content-Type":"image/png"},"body":"not base64!"}`, err: "Response type in header did not match generated content type."},
		{name: "http bad content type", ext: ".http", result: `{"headers":{"Content-Type":"nonsense"},"body":"x"}`, err: "Response did not specify a known content-type."},
		{name: "http bad status", ext: ".http", result: `{"statusCode":"abc"}`, err: "Response is not valid 'message/http'."},
		{name: "http status out of range", ext: ".http", result: `{"statusCode":1000}`, err: "Response is not valid 'message/http'."},
		{name: "http bad header value", ext: ".http", result: `{"headers":{"a":{"b":1}}}`, err: "Response is not valid 'message/http'."},
		{name: "http header with a newline", ext: ".http", result: `{"headers":{"a":"x\r\nInjected: 1"}}`, err: "Response is not valid 'message/http'."},
		{name: "http of a string", ext: ".http", result: `"oops"`, err: "Response is not valid 'message/http'."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := webResponse(tc.ext, json.RawMessage(tc.result))
			if tc.err != "" {
				var apiErr *Error
				if !errors.As(err, &apiErr) || apiErr.Message != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.status != tc.status || string(got.body) != tc.body {
				t.Errorf("status %d body %q, want %d %q", got.status, got.body, tc.status, tc.body)
			}
			for k, vs := range tc.header {
				if !reflect.DeepEqual(got.header[k], vs) {
					t.Errorf("header %s: %q, want %q", k, got.header[k], vs)
				}
			}
		})
	}
}

func TestSplitExtension(t *testing.T) {
	for seg, want := range map[string][2]string{
		"hello": {"hello", ".http"}, "hello.json": {"hello", ".json"}, "a.b.text": {"a.b", ".text"},
		"hello.xml": {"hello.xml", ".http"}, ".json": {".json", ".http"},
	} {
		if n, e := splitExtension(seg); n != want[0] || e != want[1] {
			t.Errorf("%q: %q %q, want %q", seg, n, e, want)
		}
	}
}
