package rules

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// DedupWindowAnnotation is the trigger annotation that sets how long the
// ids of its events are remembered, as a duration such as "96h": an event
// whose source and id the trigger already took within that window runs
// nothing. Without it the engine's window applies (hub.DefaultDedupWindow
// unless serve says otherwise).
//
//	wsk trigger update T -a dedup-window 168h
const DedupWindowAnnotation = "dedup-window"

// DedupWindow is the duplicate window t's annotation sets, if it does.
func (t *Trigger) DedupWindow() (time.Duration, bool, error) {
	raw := t.Annotations.Get(DedupWindowAnnotation)
	if raw == nil {
		return 0, false, nil
	}
	d, err := ParseDedupWindow(raw)
	return d, err == nil, err
}

// ParseDedupWindow reads a duplicate window: a JSON string holding a Go
// duration between hub.MinDedupWindow and hub.MaxDedupWindow.
func ParseDedupWindow(raw []byte) (time.Duration, error) {
	var s string
	jerr := json.Unmarshal(raw, &s)
	d, err := time.ParseDuration(s)
	if jerr != nil || err != nil || d < hub.MinDedupWindow || d > hub.MaxDedupWindow {
		return 0, actions.Invalidf("The request content was malformed:\nannotation '%s' must be a duration such as \"72h\", between %v and %v, not %s",
			DedupWindowAnnotation, hub.MinDedupWindow, fmtDays(hub.MaxDedupWindow), raw)
	}
	return d, nil
}

func fmtDays(d time.Duration) string {
	return fmt.Sprintf("%dh (%d days)", int(d.Hours()), int(d.Hours())/24)
}
