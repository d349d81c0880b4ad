package thermostat

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/exampletest"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// TestThermostat runs the README: a temperature published with
// mosquitto_pub to the embedded listener runs the sequence, whose command
// reaches mosquitto_sub on the device's command topic.
func TestThermostat(t *testing.T) {
	port := strconv.Itoa(exampletest.FreePort(t))
	g := exampletest.ServeNode(t, "--mqtt-listen", "127.0.0.1:"+port)
	g.Run(t, "action", "create", "decide", "decide.js", "-p", "target", "21")
	g.Run(t, "action", "create", "thermostat", "--sequence", "decide,/whisk.system/mqtt/publish")
	g.Run(t, "trigger", "create", "temps", "--feed", "mqtt/subscribe", "-p", "topic", "devices/+/temperature")
	g.Run(t, "rule", "create", "heat", "temps", "thermostat")
	auth := []string{"-h", "127.0.0.1", "-p", port, "-V", "mqttv311", "-u", exampletest.GuestUUID, "-P", exampletest.GuestSecret}

	sub := upstreamtest.Command(t, "mosquitto_sub", append(auth, "-t", "guest/devices/k1/command", "-C", "1", "-W", "90")...)
	var out strings.Builder
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the device and the feed are subscribed
	upstreamtest.Run(t, "mosquitto_pub", append(auth, "-q", "1", "-t", "guest/devices/k1/temperature", "-m", `{"celsius": 17.5}`)...)
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v %s\n%s", err, out.String(), g.Run(t, "activation", "list"))
	}
	if got := strings.TrimSpace(out.String()); got != `{"heat":"on","target":21,"measured":17.5}` {
		t.Fatalf("the device got %q", got)
	}
	// Wrong credentials are refused.
	bad, err := upstreamtest.Try(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv311", "-u", exampletest.GuestUUID, "-P", "wrong",
		"-t", "guest/devices/k1/temperature", "-m", "{}")
	if err == nil || !strings.Contains(strings.ToLower(bad), "not authori") {
		t.Errorf("wrong credentials: %v %s", err, bad)
	}
}
