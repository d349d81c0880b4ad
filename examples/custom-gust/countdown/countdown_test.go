package countdown_test

import (
	"encoding/json"
	"testing"

	"github.com/gusthub/gust/examples/custom-gust/countdown"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
)

// TestConformance: the outside provider passes the suite every built-in
// feed passes.
func TestConformance(t *testing.T) {
	feedtest.Run(t, feedtest.Case{
		Provider: countdown.Provider,
		Params:   feeds.Params{"from": json.RawMessage(`2`), "interval": json.RawMessage(`"10ms"`)},
	})
}
