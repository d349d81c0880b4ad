package rules_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gusthub/gust/rules"
)

func TestDeliveryDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		backoff string
		want    []time.Duration // attempts 2, 3, ...
	}{
		{"", []time.Duration{200 * ms, 400 * ms, 800 * ms}},
		{"100ms", []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}},
		{"20s", []time.Duration{20 * time.Second, 40 * time.Second, time.Minute, time.Minute}},
		{"1m", []time.Duration{time.Minute, time.Minute}},
	} {
		t.Run(tc.backoff, func(t *testing.T) {
			d := rules.Delivery{Retries: rules.MaxRetries, Backoff: tc.backoff}
			for i, want := range tc.want {
				if got := d.Delay(i + 2); got != want {
					t.Errorf("Delay(%d) = %v, want %v", i+2, got, want)
				}
			}
		})
	}
}

func TestParseDelivery(t *testing.T) {
	for _, tc := range []struct{ name, raw, want, err string }{
		{"full", `{"retries":2,"backoff":"1.5s","deadLetter":"/_/dlq"}`, `{2 1.5s /guest/dlq}`, ""},
		{"relative dead letter", `{"deadLetter":"dlq"}`, `{0  /guest/dlq}`, ""},
		{"JSON text in a string", `"{\"retries\":1}"`, `{1  }`, ""},
		{"trailing data", `{"retries":1} {}`, "", "invalid delivery policy: trailing data after the JSON object"},
		{"zero backoff", `{"backoff":"0s"}`, "", `invalid delivery policy: backoff must be a duration such as "200ms", above 0 and at most 1m0s, not "0s"`},
		{"annotation string that is not JSON", `"retries=3"`, "", "invalid delivery policy: the policy is not JSON: invalid character 'r' looking for beginning of value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := rules.ParseDelivery([]byte(tc.raw), "guest")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !errors.Is(err, rules.ErrInvalidDelivery) {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(d); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
