package actions

import (
	"encoding/json"
	"testing"
	"time"
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
	// A fixed number of records whatever b.N is, as make bench's other
	// benchmarks do, the two alternating in rounds.
	const rounds, perRound = 20, 2000
	var byHand, byReflection time.Duration
	for range b.N {
		for range rounds {
			t0 := time.Now()
			for range perRound {
				if _, err := a.MarshalJSON(); err != nil {
					b.Fatal(err)
				}
			}
			byHand += time.Since(t0)
			t0 = time.Now()
			for range perRound {
				if _, err := marshalByReflection(a); err != nil {
					b.Fatal(err)
				}
			}
			byReflection += time.Since(t0)
		}
	}
	n := float64(b.N * rounds * perRound)
	b.ReportMetric(float64(byHand.Nanoseconds())/n, "ns/record")
	b.ReportMetric(float64(byReflection.Nanoseconds())/n, "floor-ns/record")
}
