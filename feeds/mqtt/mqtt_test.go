package mqtt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/mqtt"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/feedrun"
	"github.com/gusthub/gust/internal/upstreamtest"
)

var params = feedtest.Params

// pub publishes one message with mosquitto_pub.
func pub(t testing.TB, broker *upstreamtest.Process, topic, msg string, qos int) {
	t.Helper()
	upstreamtest.Run(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(broker.Port),
		"-t", topic, "-m", msg, "-q", strconv.Itoa(qos))
}

// TestConformance runs the suite every provider passes against a real
// mosquitto; producing the same message number again publishes nothing.
func TestConformance(t *testing.T) {
	broker := upstreamtest.Mosquitto(t, upstreamtest.MosquittoOptions{})
	seen := map[string]bool{}
	n := 0
	feedtest.Run(t, feedtest.Case{
		Provider: feedtest.Provider(t, "mqtt/subscribe"),
		Params:   params("url", "tcp://"+broker.Addr, "topic", "conf/#", "clientId", "conformance"),
		Produce: func(t *testing.T, f feeds.Source, emit feeds.Emit, i int) {
			n++
			key := fmt.Sprintf("%s-%d", t.Name(), i)
			if seen[key] {
				return
			}
			seen[key] = true
			// Each check runs a new instance: the first message waits for
			// its subscription (the session keeps it from then on).
			time.Sleep(500 * time.Millisecond)
			pub(t, broker, "conf/"+strconv.Itoa(i), fmt.Sprintf(`{"i":%d,"n":%d}`, i, n), 1)
		},
		Wait: 30 * time.Second,
	})
}

func run(t *testing.T, p feeds.Params, emit feeds.Emit) *feedtest.Running {
	t.Helper()
	f := feedtest.Build(t, "mqtt/subscribe", feedtest.Config(p))
	return feedtest.Start(t, f, emit)
}

// TestMessages: topic filters with + and # select the messages; JSON
// payloads are JSON data, others raw bytes as application/octet-stream;
// the attributes are as documented.
func TestMessages(t *testing.T) {
	broker := upstreamtest.Mosquitto(t, upstreamtest.MosquittoOptions{})
	r := run(t, params("url", "tcp://"+broker.Addr, "topic", "devices/+/temperature, alerts/#"), nil)
	time.Sleep(time.Second) // subscribed
	pub(t, broker, "devices/k1/temperature", `{"celsius":21.5}`, 1)
	pub(t, broker, "devices/k1/humidity", `{"percent":40}`, 1) // no filter takes it
	pub(t, broker, "alerts/fire/floor2", "smoke!", 0)
	pub(t, broker, "devices/k2/temperature", "22", 2)
	r.Rec.WaitFor(t, 3, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	evs := r.Rec.Events()
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3: %v", len(evs), evs)
	}
	bySubject := map[string]event.Event{}
	for _, e := range evs {
		bySubject[e.Subject()] = e
		if e.Type() != mqtt.TypeMessage || e.Source() != "mqtt://"+broker.Addr {
			t.Errorf("event type %s source %s, want %s mqtt://%s", e.Type(), e.Source(), mqtt.TypeMessage, broker.Addr)
		}
		if err := e.Validate(); err != nil {
			t.Error(err)
		}
	}
	for subject, want := range map[string]struct{ ct, data string }{
		"devices/k1/temperature": {"application/json", `{"celsius":21.5}`},
		"alerts/fire/floor2":     {"application/octet-stream", "smoke!"},
		"devices/k2/temperature": {"application/json", "22"},
	} {
		e, ok := bySubject[subject]
		if !ok {
			t.Errorf("no event for %s", subject)
			continue
		}
		if e.DataContentType() != want.ct || string(e.Data()) != want.data {
			t.Errorf("%s: %s %q, want %s %q", subject, e.DataContentType(), e.Data(), want.ct, want.data)
		}
	}
	// The binary payload reaches an action as OpenWhisk's raw body.
	params := hub.DataParameters(bySubject["alerts/fire/floor2"].DataContentType(), bySubject["alerts/fire/floor2"].Data())
	if b, _ := json.Marshal(params); !strings.Contains(string(b), `"__ow_body":"c21va2Uh"`) {
		t.Errorf("action parameters of a binary payload: %s", b)
	}
}

// TestAckOnlyWhenStored: a message whose event could not be stored is not
// acknowledged: the instance fails, and the next one, on the same session,
// gets the message again from the broker.
func TestAckOnlyWhenStored(t *testing.T) {
	broker := upstreamtest.Mosquitto(t, upstreamtest.MosquittoOptions{})
	p := params("url", "tcp://"+broker.Addr, "topic", "orders", "clientId", "ack-test")
	r := run(t, p, func(context.Context, event.Event) error { return errors.New("JetStream is away") })
	time.Sleep(time.Second)
	pub(t, broker, "orders", `{"order":1}`, 1)
	if err := r.Wait(t, 30*time.Second); err == nil || !strings.Contains(err.Error(), "JetStream is away") {
		t.Fatalf("Run returned %v, want the store error", err)
	}
	r2 := run(t, p, nil)
	evs := r2.Rec.WaitFor(t, 1, 30*time.Second)
	if evs[0].Subject() != "orders" || string(evs[0].Data()) != `{"order":1}` {
		t.Fatalf("redelivered event %v", evs[0])
	}
}

// TestBadParams: each invalid parameter is a *feeds.ParamError naming it.
func TestBadParams(t *testing.T) {
	ok := []any{"url", "tcp://127.0.0.1:1883", "topic", "a/b"}
	with := func(kv ...any) feeds.Params { return params(append(append([]any{}, ok...), kv...)...) }
	for _, c := range []struct {
		name   string
		params feeds.Params
		bad    string
	}{
		{"http url", with("url", "http://127.0.0.1/"), "url"},
		{"no host", with("url", "tcp://"), "url"},
		{"no topic", params("url", "tcp://127.0.0.1:1883"), "topic"},
		{"# not last", with("topic", "a/#/b"), "topic"},
		{"+ in a level", with("topic", "a/b+/c"), "topic"},
		{"empty filter in a list", with("topic", "a/b,"), "topic"},
		{"qos 3", with("qos", 3), "qos"},
		{"qos text", with("qos", "high"), "qos"},
		{"bad CA", with("url", "ssl://127.0.0.1:8883", "caCert", "not a cert"), "caCert"},
		{"cert without key", with("url", "ssl://127.0.0.1:8883", "clientCert", "x"), "clientKey"},
		{"TLS options on tcp", with("insecureSkipVerify", true), "url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := feedtest.Provider(t, "mqtt/subscribe").Build(feedtest.Config(c.params))
			var pe *feeds.ParamError
			if !errors.As(err, &pe) || pe.Name != c.bad {
				t.Fatalf("got %v, want a *feeds.ParamError naming %q", err, c.bad)
			}
		})
	}
}

// TestOfflineMessagesAndReconnect: QoS 1 messages published while Gust
// was stopped are stored once it runs again (the broker kept them for the
// feed's persistent session); a broker that is down shows in READ while
// the feed retries, and once it is back the feed subscribes again.
func TestOfflineMessagesAndReconnect(t *testing.T) {
	broker := upstreamtest.Mosquitto(t, upstreamtest.MosquittoOptions{})
	dir := t.TempDir()
	h := feedrun.StartHub(t, dir)
	g := feedrun.Start(t, h)
	g.Create(t, "temps", "mqtt/subscribe", params("url", "tcp://"+broker.Addr, "topic", "devices/+/temp"))
	feedrun.Eventually(t, 30*time.Second, "the feed runs", func() bool {
		st := g.Status(t, "temps", "mqtt/subscribe")
		return st["running"] == true && st["lastError"] == nil && st["connected"] == true
	})
	time.Sleep(time.Second) // subscribed
	pub(t, broker, "devices/a/temp", `{"n":1}`, 1)
	feedrun.Eventually(t, 30*time.Second, "the first message is stored", func() bool { return len(feedrun.Stored(t, h, "temps")) == 1 })

	g.Stop()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 6; i++ {
		pub(t, broker, "devices/a/temp", fmt.Sprintf(`{"n":%d}`, i), 1)
	}
	h2 := feedrun.StartHub(t, dir)
	g2 := feedrun.Start(t, h2)
	feedrun.Eventually(t, 60*time.Second, "the messages published while Gust was down are stored", func() bool {
		return len(feedrun.Stored(t, h2, "temps")) == 6
	})
	for i, msg := range feedrun.Stored(t, h2, "temps") {
		if want := fmt.Sprintf(`{"n":%d}`, i+1); string(msg.Data()) != want {
			t.Errorf("event %d data %s, want %s", i, msg.Data(), want)
		}
	}

	// The broker goes away: READ says so while the feed retries.
	broker.Stop()
	feedrun.Eventually(t, 60*time.Second, "READ shows the broker's error, not connected", func() bool {
		st := g2.Status(t, "temps", "mqtt/subscribe")
		msg, _ := st["lastError"].(string)
		return strings.Contains(msg, broker.Addr) && st["connected"] == false
	})
	// It comes back (without the session: no persistence): the feed
	// connects and subscribes again.
	broker.Restart(t)
	deadline := time.Now().Add(60 * time.Second)
	for n := 7; len(feedrun.Stored(t, h2, "temps")) < 7; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("no message after the broker came back; status %v", g2.Status(t, "temps", "mqtt/subscribe"))
		}
		pub(t, broker, "devices/a/temp", fmt.Sprintf(`{"n":%d}`, n), 1)
		time.Sleep(500 * time.Millisecond)
	}
	if st := g2.Status(t, "temps", "mqtt/subscribe"); st["connected"] != true {
		t.Errorf("READ after the broker came back: %v, want connected true", st)
	}
}

// TestLargeMessages: a 20 MB message from mosquitto, more than a bus
// message, is stored (its data by reference) byte for byte; one over the
// feed's 25 MB limit is dropped with READ saying so (dropped, lastError),
// and the feed goes on with the next message.
func TestLargeMessages(t *testing.T) {
	broker := upstreamtest.Mosquitto(t, upstreamtest.MosquittoOptions{})
	h := feedrun.StartHub(t, t.TempDir())
	g := feedrun.Start(t, h)
	g.Create(t, "big", "mqtt/subscribe", params("url", "tcp://"+broker.Addr, "topic", "blobs/#"))
	feedrun.Eventually(t, 30*time.Second, "the feed is connected", func() bool {
		return g.Status(t, "big", "mqtt/subscribe")["connected"] == true
	})
	time.Sleep(500 * time.Millisecond) // subscribed
	pubFile := func(topic string, payload []byte) {
		f := filepath.Join(t.TempDir(), "payload")
		if err := os.WriteFile(f, payload, 0o600); err != nil {
			t.Fatal(err)
		}
		upstreamtest.Run(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(broker.Port), "-t", topic, "-f", f, "-q", "1")
	}
	big := []byte(`{"pad":"` + strings.Repeat("x", 20<<20) + `"}`)
	pubFile("blobs/a", big)
	pubFile("blobs/b", bytes.Repeat([]byte{0xfe}, mqtt.MaxPayload+1))
	pub(t, broker, "blobs/c", `{"after":true}`, 1)
	feedrun.Eventually(t, 60*time.Second, "two messages stored", func() bool { return len(feedrun.Stored(t, h, "big")) == 2 })
	msgs := feedrun.Stored(t, h, "big")
	e, err := hub.DecodeEvent(msgs[0].Headers(), msgs[0].Data())
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.ResolveData(context.Background(), h.JetStream(), &e); err != nil {
		t.Fatal(err)
	}
	if e.Subject() != "blobs/a" || !bytes.Equal(e.Data(), big) {
		t.Errorf("the 20 MB message was stored as %s with %d bytes", e.Subject(), len(e.Data()))
	}
	if string(msgs[1].Data()) != `{"after":true}` {
		t.Errorf("the message after the dropped one: %q", msgs[1].Data())
	}
	st := g.Status(t, "big", "mqtt/subscribe")
	msg, _ := st["lastError"].(string)
	if fmt.Sprint(st["dropped"]) != "1" || !strings.Contains(msg, "blobs/b") || !strings.Contains(msg, strconv.Itoa(mqtt.MaxPayload+1)+" bytes was dropped") || st["connected"] != true {
		t.Errorf("READ after a too large message: %v", st)
	}
}
