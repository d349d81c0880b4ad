package cehttp_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gusthub/gust/internal/cehttp"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestIsCloudEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		want bool
	}{
		{"binary", header("ce-specversion", "1.0"), true},
		{"structured", header("Content-Type", "application/cloudevents+json; charset=utf-8"), true},
		{"batch", header("Content-Type", "Application/CloudEvents-Batch+JSON"), true},
		{"another format", header("Content-Type", "application/cloudevents+avro"), true},
		{"plain JSON", header("Content-Type", "application/json"), false},
		{"plain JSON with Gust's hop counter", header("Content-Type", "application/json", "ce-gusthops", "2"), false},
	} {
		if got := cehttp.IsCloudEvent(tc.h); got != tc.want {
			t.Errorf("%s: IsCloudEvent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	binary := func(kv ...string) http.Header {
		return header(append([]string{"ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t"}, kv...)...)
	}
	for _, tc := range []struct {
		name   string
		h      http.Header
		body   string
		mode   cehttp.Mode
		status int    // 0: decoded
		has    string // in the error, or else the first event's subject
	}{
		{name: "binary, percent-encoded attribute", h: binary("ce-subject", "caf%C3%A9"), mode: cehttp.Binary, has: "café"},
		{name: "binary, quoted attribute", h: binary("ce-subject", `"a b"`), mode: cehttp.Binary, has: "a b"},
		{name: "binary, escapes that are not UTF-8", h: binary("ce-subject", "%FF"), mode: cehttp.Binary, status: 400, has: "'subject'"},
		{name: "binary without specversion", h: header("ce-id", "1"), mode: cehttp.Binary, status: 400, has: "'specversion' is missing"},
		{name: "structured", h: header("Content-Type", "application/cloudevents+json"),
			body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"x"}`, mode: cehttp.Structured, has: "x"},
		{name: "structured, id not a string", h: header("Content-Type", "application/cloudevents+json"),
			body: `{"specversion":"1.0","id":1,"source":"/s","type":"t"}`, mode: cehttp.Structured, status: 400, has: "'id' must be a string"},
		{name: "structured, data and data_base64", h: header("Content-Type", "application/cloudevents+json"),
			body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{},"data_base64":"e30="}`, mode: cehttp.Structured, status: 400, has: "'data' or 'data_base64', not both"},
		{name: "structured, upper-case attribute", h: header("Content-Type", "application/cloudevents+json"),
			body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","myExt":"x"}`, mode: cehttp.Structured, status: 400, has: "'myExt' must consist of lower-case letters"},
		{name: "structured, attribute with a dash", h: header("Content-Type", "application/cloudevents+json"),
			body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","my-ext":"x"}`, mode: cehttp.Structured, status: 400, has: "'my-ext'"},
		{name: "binary, attribute with an underscore", h: binary("ce-my_ext", "x"), mode: cehttp.Binary, status: 400, has: "'my_ext' must consist of lower-case letters"},
		{name: "binary, upper-case header name", h: binary("CE-Subject", "s"), mode: cehttp.Binary, has: "s"},
		{name: "batch, one event with data and data_base64", h: header("Content-Type", "application/cloudevents-batch+json"),
			body: `[{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"e30=","data":1}]`, mode: cehttp.Batch, status: 400, has: "Event 0 of the batch: A CloudEvent has 'data' or 'data_base64', not both"},
		{name: "batch too large", h: header("Content-Type", "application/cloudevents-batch+json"),
			body: "[" + strings.Repeat(`{},`, cehttp.MaxBatch) + "{}]", mode: cehttp.Batch, status: 413, has: "at most"},
		{name: "not a CloudEvent", h: header("Content-Type", "application/json"), body: `{}`, status: 400, has: "not a CloudEvent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, mode, err := cehttp.Decode(tc.h, []byte(tc.body))
			if mode != tc.mode {
				t.Errorf("mode %q, want %q", mode, tc.mode)
			}
			if tc.status != 0 {
				var bad *cehttp.Error
				if !errors.As(err, &bad) || bad.Status != tc.status || !strings.Contains(bad.Message, tc.has) {
					t.Fatalf("error %v, want a %d that says %q", err, tc.status, tc.has)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Subject() != tc.has {
				t.Fatalf("events %v, want one with subject %q", evs, tc.has)
			}
		})
	}
}
