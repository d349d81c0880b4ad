package hub_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/hub"
)

func TestCheckHops(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any // nil: absent
		err   string
	}{
		{"absent", nil, ""},
		{"at the limit", "10", ""},
		{"as an integer", int32(10), ""},
		{"over the limit", "11", "Event exceeded the hop limit of 10 (gusthops=11): a rule's action probably fires the trigger that invoked it."},
		{"not a number", "many", "The request content was malformed:\nCloudEvent extension 'gusthops' must be a non-negative integer"},
		{"negative", "-1", "The request content was malformed:\nCloudEvent extension 'gusthops' must be a non-negative integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.New()
			if tc.value != nil {
				ev.SetExtension(hub.HopsExtension, tc.value)
			}
			err := hub.CheckHops(ev)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var refused interface{ HTTPStatus() int } // as the API maps it
			if err == nil || err.Error() != tc.err || !errors.As(err, &refused) || refused.HTTPStatus() != http.StatusBadRequest {
				t.Fatalf("err = %v, want %s (answered with 400)", err, tc.err)
			}
			if over := tc.name == "over the limit"; errors.Is(err, hub.ErrHopLimit) != over {
				t.Errorf("errors.Is(err, hub.ErrHopLimit) = %v", !over)
			}
		})
	}
}
