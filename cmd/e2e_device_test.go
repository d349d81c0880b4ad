package gustcmd

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/syncbuf"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// TestE2EDeviceCredentials: `gust device create` gives one device its own
// MQTT login to the embedded listener, shown once; the device uses its
// namespace's topics only; a rotated password and a deleted device are
// refused with CONNACK "not authorized", and list and get never show a
// password.
func TestE2EDeviceCredentials(t *testing.T) {
	port := strconv.Itoa(upstreamtest.FreePort(t))
	_, cli := startE2E(t, "--mqtt-listen", "127.0.0.1:"+port)
	creds := regexp.MustCompile(`username: (\S+)\npassword: (\S+)\n`)
	create := func(args ...string) (user, pass string) {
		t.Helper()
		out := mustGust(t, cli, append([]string{"device", "create"}, args...)...)
		m := creds.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("device create %v printed no credentials:\n%s", args, out)
		}
		return m[1], m[2]
	}
	mqttArgs := func(user, pass string, rest ...string) []string {
		return append([]string{"-h", "127.0.0.1", "-p", port, "-V", "mqttv311", "-u", user, "-P", pass}, rest...)
	}
	refused := func(what, user, pass string) {
		t.Helper()
		out, err := upstreamtest.Try(t, "mosquitto_pub", mqttArgs(user, pass, "-t", "guest/x", "-m", "1", "-q", "1")...)
		if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
			t.Errorf("%s: %v %s, want CONNACK not authorized", what, err, out)
		}
	}

	user, pass := create("k1")
	if user != "guest/k1" || len(pass) != 64 {
		t.Fatalf("device k1: username %q, password of %d characters; want guest/k1 and 64", user, len(pass))
	}
	// The device talks on its namespace's topics.
	sub := upstreamtest.Command(t, "mosquitto_sub", mqttArgs(user, pass, "-t", "guest/devices/k1/cmd", "-q", "1", "-C", "1", "-W", "20")...)
	var got syncbuf.Buffer
	sub.Stdout, sub.Stderr = &got, &got
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	// Published until the subscription, which starts in parallel, is in place.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(got.String(), "heat-on"); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the device never received its own message: %q", got.String())
		}
		upstreamtest.Run(t, "mosquitto_pub", mqttArgs(user, pass, "-t", "guest/devices/k1/cmd", "-m", "heat-on", "-q", "1")...)
	}
	_ = sub.Wait()
	// ... and no other namespace's.
	out, _ := upstreamtest.Try(t, "mosquitto_sub", mqttArgs(user, pass, "-t", "other/#", "-q", "1", "-C", "1", "-W", "3")...)
	if !strings.Contains(out, "denied") {
		t.Errorf("device of guest subscribing to other/#: %q, want the subscription denied", out)
	}
	wrong := "x" + pass[1:]
	if wrong == pass { // the password began with an x
		wrong = "y" + pass[1:]
	}
	refused("a wrong password", user, wrong)

	// Creating it again is refused; list and get show no password.
	if r := gust(t, cli, "device", "create", "k1"); r.err == nil || !strings.Contains(r.err.Error()+r.stderr, "already exists") {
		t.Errorf("device create k1 again: %v %s, want it refused as existing", r.err, r.stderr)
	}
	for _, args := range [][]string{{"device", "list"}, {"device", "get", "k1"}, {"device", "list", "--json"}, {"device", "get", "k1", "--json"}} {
		out := mustGust(t, cli, args...)
		if !strings.Contains(out, "guest/k1") || strings.Contains(out, pass) || strings.Contains(out, "passwordHash") {
			t.Errorf("gust %s shows:\n%s\nwant the device without its password", strings.Join(args, " "), out)
		}
	}
	if r := gust(t, cli, "device", "create", "no/slash"); r.err == nil {
		t.Errorf("device create no/slash: %s, want it refused", r.stdout)
	}

	// A new password replaces the old one; a deleted device is out.
	_, rotated := create("k1", "--rotate")
	refused("the password before --rotate", user, pass)
	upstreamtest.Run(t, "mosquitto_pub", mqttArgs(user, rotated, "-t", "guest/devices/k1/status", "-m", "ok", "-q", "1")...)
	mustGust(t, cli, "device", "delete", "k1")
	refused("a deleted device", user, rotated)
	if r := gust(t, cli, "device", "get", "k1"); r.err == nil {
		t.Errorf("device get after delete: %s, want not found", r.stdout)
	}
}
