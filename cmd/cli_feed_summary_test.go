package gustcmd

import (
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
)

// TestFeedSummaryEmbeddedTopics checks that trigger create's summary of an
// mqtt/subscribe feed on Gust's own listener names the topics devices
// publish to, and hints when the topic repeats the namespace's prefix (a
// newcomer's `-p topic guest/temps/#` subscribed to guest/guest/temps/#
// and got nothing); a broker feed (url) gets neither line.
func TestFeedSummaryEmbeddedTopics(t *testing.T) {
	summary := func(config map[string]any) string {
		var b strings.Builder
		printFeedSummary(&b, "temps", config, actions.KeyValues{}.Set("topic", config["topic"]))
		return b.String()
	}
	embedded := func(topic string) map[string]any {
		return map[string]any{"feed": "/whisk.system/mqtt/subscribe", "topic": topic, "triggerName": "/guest/temps"}
	}
	for _, tc := range []struct {
		name, topic, want, hint string
	}{
		{"relative", "devices/+/temperature", "devices publish to: guest/devices/+/temperature ", ""},
		{"two filters", "a/#, b", "devices publish to: guest/a/#,guest/b ", ""},
		{"namespace repeated", "guest/temps/#", "devices publish to: guest/guest/temps/# ", "use -p topic 'temps/#'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := summary(embedded(tc.topic))
			if !strings.Contains(out, tc.want) {
				t.Errorf("summary lacks %q:\n%s", tc.want, out)
			}
			if got := strings.Contains(out, "note: the topic already starts with guest/"); got != (tc.hint != "") || !strings.Contains(out, tc.hint) {
				t.Errorf("hint %q expected %v:\n%s", tc.hint, tc.hint != "", out)
			}
		})
	}
	broker := embedded("guest/temps/#")
	broker["url"] = "tcp://127.0.0.1:1883"
	if out := summary(broker); strings.Contains(out, "devices publish to") || strings.Contains(out, "note:") {
		t.Errorf("a broker feed's summary speaks of Gust's listener:\n%s", out)
	}
	other := map[string]any{"feed": "/whisk.system/alarms/interval", "topic": "x", "triggerName": "/guest/temps"}
	if out := summary(other); strings.Contains(out, "devices publish to") {
		t.Errorf("another feed's summary speaks of MQTT topics:\n%s", out)
	}
}

// TestFeedSummaryGivenURL checks that a url the user gave (a couchdb/changes
// feed's database) is not printed back as "url:", the line that names a
// receiving feed's URL to send events to, while a receiving feed's
// generated URL still is.
func TestFeedSummaryGivenURL(t *testing.T) {
	var b strings.Builder
	config := map[string]any{"feed": "/whisk.system/couchdb/changes", "url": "http://127.0.0.1:5984", "dbname": "orders", "triggerName": "/guest/orders"}
	printFeedSummary(&b, "orders", config, actions.KeyValues{}.Set("url", "http://127.0.0.1:5984").Set("dbname", "orders"))
	if strings.Contains(b.String(), "url:") {
		t.Errorf("the couchdb url the user gave is printed as the feed's url:\n%s", b.String())
	}
	b.Reset()
	config = map[string]any{"feed": "/whisk.system/webhook/webhook", "url": "http://127.0.0.1:3233/api/v1/feeds/guest/hook", "triggerName": "/guest/hook"}
	printFeedSummary(&b, "hook", config, actions.KeyValues{}.Set("token", "s3cretlongtoken"))
	if !strings.Contains(b.String(), "  url: http://127.0.0.1:3233/api/v1/feeds/guest/hook\n") || !strings.Contains(b.String(), "--token TOKEN") {
		t.Errorf("a webhook feed's summary lacks its URL:\n%s", b.String())
	}
}
