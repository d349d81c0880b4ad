package api_test

import (
	"sync/atomic"
	"testing"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
)

// switchSpace is a SpaceChecker whose answer the test sets.
type switchSpace struct{ full atomic.Bool }

var errDiskFull = &hub.FullError{What: "the disk of its data directory (1 MB free of 64 MB, below the 16 MB Gust keeps free, --disk-reserve)"}

func (s *switchSpace) CheckSpace() error {
	if s.full.Load() {
		return errDiskFull
	}
	return nil
}

// TestFullStorageRefusesWrites: while storage is full, writes get 507
// with what is full; reads and deletes go on; once room is made, writes
// work again.
func TestFullStorageRefusesWrites(t *testing.T) {
	space := &switchSpace{}
	e := newEnv(t, func(c *api.Config) { c.Space = space })
	e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t", `{}`)
	space.full.Store(true)
	for _, w := range []struct{ method, path, body string }{
		{"PUT", "/api/v1/namespaces/_/actions/hello2", bodyHello2},
		{"PUT", "/api/v1/namespaces/_/actions/hello?overwrite=true", bodyHello2},
		{"POST", "/api/v1/namespaces/_/actions/hello", `{}`},
		{"POST", "/api/v1/namespaces/_/triggers/t", `{}`},
		{"GET", "/api/v1/web/guest/default/hello.json", ""},
	} {
		wantError(t, e.guest(w.method, w.path, w.body), 507, errDiskFull.Message())
	}
	e.must("GET", "/api/v1/namespaces/_/actions/hello", "")
	e.must("GET", "/api/v1/namespaces/_/actions?limit=0", "")
	e.must("GET", "/api/v1/namespaces/_/activations", "")
	e.must("DELETE", "/api/v1/namespaces/_/triggers/t", "")
	space.full.Store(false)
	e.must("PUT", "/api/v1/namespaces/_/actions/hello2", bodyHello2)
}
