package hub_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gusthub/gust/hub"
)

// TestClusterReadsItsWrites: on a 3-node cluster, a value written through
// one node is read at once, at its revision, through the others, and so is
// its deletion: no read is answered by a replica that lags behind.
func TestClusterReadsItsWrites(t *testing.T) {
	hubs := startCluster(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cs []*hub.Collection[thing]
	for _, h := range hubs {
		c, err := hub.OpenCollection[thing](ctx, h.JetStream(), "READS")
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	// Writers at once, as API requests come: a replica that lags behind
	// lags most under load.
	const writers, writes = 8, 100
	errs := make(chan error, writers)
	for wr := range writers {
		go func() { errs <- writeThenRead(ctx, cs, wr, writes) }()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// writeThenRead writes keys of writer wr through one node after another,
// reads each at once through the two others, and deletes every tenth.
func writeThenRead(ctx context.Context, cs []*hub.Collection[thing], wr, writes int) error {
	for i := range writes {
		w := cs[i%3]
		key := fmt.Sprintf("w%d.k%d", wr, i%5) // keys written again: a stale read returns an older value
		rev, err := w.Put(ctx, key, thing{N: i})
		if err != nil {
			return err
		}
		for j := 1; j <= 2; j++ {
			v, got, err := cs[(i+j)%3].Get(ctx, key)
			if err != nil || v.N != i || got != rev {
				return fmt.Errorf("%s written through node %d, read through node %d: %+v at revision %d, %v; want N=%d at %d",
					key, i%3+1, (i+j)%3+1, v, got, err, i, rev)
			}
		}
		if i%10 == 9 {
			if err := w.Delete(ctx, key, 0); err != nil {
				return err
			}
			if v, _, err := cs[(i+1)%3].Get(ctx, key); !errors.Is(err, hub.ErrNotFound) {
				return fmt.Errorf("%s deleted through node %d: read %+v, %v; want ErrNotFound", key, i%3+1, v, err)
			}
		}
	}
	return nil
}
