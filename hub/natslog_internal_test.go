package hub

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestNATSLogLevels: the NATS server's errors stay errors, except a peer
// that does not answer yet (nodes of a cluster start in any order) and a
// client's wrong credentials or publishes and subscriptions outside its
// permissions.
func TestNATSLogLevels(t *testing.T) {
	for _, tc := range []struct {
		format string
		args   []any
		want   string
	}{
		{"Error trying to connect to route (attempt %v): %v", []any{3, "dial tcp 127.0.0.1:6222: connect: connection refused"}, "level=INFO"},
		{"%s - authentication error", []any{"cid:7"}, "level=WARN"},
		{"%s - mid:85 - \"dev\" - authentication error - User %q", []any{"127.0.0.1:50940", "guest"}, "level=DEBUG"}, // deviceAuth says why
		{"cid:9 - \"mqtt_device\" - Publish Violation - Subject %q", []any{"gust.mqtt.other.t"}, "level=WARN"},
		{"cid:9 - Subscription Violation - Subject %q, SID %s", []any{"gust.>", "1"}, "level=WARN"},
		{"JetStream failed to store a msg on stream '%s': %v", []any{"$G > EVENTS", "write: no space left on device"}, "level=ERROR"},
	} {
		var buf bytes.Buffer
		natsLogger{l: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}.Errorf(tc.format, tc.args...)
		if !strings.HasPrefix(strings.SplitN(buf.String(), " ", 2)[1], tc.want) {
			t.Errorf("%q logged %q, want %s", tc.format, buf.String(), tc.want)
		}
	}
}
