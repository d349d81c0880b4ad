package mqtt_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/procs"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// benchMessages is how many messages one measurement publishes.
const benchMessages = 5000

// connect returns a connected paho client.
func connect(b *testing.B, broker, id, user, pass string) paho.Client {
	b.Helper()
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetOrderMatters(false).SetMessageChannelDepth(benchMessages)
	if user != "" {
		opts.SetUsername(user).SetPassword(pass)
	}
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		b.Fatalf("connect to %s: %v", broker, tok.Error())
	}
	b.Cleanup(func() { c.Disconnect(100) })
	return c
}

// publishAll publishes benchMessages JSON messages on topic and waits for
// the broker's acknowledgements (QoS 1).
func publishAll(b *testing.B, c paho.Client, topic string, qos byte) {
	b.Helper()
	toks := make([]paho.Token, 0, benchMessages)
	for i := range benchMessages {
		toks = append(toks, c.Publish(topic, qos, false, fmt.Appendf(nil, `{"i":%d}`, i)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			b.Fatalf("publish: %v", tok.Error())
		}
	}
}

// waitCount waits until n reaches want, or until it made no progress for
// 5 s (QoS 0 may drop messages under load), and returns the time the last
// one arrived after start.
func waitCount(n *atomic.Int64, last *atomic.Int64, start time.Time, want int64) (time.Duration, int64) {
	prev, since := int64(-1), time.Now()
	for {
		got := n.Load()
		if got >= want {
			break
		}
		if got != prev {
			prev, since = got, time.Now()
		} else if time.Since(since) > 5*time.Second {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Duration(last.Load() - start.UnixNano()), n.Load()
}

// floorRate is the broker's own publish → subscribe rate: a bare paho
// subscriber counting the messages a paho publisher sends.
func floorRate(b *testing.B, broker, user, pass, topic string, qos byte) float64 {
	b.Helper()
	sub := connect(b, broker, fmt.Sprintf("floor-sub-%d", time.Now().UnixNano()), user, pass)
	var n, last atomic.Int64
	if tok := sub.Subscribe(topic, qos, func(paho.Client, paho.Message) {
		n.Add(1)
		last.Store(time.Now().UnixNano())
	}); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	pub := connect(b, broker, fmt.Sprintf("floor-pub-%d", time.Now().UnixNano()), user, pass)
	start := time.Now()
	publishAll(b, pub, topic, qos)
	d, got := waitCount(&n, &last, start, benchMessages)
	sub.Unsubscribe(topic).WaitTimeout(5 * time.Second)
	return float64(got) / d.Seconds()
}

// feedRate is the rate at which a feed instance stores the messages as
// events on a trigger of a real hub.
func feedRate(b *testing.B, h *hub.Hub, p feeds.Params, broker, user, pass, pubTopic string, qos byte) float64 {
	b.Helper()
	prov, _ := feeds.Registered().Lookup("mqtt/subscribe")
	f, err := prov.Build(feedtest.Config(p))
	if err != nil {
		b.Fatal(err)
	}
	pubr := hub.NewPublisher(h.JetStream())
	var n, last atomic.Int64
	emit := func(ctx context.Context, e event.Event) error {
		if err := pubr.Publish(ctx, "guest", "bench", e, nil); err != nil {
			return err
		}
		n.Add(1)
		last.Store(time.Now().UnixNano())
		return nil
	}
	r := feedtest.Start(b, f, emit)
	time.Sleep(time.Second) // subscribed
	pub := connect(b, broker, fmt.Sprintf("feed-pub-%d", time.Now().UnixNano()), user, pass)
	start := time.Now()
	publishAll(b, pub, pubTopic, qos)
	d, got := waitCount(&n, &last, start, benchMessages)
	if err := r.Stop(b); err != nil {
		b.Fatal(err)
	}
	return float64(got) / d.Seconds()
}

// BenchmarkMQTT measures messages/s from an MQTT publisher through the
// mqtt feed to events stored in JetStream, at QoS 0 and 1, from a
// mosquitto broker and from Gust's own listener; the floor is the same
// broker's publish → subscribe rate to a bare paho subscriber in the same
// run.
func BenchmarkMQTT(b *testing.B) {
	b.Cleanup(procs.AsServe())
	broker := upstreamtest.Mosquitto(b, upstreamtest.MosquittoOptions{})
	// Devices publish through the listener's gate (without its rate
	// limit, which would measure the limit), as in gust serve.
	h, addr := startListenerRate(b, -1, nil)
	l, _ := h.MQTT()
	dev := devices["dev-guest"]
	for _, qos := range []byte{0, 1} {
		b.Run(fmt.Sprintf("mosquitto-qos%d", qos), func(b *testing.B) {
			var rate, floor float64
			for range b.N {
				floor = floorRate(b, "tcp://"+broker.Addr, "", "", "bench/floor", qos)
				rate = feedRate(b, h, feedtest.Params("url", "tcp://"+broker.Addr, "topic", "bench/feed", "qos", int(qos),
					"clientId", fmt.Sprintf("bench-%d-%d", qos, time.Now().UnixNano())), "tcp://"+broker.Addr, "", "", "bench/feed", qos)
			}
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(floor, "floor-msgs/s")
		})
		b.Run(fmt.Sprintf("embedded-qos%d", qos), func(b *testing.B) {
			var rate, floor, direct float64
			for range b.N {
				// The NATS server's own MQTT port, without the gate: what
				// the gate costs a device.
				direct = floorRate(b, "tcp://"+l.Addr, "dev-guest", dev.pass, "guest/bench/direct", qos)
				floor = floorRate(b, "tcp://"+addr, "dev-guest", dev.pass, "guest/bench/floor", qos)
				rate = feedRate(b, h, feedtest.Params("topic", "bench/feed", "qos", int(qos),
					"clientId", fmt.Sprintf("bench-e-%d-%d", qos, time.Now().UnixNano())), "tcp://"+addr, "dev-guest", dev.pass, "guest/bench/feed", qos)
			}
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(floor, "floor-msgs/s")
			b.ReportMetric(direct, "ungated-floor-msgs/s")
		})
	}
}
