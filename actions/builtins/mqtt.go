package builtins

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/uuid"

	"github.com/gusthub/gust/feeds/mqtt"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/invoker"
)

func init() {
	invoker.RegisterBuiltin(invoker.Builtin{
		Package:     "mqtt",
		Name:        "publish",
		Description: "Publishes a message to MQTT devices: on Gust's own listener in the caller's namespace, or to a broker url",
		Params: []invoker.BuiltinParam{
			{Name: "topic", Required: true, Description: "the topic, without wildcards; on Gust's own listener below the namespace (devices/k1/command is <namespace>/devices/k1/command)"},
			{Name: "payload", Description: "the message: a string as it is, any other JSON value as JSON (default empty)"},
			{Name: "qos", Description: "0 (default), 1 or 2"},
			{Name: "retain", Description: "true: the broker keeps the message for later subscribers"},
			{Name: "url", Description: "a broker (tcp://, ssl://, ws://, wss://) instead of Gust's own listener"},
			{Name: "username", Description: "user name for the broker url"},
			{Name: "password", Description: "password for the broker url"},
		},
		Run: mqttPublish,
	})
}

// mqttTimeout bounds the connection and the publish; the action's own time
// limit may end them sooner.
const mqttTimeout = 30 * time.Second

// mqttPublish connects, publishes one message, waits for the broker's
// acknowledgement (for QoS 1 and 2) and disconnects.
func mqttPublish(ctx context.Context, c *invoker.Call) (any, error) {
	topic, err := str(c, "topic")
	if err != nil {
		return nil, err
	}
	if topic == "" || strings.ContainsAny(topic, "+#") || strings.ContainsRune(topic, 0) {
		return nil, fmt.Errorf("parameter 'topic' must be a topic without wildcards (+, #), not %q", topic)
	}
	var payload []byte
	if raw, ok := c.Params["payload"]; ok && string(raw) != "null" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			payload = []byte(s)
		} else {
			payload = raw
		}
	}
	qos, err := smallInt(c, "qos", 2)
	if err != nil {
		return nil, err
	}
	retain := false
	if raw, ok := c.Params["retain"]; ok {
		if err := json.Unmarshal(raw, &retain); err != nil {
			if s, _ := c.String("retain"); s == "true" || s == "false" {
				retain = s == "true"
			} else {
				return nil, fmt.Errorf("parameter 'retain' must be true or false, not %s", raw)
			}
		}
	}
	broker, err := str(c, "url")
	if err != nil {
		return nil, err
	}
	opts := paho.NewClientOptions().SetClientID("gust-pub-" + uuid.NewString()[:8]).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(mqttTimeout)
	target := ""
	if broker == "" {
		l, ok := mqtt.Embedded()
		if !ok {
			return nil, errors.New("parameter 'url' is required: this Gust has no MQTT listener of its own (gust serve --mqtt-listen)")
		}
		topic = hub.TopicPrefix(c.Namespace) + topic
		opts.AddBroker("tcp://" + l.Addr).SetUsername(l.Username).SetPassword(l.Password)
		target = "mqtt://gust/" + c.Namespace
	} else {
		u, err := url.Parse(broker)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("parameter 'url' must be a broker URL such as tcp://127.0.0.1:1883, not %q", broker)
		}
		switch u.Scheme {
		case "tcp", "mqtt", "ws":
		case "ssl", "tls", "mqtts", "wss":
			opts.SetTLSConfig(&tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
		default:
			return nil, fmt.Errorf("parameter 'url' must start with tcp://, ssl://, ws:// or wss://, not %q", broker)
		}
		opts.AddBroker(broker)
		user, _ := str(c, "username")
		pass, _ := c.String("password")
		if u.User != nil {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		if user != "" || pass != "" {
			opts.SetUsername(user).SetPassword(pass)
		}
		target = "mqtt://" + u.Host
	}
	ctx, cancel := context.WithTimeout(ctx, mqttTimeout)
	defer cancel()
	client := paho.NewClient(opts)
	if err := mqtt.Wait(ctx, client.Connect()); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", target, err)
	}
	defer client.Disconnect(250)
	if err := mqtt.Wait(ctx, client.Publish(topic, byte(qos), retain, payload)); err != nil {
		return nil, fmt.Errorf("publish to %s on %s: %w", topic, target, err)
	}
	c.Logf("published %d bytes to %s on %s (qos %d, retain %v)", len(payload), topic, target, qos, retain)
	return map[string]any{"topic": topic, "qos": qos, "retain": retain, "bytes": len(payload)}, nil
}

// smallInt reads an integer parameter from 0 to maxValue (default 0).
func smallInt(c *invoker.Call, name string, maxValue int) (int, error) {
	raw, ok := c.Params[name]
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		s, _ := c.String(name)
		if n, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return 0, fmt.Errorf("parameter '%s' must be a number from 0 to %d, not %s", name, maxValue, raw)
		}
	}
	if n < 0 || n > maxValue {
		return 0, fmt.Errorf("parameter '%s' must be a number from 0 to %d, not %d", name, maxValue, n)
	}
	return n, nil
}
