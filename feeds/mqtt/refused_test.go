package mqtt_test

import (
	"strings"
	"testing"

	"github.com/gusthub/gust/internal/syncbuf"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// TestWrongPasswordNotAnError: a device refused for its credentials is the
// device's fault, not the server's: gust serve logged it as a WARN of its
// own plus two ERROR lines of the NATS server ("authentication error"),
// so a device retrying a stale password filled the log with errors.
func TestWrongPasswordNotAnError(t *testing.T) {
	var logs syncbuf.Buffer
	_, addr := startListenerRate(t, 0, textLog(&logs))
	host, port, _ := strings.Cut(addr, ":")
	out, err := upstreamtest.Try(t, "mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv311",
		"-u", "dev-guest", "-P", "wrong", "-t", "guest/devices/k1/temp", "-m", "{}")
	if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
		t.Fatalf("a wrong password: %v %s, want CONNACK not authorized", err, out)
	}
	log := logs.String()
	if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "dev-guest") {
		t.Errorf("the refused device is not logged as a warning:\n%s", log)
	}
	if strings.Contains(log, "level=ERROR") {
		t.Errorf("a refused device is logged as an error:\n%s", log)
	}
}
