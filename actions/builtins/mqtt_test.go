package builtins

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/feeds/mqtt"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/upstreamtest"
	"github.com/gusthub/gust/invoker"
)

func call(ns string, kv ...any) *invoker.Call {
	c := &invoker.Call{Namespace: ns, Params: map[string]json.RawMessage{}}
	for i := 0; i+1 < len(kv); i += 2 {
		b, _ := json.Marshal(kv[i+1])
		c.Params[kv[i].(string)] = b
	}
	return c
}

// subscribe starts mosquitto_sub for one message on topic and returns a
// function that waits for its output.
func subscribe(t *testing.T, port int, topic string, auth ...string) func() string {
	t.Helper()
	args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-V", "mqttv311", "-t", topic, "-C", "1", "-W", "30", "-v"}, auth...)
	cmd := upstreamtest.Command(t, "mosquitto_sub", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // subscribed
	return func() string { _ = cmd.Wait(); return strings.TrimSpace(out.String()) }
}

// TestMQTTPublishToBroker: mqtt/publish with a url reaches a subscriber of
// a real mosquitto; a JSON payload is sent as JSON.
func TestMQTTPublishToBroker(t *testing.T) {
	broker := upstreamtest.Mosquitto(t, upstreamtest.MosquittoOptions{})
	got := subscribe(t, broker.Port, "devices/k1/command")
	res, err := mqttPublish(context.Background(), call("guest", "url", "tcp://"+broker.Addr, "topic", "devices/k1/command",
		"payload", map[string]any{"heat": "on"}, "qos", 1))
	if err != nil {
		t.Fatal(err)
	}
	if out := got(); out != `devices/k1/command {"heat":"on"}` {
		t.Fatalf("subscriber got %q", out)
	}
	if m := res.(map[string]any); m["topic"] != "devices/k1/command" || m["qos"] != 1 {
		t.Errorf("result %v", m)
	}
}

// TestMQTTPublishEmbedded: without url, the message goes to Gust's own
// listener below the caller's namespace, where the namespace's devices
// get it.
func TestMQTTPublishEmbedded(t *testing.T) {
	port := upstreamtest.FreePort(t)
	h, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir(), MQTT: &hub.MQTTOptions{
		Listen: "127.0.0.1:" + strconv.Itoa(port),
		Authenticate: func(_ context.Context, user, pass string) (string, error) {
			if user == "dev" && pass == "pw" {
				return "guest", nil
			}
			return "", errors.New("bad credentials")
		}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	l, _ := h.MQTT()
	mqtt.UseEmbedded(l)
	got := subscribe(t, port, "guest/devices/k1/command", "-u", "dev", "-P", "pw")
	if _, err := mqttPublish(context.Background(), call("guest", "topic", "devices/k1/command", "payload", "heat on", "qos", 1)); err != nil {
		t.Fatal(err)
	}
	if out := got(); out != "guest/devices/k1/command heat on" {
		t.Fatalf("device got %q", out)
	}
}

// TestMQTTPublishBadParams: a bad parameter is an error naming it.
func TestMQTTPublishBadParams(t *testing.T) {
	for _, c := range []struct {
		call *invoker.Call
		bad  string
	}{
		{call("guest", "payload", "x", "url", "tcp://127.0.0.1:1"), "'topic'"},
		{call("guest", "topic", "a/#", "url", "tcp://127.0.0.1:1"), "'topic'"},
		{call("guest", "topic", "a", "qos", 3, "url", "tcp://127.0.0.1:1"), "'qos'"},
		{call("guest", "topic", "a", "retain", "maybe", "url", "tcp://127.0.0.1:1"), "'retain'"},
		{call("guest", "topic", "a", "url", "http://127.0.0.1:1"), "'url'"},
	} {
		_, err := mqttPublish(context.Background(), c.call)
		if err == nil || !strings.Contains(err.Error(), c.bad) {
			t.Errorf("%v: %v, want an error naming %s", c.call.Params, err, c.bad)
		}
	}
}
