package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/backoff"
)

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max time.Duration
		factor   float64
		want     []time.Duration
	}{
		{"doubles up to the maximum", time.Second, 5 * time.Second, 0, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"a maximum below the minimum caps from the second", time.Second, 200 * time.Millisecond, 0, []time.Duration{time.Second, 200 * time.Millisecond, 200 * time.Millisecond}},
		{"grows by its factor", 2 * time.Millisecond, 10 * time.Millisecond, 1.5,
			[]time.Duration{2 * time.Millisecond, 3 * time.Millisecond, 4500 * time.Microsecond, 6750 * time.Microsecond, 10 * time.Millisecond, 10 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := backoff.Backoff{Min: tc.min, Max: tc.max, Factor: tc.factor}
			for i, want := range tc.want {
				if got := b.Next(); got != want {
					t.Errorf("pause %d = %v, want %v", i, got, want)
				}
			}
			b.Reset()
			if got := b.Next(); got != tc.min {
				t.Errorf("after Reset: %v, want %v", got, tc.min)
			}
		})
	}
}

func TestWait(t *testing.T) {
	if !backoff.Wait(context.Background(), time.Millisecond) {
		t.Error("Wait of a live context returned false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if backoff.Wait(ctx, time.Hour) {
		t.Error("Wait of an ended context returned true")
	}
}
