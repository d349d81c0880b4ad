package telemetry

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestTriggerLabelsAreBounded: beyond MaxTriggers distinct triggers,
// events count under OtherLabel, and the triggers admitted keep their own
// series.
func TestTriggerLabelsAreBounded(t *testing.T) {
	m := NewMetrics(MetricsOptions{MaxTriggers: 2})
	for _, tr := range []string{"a", "b", "c", "d", "a"} {
		m.EventReceived(APIFeed, "guest", tr)
	}
	want := `
# HELP gust_events_received_total Events stored on a trigger, by the feed that brought them (api for fires) and the trigger (namespace/name).
# TYPE gust_events_received_total counter
gust_events_received_total{feed="api",trigger="_other"} 2
gust_events_received_total{feed="api",trigger="guest/a"} 2
gust_events_received_total{feed="api",trigger="guest/b"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "gust_events_received_total"); err != nil {
		t.Fatal(err)
	}
}
