package hub_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// TestHeard: a subject is heard while a subscription takes it, one of the
// hub's connection or of another, by its exact name or a wildcard.
func TestHeard(t *testing.T) {
	h := hubtest.StartWith(t, hub.Options{Listen: "127.0.0.1:0"})
	other, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const subject = "gust.test.a"
	if h.Heard(subject) {
		t.Fatal("heard with no subscription")
	}
	for _, tc := range []struct {
		name    string
		nc      *nats.Conn
		subject string
	}{
		{"the hub's own, exact", h.Conn(), subject},
		{"another connection's wildcard", other, "gust.test.*"},
	} {
		sub, err := tc.nc.SubscribeSync(tc.subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if !h.Heard(subject) {
			t.Errorf("%s: not heard", tc.name)
		}
		if h.Heard("gust.other") {
			t.Errorf("%s: another subject heard", tc.name)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		if err := tc.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if h.Heard(subject) {
			t.Errorf("%s: heard once unsubscribed", tc.name)
		}
	}
}

// TestHeardAcrossTheCluster: a subscription on another node of the
// embedded cluster is heard, once its interest crossed the route.
func TestHeardAcrossTheCluster(t *testing.T) {
	hubs := startCluster(t, 2, 0)
	const subject = "gust.test.b"
	sub, err := hubs[1].Conn().SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := hubs[1].Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !hubs[0].Heard(subject); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a subscription on the other node is not heard")
		}
	}
	if hubs[0].Heard("gust.test.c") {
		t.Error("another subject heard")
	}
}
