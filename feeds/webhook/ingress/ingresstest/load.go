package ingresstest

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Accepted sends req with client and returns an error unless the answer is
// 202 Accepted. It reads the body to its end, so that the connection is
// kept alive for the next request, as a benchmark's sender needs.
func Accepted(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("answer %d", resp.StatusCode)
	}
	return nil
}

// Load runs do for n distinct ids ("prefix-1" to "prefix-n") on workers
// goroutines, as a benchmark's senders, and returns how many per second
// it did and the p99 of one do in ms. The first error fails b and stops
// its worker.
func Load(b *testing.B, n, workers int, prefix string, do func(id string) error) (rate, p99 float64) {
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				s := time.Now()
				if err := do(fmt.Sprintf("%s-%d", prefix, i)); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(s)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	rate = float64(n) / time.Since(t0).Seconds()
	slices.Sort(lat)
	if len(lat) > 0 {
		p99 = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	}
	return rate, p99
}
