package hub_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/gusthub/gust/hub"
)

// allBytes is every byte value, 0 to 255, once.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestDataParameters(t *testing.T) {
	for _, tc := range []struct {
		name, contentType string
		data              []byte
		want              string
	}{
		{"no data", "application/json", nil, `{}`},
		{"JSON object", "application/json", []byte(`{"a":1,"b":[true]}`), `{"a":1,"b":[true]}`},
		{"JSON object without a type", "", []byte(`{"a":1}`), `{"a":1}`},
		{"+json type", "application/vnd.api+json; charset=utf-8", []byte(`{"a":1}`), `{"a":1}`},
		{"JSON number", "application/json", []byte(`42`), `{"payload":42}`},
		{"JSON array", "", []byte(`[1,2]`), `{"payload":[1,2]}`},
		{"JSON null", "application/json", []byte(` null `), `{"payload":null}`},
		{"text", "text/plain", []byte("héllo\n"), `{"payload":"héllo\n"}`},
		{"text that looks like JSON", "text/plain", []byte(`42`), `{"payload":"42"}`},
		{"XML", "application/xml", []byte(`<a>1</a>`), `{"payload":"\u003ca\u003e1\u003c/a\u003e"}`},
		{"charset makes text", "application/x-custom; charset=utf-8", []byte("x"), `{"payload":"x"}`},
		{"text without a type", "", []byte("plain words"), `{"payload":"plain words"}`},
		{"octet-stream", "application/octet-stream", []byte{0, 1, 2, 0xff, 0xfe},
			`{"__ow_body":"AAEC//4=","__ow_headers":{"content-type":"application/octet-stream"}}`},
		{"image, even when valid UTF-8", "image/png", []byte("PNG"), `{"__ow_body":"UE5H","__ow_headers":{"content-type":"image/png"}}`},
		{"text type with bytes that are not UTF-8", "text/plain", []byte{0xff}, `{"__ow_body":"/w==","__ow_headers":{"content-type":"text/plain"}}`},
		{"no type, not UTF-8", "", []byte{0x80}, `{"__ow_body":"gA==","__ow_headers":{"content-type":"application/octet-stream"}}`},
		{"JSON type, invalid JSON", "application/json", []byte("{"), `{"payload":"{"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(hub.DataParameters(tc.contentType, tc.data))
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			_ = json.Unmarshal(got, &g)
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatal(err)
			}
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			if !bytes.Equal(gb, wb) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestDataParametersEveryByte: every byte value survives, alone and all
// together, in every binary type.
func TestDataParametersEveryByte(t *testing.T) {
	check := func(ct string, data []byte) {
		t.Helper()
		p := hub.DataParameters(ct, data)
		var body string
		var headers map[string]string
		if err := json.Unmarshal(p[hub.BodyParameter], &body); err != nil {
			t.Fatalf("%s %x: %s is not a string: %v", ct, data, p[hub.BodyParameter], err)
		}
		if err := json.Unmarshal(p[hub.HeadersParameter], &headers); err != nil || headers["content-type"] != ct {
			t.Fatalf("%s %x: headers %s", ct, data, p[hub.HeadersParameter])
		}
		got, err := base64.StdEncoding.DecodeString(body)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: got %x, want %x (%v)", ct, got, data, err)
		}
	}
	for _, ct := range []string{"application/octet-stream", "image/png", "application/protobuf"} {
		check(ct, allBytes())
		for i := range 256 {
			check(ct, []byte{byte(i)})
		}
	}
}
