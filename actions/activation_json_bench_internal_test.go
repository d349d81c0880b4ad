package actions

import (
	"encoding/json"
	"testing"
)

// BenchmarkActivationJSON writes an action's record as the invoker does,
// against the floor of encoding/json writing the same bytes by reflection.
func BenchmarkActivationJSON(b *testing.B) {
	a := Activation{
		Namespace: "guest", Name: "noop", Version: "0.0.1", Subject: "guest", ActivationID: "0123456789abcdef0123456789abcdef",
		Start: 1765129821123, End: 1765129821125, Duration: 2, Response: Response{Result: json.RawMessage(`{}`)}, Logs: []string{},
		Annotations: KeyValues{
			{Key: "path", Value: json.RawMessage(`"guest/noop"`)}, {Key: "waitTime", Value: json.RawMessage(`1`)},
			{Key: "kind", Value: json.RawMessage(`"nodejs:20"`)}, {Key: "timeout", Value: json.RawMessage(`false`)},
			{Key: "limits", Value: json.RawMessage(`{"timeout":60000,"memory":256,"logs":10,"concurrency":1}`)},
		},
	}
	b.Run("by-hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor-reflection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalByReflection(a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
