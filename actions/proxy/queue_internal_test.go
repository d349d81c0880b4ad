package proxy

import (
	"encoding/json"
	"testing"
	"time"
)

func TestWithDeadline(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	for _, line := range []string{
		`{"deadline":"1","value":{"deadline":"x"}}`, // first, as Gust's invoker sends it
		`{"value":{"deadline":"x"},"deadline":"1"}`,
		`{"value":{}}`,
	} {
		var m map[string]any
		if err := json.Unmarshal(withDeadline([]byte(line), at), &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if m["deadline"] != "1700000000123" {
			t.Errorf("%s: deadline %v", line, m["deadline"])
		}
		if v, ok := m["value"].(map[string]any); !ok || len(v) > 0 && v["deadline"] != "x" {
			t.Errorf("%s: value %v", line, m["value"])
		}
	}
}
