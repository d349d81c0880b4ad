package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/mqtt"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/syncbuf"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// devices are the credentials the embedded listener of the test takes.
var devices = map[string]struct{ pass, ns string }{
	"dev-guest": {"secret-guest", "guest"},
	"dev-other": {"secret-other", "other"},
	"dev-flood": {"secret-flood", "guest"},
}

// startListener starts a hub with the MQTT listener on and makes it the
// embedded listener of feeds without a url.
func startListener(t *testing.T) (*hub.Hub, string) {
	t.Helper()
	return startListenerB(t)
}

// startListenerB is startListener for any test or benchmark; its hub has
// the events stream.
func startListenerB(t testing.TB) (*hub.Hub, string) {
	t.Helper()
	return startListenerRate(t, 0, nil)
}

// startListenerRate is startListenerB with devices limited to perSecond
// messages a second (0: the default), logging to log (nil: nowhere).
func startListenerRate(t testing.TB, perSecond float64, log *slog.Logger) (*hub.Hub, string) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(upstreamtest.FreePort(t))
	h, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir(), Logger: log, MQTT: &hub.MQTTOptions{Listen: addr, Rate: perSecond,
		Authenticate: func(_ context.Context, user, pass string) (string, error) {
			if d, ok := devices[user]; ok && d.pass == pass {
				return d.ns, nil
			}
			return "", errors.New("bad credentials")
		}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if _, err := hub.OpenEvents(context.Background(), h.JetStream()); err != nil {
		t.Fatal(err)
	}
	l, ok := h.MQTT()
	if !ok {
		t.Fatal("hub has no MQTT listener")
	}
	mqtt.UseEmbedded(l)
	return h, addr
}

// textLog is a logger into buf.
func textLog(buf *syncbuf.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

func clientArgs(addr, user string, rest ...string) []string {
	host, port, _ := strings.Cut(addr, ":")
	args := []string{"-h", host, "-p", port, "-V", "mqttv311", "-u", user, "-P", devices[user].pass}
	return append(args, rest...)
}

// TestEmbeddedListener: a device logs in with its namespace's credentials
// and publishes under "<namespace>/"; the feed without url takes those
// messages, with source mqtt://gust/<namespace> and the topic below the
// namespace as subject. Wrong credentials are refused with CONNACK "not
// authorized"; a device of another namespace can neither publish to nor
// subscribe to the namespace's topics.
func TestEmbeddedListener(t *testing.T) {
	_, addr := startListener(t)
	r := run(t, params("topic", "devices/+/temp"), nil)
	time.Sleep(time.Second) // subscribed

	upstreamtest.Run(t, "mosquitto_pub", clientArgs(addr, "dev-guest", "-t", "guest/devices/k1/temp", "-m", `{"c":20.5}`, "-q", "1")...)
	evs := r.Rec.WaitFor(t, 1, 30*time.Second)
	e := evs[0]
	if e.Source() != "mqtt://gust/guest" || e.Subject() != "devices/k1/temp" || string(e.Data()) != `{"c":20.5}` {
		t.Fatalf("event source %s subject %s data %s", e.Source(), e.Subject(), e.Data())
	}

	// Wrong credentials.
	out, err := upstreamtest.Try(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strings.Split(addr, ":")[1], "-V", "mqttv311",
		"-u", "dev-guest", "-P", "wrong", "-t", "guest/devices/k1/temp", "-m", "{}")
	if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
		t.Errorf("a wrong password: %v %s, want CONNACK not authorized", err, out)
	}
	out, err = upstreamtest.Try(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strings.Split(addr, ":")[1], "-V", "mqttv311",
		"-t", "guest/devices/k1/temp", "-m", "{}")
	if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
		t.Errorf("no credentials: %v %s, want CONNACK not authorized", err, out)
	}

	// Another namespace's device: its publish to guest's topic goes
	// nowhere, and its subscription to them is refused.
	sub := upstreamtest.Command(t, "mosquitto_sub", clientArgs(addr, "dev-other", "-t", "guest/#", "-q", "1", "-C", "1", "-W", "4", "-v")...)
	var subOut strings.Builder
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	_, _ = upstreamtest.Try(t, "mosquitto_pub", clientArgs(addr, "dev-other", "-t", "guest/devices/k1/temp", "-m", `{"intruder":true}`, "-q", "1")...)
	upstreamtest.Run(t, "mosquitto_pub", clientArgs(addr, "dev-guest", "-t", "guest/devices/k2/temp", "-m", `{"c":19}`, "-q", "1")...)
	_ = sub.Wait()
	if !strings.Contains(subOut.String(), "denied") {
		t.Errorf("a device of another namespace subscribed to guest/#: %q, want the subscription denied", subOut.String())
	}
	if strings.Contains(subOut.String(), "guest/devices") {
		t.Errorf("a device of another namespace received guest's message: %s", subOut.String())
	}
	r.Rec.WaitFor(t, 2, 30*time.Second)
	time.Sleep(time.Second)
	for _, e := range r.Rec.Events() {
		if strings.Contains(string(e.Data()), "intruder") {
			t.Errorf("a device of another namespace published to guest: %s", e.Data())
		}
	}
	if n := len(r.Rec.Events()); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
	// Credentials are for brokers; Gust's own listener needs none.
	_, err = feedtest.Provider(t, "mqtt/subscribe").Build(feedtest.Config(params("topic", "a", "username", "u")))
	var pe *feeds.ParamError
	if !errors.As(err, &pe) || pe.Name != "username" {
		t.Errorf("username without url: %v, want a *feeds.ParamError naming it", err)
	}
	// The other namespace's own topics work for it.
	upstreamtest.Run(t, "mosquitto_pub", clientArgs(addr, "dev-other", "-t", "other/x", "-m", "1", "-q", "1")...)
}

// TestEmbeddedLargeMessage: a device's 6 MB message, over the 4 MB the
// feed took before and under the bus's 8 MB, reaches the feed whole; a
// 9 MB one is refused by the listener (the device's connection is closed)
// and stores nothing.
func TestEmbeddedLargeMessage(t *testing.T) {
	var logs syncbuf.Buffer
	_, addr := startListenerRate(t, 0, textLog(&logs))
	r := run(t, params("topic", "blobs/#"), nil)
	time.Sleep(time.Second) // subscribed
	dir := t.TempDir()
	for _, m := range []struct {
		topic string
		size  int
	}{{"guest/blobs/big", 6 << 20}, {"guest/blobs/huge", 9 << 20}} {
		f := filepath.Join(dir, "payload")
		if err := os.WriteFile(f, bytes.Repeat([]byte("z"), m.size), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := upstreamtest.Try(t, "mosquitto_pub", clientArgs(addr, "dev-guest", "-t", m.topic, "-f", f, "-q", "1")...)
		if m.size > hub.MaxMessage && err == nil {
			t.Errorf("a %d byte message was taken", m.size)
		}
	}
	upstreamtest.Run(t, "mosquitto_pub", clientArgs(addr, "dev-guest", "-t", "guest/blobs/after", "-m", "{}", "-q", "1")...)
	r.Rec.WaitFor(t, 2, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // a third, which must not come, would be here by now
	evs := r.Rec.Events()
	if len(evs) != 2 || evs[0].Subject() != "blobs/big" || len(evs[0].Data()) != 6<<20 || evs[1].Subject() != "blobs/after" {
		for _, e := range evs {
			t.Logf("event %s: %d bytes", e.Subject(), len(e.Data()))
		}
		t.Fatalf("%d events, want the 6 MB one and the one after", len(evs))
	}
	if l := logs.String(); !strings.Contains(l, `msg="mqtt device disconnected"`) || !strings.Contains(l, `device \"dev-guest\" sent 9437`) {
		t.Errorf("the log does not say which device was disconnected and why:\n%s", l)
	}
}

// TestDeviceRateLimit: a device that publishes 60 messages at once on a
// listener that allows 10 a second (after a burst of 20) is paced, not cut
// off: every message arrives, none sooner than the limit allows, and
// another device of the same namespace gets its message through while the
// first one's are still coming.
func TestDeviceRateLimit(t *testing.T) {
	var logs syncbuf.Buffer
	_, addr := startListenerRate(t, 10, textLog(&logs))
	r := run(t, params("topic", "flood/#"), nil)
	time.Sleep(time.Second) // subscribed
	const n, burst, perSecond = 60, 20, 10
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "{\"i\":%d}\n", i)
	}
	flood := upstreamtest.Command(t, "mosquitto_pub", clientArgs(addr, "dev-flood", "-t", "guest/flood/a", "-l", "-q", "0")...)
	flood.Stdin = strings.NewReader(lines.String())
	start := time.Now()
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	upstreamtest.Run(t, "mosquitto_pub", clientArgs(addr, "dev-guest", "-t", "guest/flood/b", "-m", `{"other":true}`, "-q", "1")...)
	r.Rec.WaitFor(t, n+1, 60*time.Second)
	took := time.Since(start)
	if err := flood.Wait(); err != nil {
		t.Errorf("the paced device's mosquitto_pub: %v", err)
	}
	evs := r.Rec.Events()
	other, last := -1, -1
	for i, e := range evs {
		switch e.Subject() {
		case "flood/b":
			other = i
		case "flood/a":
			last = i
		}
	}
	if len(evs) != n+1 || other < 0 || other > last {
		t.Errorf("%d events (want %d), the other device's at %d, the paced device's last at %d", len(evs), n+1, other, last)
	}
	// A token bucket cannot let them through sooner than this.
	if least := time.Duration(n-burst) * time.Second / perSecond; took < least*9/10 {
		t.Errorf("60 messages arrived in %v, sooner than %v at 10 a second after a burst of 20", took, least)
	}
	if l := logs.String(); strings.Count(l, `msg="mqtt device paced`) != 1 || !strings.Contains(l, "user=dev-flood") {
		t.Errorf("the log does not say once that dev-flood was paced:\n%s", l)
	}
}
