package telemetry

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gusthub/gust/actions"
)

// TestActivationStartLabel: an activation counts as cold, warm, or none
// when it got no container, never as a warm start it did not have.
func TestActivationStartLabel(t *testing.T) {
	m := NewMetrics(MetricsOptions{})
	inv := &actions.Invocation{Namespace: "guest", Action: actions.Action{Exec: actions.Exec{Kind: "nodejs:20"}}}
	for _, c := range []struct {
		status int
		timing Timing
	}{
		{actions.StatusSuccess, Timing{Cold: true}},
		{actions.StatusSuccess, Timing{}},
		{actions.StatusInternalError, Timing{NoContainer: true}},
	} {
		m.Activation(inv, &actions.Activation{Response: actions.Response{StatusCode: c.status}}, c.timing)
	}
	want := `
# HELP gust_activations_total Activations run by this invoker, by namespace, action kind, status (success, application_error, developer_error, internal_error) and start (cold, warm, or none: it got no container).
# TYPE gust_activations_total counter
gust_activations_total{kind="nodejs:20",namespace="guest",start="cold",status="success"} 1
gust_activations_total{kind="nodejs:20",namespace="guest",start="none",status="internal_error"} 1
gust_activations_total{kind="nodejs:20",namespace="guest",start="warm",status="success"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "gust_activations_total"); err != nil {
		t.Fatal(err)
	}
}
