package hub_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
)

// TestStorageFullAtTheStoreLimit fills JetStream up to the hub's store
// limit: the publish that does not fit fails with an error StorageFull
// recognizes, and what is stored stays readable.
func TestStorageFullAtTheStoreLimit(t *testing.T) {
	ctx := context.Background()
	h, err := hub.Start(ctx, hub.Options{DataDir: t.TempDir(), MaxStore: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	js := h.JetStream()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FILL", Subjects: []string{"fill.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	var full error
	stored := 0
	for range 64 {
		if _, err := js.Publish(ctx, "fill.x", chunk); err != nil {
			full = err
			break
		}
		stored++
	}
	if full == nil {
		t.Fatalf("4 MB stored under a 1 MB limit")
	}
	fe := hub.StorageFull(full)
	if fe == nil {
		t.Fatalf("StorageFull(%v) = nil", full)
	}
	if !errors.Is(fe, hub.ErrFull) || !strings.Contains(fe.Message(), "event hub's storage") {
		t.Errorf("full error %v, message %q", fe, fe.Message())
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.State.Msgs) != stored {
		t.Errorf("%d messages in the stream, %d stored", info.State.Msgs, stored)
	}
	if _, err := st.GetMsg(ctx, 1); err != nil {
		t.Errorf("read the first message back: %v", err)
	}
	if hub.StorageFull(errors.New("other")) != nil || hub.StorageFull(nil) != nil {
		t.Error("StorageFull takes other errors for a full store")
	}
}

// TestCheckSpace: a reserve above the disk's free space reports the disk
// full, a small one does not, and a negative one turns the check off.
func TestCheckSpace(t *testing.T) {
	for _, c := range []struct {
		reserve int64
		full    bool
	}{{1 << 62, true}, {-1, false}, {1, false}} {
		h, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir(), DiskReserve: c.reserve})
		if err != nil {
			t.Fatal(err)
		}
		err = h.CheckSpace()
		_ = h.Close()
		if (err != nil) != c.full || (err != nil && !errors.Is(err, hub.ErrFull)) {
			t.Errorf("reserve %d: CheckSpace() = %v", c.reserve, err)
		}
	}
}
