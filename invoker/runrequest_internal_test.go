package invoker

import (
	"encoding/json"
	"testing"
)

func TestRunRequestIsWhatMarshalWrites(t *testing.T) {
	for name, m := range map[string]runRequest{
		"plain": {Deadline: "1765129821123", Value: json.RawMessage(`{"a": [1, 2]}`), Namespace: "guest", ActionName: "/guest/noop",
			ActionVersion: "0.0.1", ActivationID: "0123456789abcdef0123456789abcdef", TransactionID: "t"},
		"api key and trace": {Deadline: "1", Value: json.RawMessage(`{"html":"<b>&</b>"}`), Namespace: "ns", ActionName: "/ns/pkg/a",
			APIKey: "uuid:key", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceID: "0af7651916cd43dd8448eb211c80319c"},
		"no value": {},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.appendJSON(nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n%s\nMarshal wrote:\n%s", name, got, want)
		}
	}
	bad := runRequest{Value: json.RawMessage(`{"a":`)}
	if b, err := bad.appendJSON(nil); err == nil {
		t.Errorf("a value that is not JSON: wrote %s, want an error", b)
	}
}
