package proxy_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/actions/runtimes"
)

// BenchmarkColdInit times /init and the first /run of a nodejs action on a
// proxy that was started beforehand, as a stem cell's is: with the
// language process started at /init (prestart=false, as before) and
// started with the proxy (prestart=true). The floor is a bare /run of the
// initialized action. Each sample lets the proxy settle first, so that a
// pre-started node is up and waits.
func BenchmarkColdInit(b *testing.B) {
	const (
		samples = 15
		settle  = 400 * time.Millisecond
	)
	dir := b.TempDir()
	args, err := runtimes.HostArgs(runtimes.NodeJS20, dir)
	if errors.Is(err, runtimes.ErrUnavailable) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	i := slices.Index(args, "--")
	source := args[slices.Index(args, "-source")+1]
	launcher := args[i+1:]
	initBody := `{"value":{"name":"bench","main":"main","binary":false,"code":"function main(a) { return {hello: a.name}; }","env":{"__OW_NAMESPACE":"guest"}}}`
	runBody := `{"value":{"name":"x"},"namespace":"guest","action_name":"/guest/bench","activation_id":"0123456789abcdef0123456789abcdef","transaction_id":"t","deadline":"1700000000000"}`
	post := func(h http.Handler, path, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		if rec.Code != http.StatusOK {
			b.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	for _, prestart := range []bool{false, true} {
		b.Run("prestart="+strconv.FormatBool(prestart), func(b *testing.B) {
			for range b.N {
				var cold, floor []time.Duration
				for n := range samples {
					srv, err := proxy.New(proxy.Config{
						Launcher: launcher,
						Dir:      filepath.Join(dir, fmt.Sprintf("action-%t-%d", prestart, n)),
						Source:   source,
						Env:      os.Environ(),
						Prestart: prestart,
					})
					if err != nil {
						b.Fatal(err)
					}
					time.Sleep(settle)
					t0 := time.Now()
					post(srv, "/init", initBody)
					post(srv, "/run", runBody)
					cold = append(cold, time.Since(t0))
					t0 = time.Now()
					post(srv, "/run", runBody)
					floor = append(floor, time.Since(t0))
					if err := srv.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(p50ms(cold), "p50-ms")
				b.ReportMetric(p50ms(floor), "floor-p50-ms")
			}
		})
	}
}

func p50ms(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2]) / float64(time.Millisecond)
}
