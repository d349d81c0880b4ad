package hub

import (
	"testing"
	"time"
)

// TestLastSeen: a node's last sighting is the later of JetStream's and
// this process's routes; a 0 from JetStream means it does not know, not
// "just now".
func TestLastSeen(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		active time.Duration
		routed time.Time
		want   string
	}{
		{"neither knows", 0, time.Time{}, ""},
		{"only JetStream", 1500 * time.Millisecond, time.Time{}, "1.5s"},
		{"only the routes", 0, now.Add(-42 * time.Second), "42s"},
		{"JetStream later", 2 * time.Second, now.Add(-time.Minute), "2s"},
		{"routes later", time.Minute, now.Add(-3 * time.Second), "3s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lastSeen(tc.active, tc.routed, now); got != tc.want {
				t.Errorf("lastSeen(%v, %v ago) = %q, want %q", tc.active, now.Sub(tc.routed), got, tc.want)
			}
		})
	}
}
