package hub

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// MQTTOptions turn on the embedded server's MQTT listener (MQTT 3.1.1,
// QoS 0, 1 and 2, retained and will messages), for devices that publish to
// Gust itself.
type MQTTOptions struct {
	// Listen is the listener's host:port, e.g. 127.0.0.1:1883.
	Listen string
	// Authenticate maps a device's MQTT user name and password to the
	// namespace whose topics it may use; an error refuses the connection
	// (CONNACK "not authorized").
	Authenticate func(ctx context.Context, username, password string) (namespace string, err error)
	// Rate is how many messages per second one device connection may
	// publish (0: DefaultMQTTRate; negative: no bound); a faster device is
	// paced. A device's message is at most MaxDeviceMessage.
	Rate float64
}

// InternalMQTTUser is the user name Gust's own MQTT clients (the mqtt feed
// without a broker URL) connect to the embedded listener with; its
// password is a random secret of the process (Hub.MQTT).
const InternalMQTTUser = "$gust"

// MQTTListener is how Gust's own clients reach the embedded MQTT listener.
type MQTTListener struct {
	// Addr is the NATS server's own MQTT listener, on loopback: Gust's
	// clients bypass the devices' limits (MQTTOptions.Listen is the
	// devices').
	Addr string
	// Username and Password are the internal credentials: they may
	// subscribe and publish to every namespace's topics.
	Username, Password string
}

// MQTT returns the embedded MQTT listener, ok false when it is off.
func (h *Hub) MQTT() (l MQTTListener, ok bool) {
	if h.mqtt == nil {
		return MQTTListener{}, false
	}
	return *h.mqtt, true
}

// TopicPrefix is the first level of every MQTT topic of namespace ns on the
// embedded listener: a device of ns publishes and subscribes only below
// "<ns>/".
func TopicPrefix(ns string) string { return ns + "/" }

// mqttSubject is the NATS subject of MQTT topic level(s) t, as the NATS
// server maps them ('/' → '.', '.' → '//').
func mqttSubject(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, ".", "//"), "/", ".")
}

// deviceAuth authenticates the clients of the embedded server when the
// MQTT listener is on. NATS clients (which name their language in CONNECT:
// Gust's own, and other processes on --nats-listen) pass as before; MQTT
// clients, which do not, must be the internal user or a device whose
// credentials Authenticate maps to a namespace, and then may use only that
// namespace's topics.
type deviceAuth struct {
	authenticate func(ctx context.Context, username, password string) (string, error)
	secret       string
	log          func(msg string, args ...any)
}

// Check implements server.Authentication.
func (a *deviceAuth) Check(c server.ClientAuthentication) bool {
	opts := c.GetOpts()
	if opts.Lang != "" {
		return true // a NATS client
	}
	// Each refusal is logged here, once, with its reason: the server's own
	// lines about it are debug (natsLogger).
	refuse := func(err error) bool {
		a.log("mqtt device refused", "user", opts.Username, "remote", fmt.Sprint(c.RemoteAddress()), "err", err)
		return false
	}
	if opts.Username == InternalMQTTUser {
		if subtle.ConstantTimeCompare([]byte(opts.Password), []byte(a.secret)) != 1 {
			return refuse(errors.New("bad credentials for the internal user"))
		}
		return true
	}
	if opts.Username == "" {
		return refuse(errors.New("no username: a device signs in with its credentials"))
	}
	if a.authenticate == nil {
		return refuse(errors.New("no device credentials are configured"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns, err := a.authenticate(ctx, opts.Username, opts.Password)
	if err == nil && ns == "" {
		err = errors.New("no namespace")
	}
	if err != nil {
		return refuse(err)
	}
	own := []string{mqttSubject(ns) + ".>"}
	c.RegisterUser(&server.User{Username: opts.Username, Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: own},
		Subscribe: &server.SubjectPermission{Allow: own},
	}})
	return true
}

// mqttServerOptions turns on the NATS server's MQTT listener in sopts, on
// a loopback port of its choosing, and opens the devices' gate on
// o.Listen, which relays to it once the server runs (startGate).
func mqttServerOptions(sopts *server.Options, o *MQTTOptions, log *slog.Logger) (*MQTTListener, *mqttGate, error) {
	_, port, err := splitHostPort(o.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("hub: --mqtt-listen %q: %w", o.Listen, err)
	}
	if port == 0 {
		return nil, nil, errors.New("hub: --mqtt-listen needs a port, e.g. 127.0.0.1:1883")
	}
	gate, err := newMQTTGate(o.Listen, o.Rate, log)
	if err != nil {
		return nil, nil, err
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	secret := hex.EncodeToString(b[:])
	sopts.MQTT.Host, sopts.MQTT.Port = "127.0.0.1", server.RANDOM_PORT
	sopts.MQTT.AuthTimeout = 10
	sopts.CustomClientAuthentication = &deviceAuth{authenticate: o.Authenticate, secret: secret, log: log.Warn}
	return &MQTTListener{Username: InternalMQTTUser, Password: secret}, gate, nil
}

// startGate points the gate and l at the MQTT port the started server
// listens on (Start set it in sopts).
func startGate(sopts *server.Options, l *MQTTListener, gate *mqttGate) error {
	if sopts.MQTT.Port <= 0 {
		return errors.New("hub: the embedded NATS server's MQTT listener did not start")
	}
	l.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sopts.MQTT.Port))
	gate.serve(l.Addr)
	return nil
}
