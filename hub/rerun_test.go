package hub

import (
	"encoding/json"
	"testing"
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
