package hub_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/disktest"
)

// TestStorageFullAtTheStoreLimit fills JetStream up to the hub's store
// limit: the publish that does not fit fails with an error StorageFull
// recognizes, and what is stored stays readable.
func TestStorageFullAtTheStoreLimit(t *testing.T) {
	ctx := context.Background()
	js := hubtest.StartWith(t, hub.Options{MaxStore: 1 << 20}).JetStream()
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

// TestRecoversFromAFullDisk lets JetStream really run out of disk (the
// guard is off): the write that does not fit fails, the disk reads full,
// what was stored stays readable, and once room is made JetStream takes
// writes again, in this process, and a consumer that waited goes on.
func TestRecoversFromAFullDisk(t *testing.T) {
	dir := disktest.Small(t, 24)
	ctx := context.Background()
	h := hubtest.StartWith(t, hub.Options{DataDir: dir, DiskReserve: -1})
	js := h.JetStream()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FILL", Subjects: []string{"fill.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 100)
	cc, err := cons.Consume(func(m jetstream.Msg) { got <- string(m.Data()); _ = m.Ack() },
		jetstream.PullExpiry(2*time.Second), jetstream.PullHeartbeat(time.Second)) // it notices the restart in seconds
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	if _, err := js.Publish(ctx, "fill.x", []byte("before")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, got, "before")

	filler := disktest.Fill(t, dir, 0)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = js.Publish(pctx, "fill.x", make([]byte, 256<<10))
	cancel()
	if err == nil {
		t.Fatal("a write to a full disk was stored")
	}
	if err := h.CheckSpace(); !errors.Is(err, hub.ErrFull) {
		t.Errorf("CheckSpace on a full disk: %v", err)
	}
	if m, err := st.GetMsg(ctx, 1); err != nil || string(m.Data) != "before" {
		t.Errorf("read back on a full disk: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, "fill.x", []byte("after"))
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes still fail a minute after room was made: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := h.CheckSpace(); err != nil {
		t.Errorf("CheckSpace once room was made: %v", err)
	}
	if m, err := st.GetMsg(ctx, 1); err != nil || string(m.Data) != "before" {
		t.Errorf("read back after the restart: %v", err)
	}
	waitFor(t, got, "after")
}

func waitFor(t *testing.T, got <-chan string, want string) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case s := <-got:
			if s == want {
				return
			}
		case <-timeout:
			t.Fatalf("the consumer did not get %q", want)
		}
	}
}
