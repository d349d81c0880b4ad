package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// message is a received MQTT message as paho hands it to the feed.
type message struct {
	topic   string
	qos     byte
	id      uint16
	payload []byte
}

func (m message) Duplicate() bool   { return false }
func (m message) Qos() byte         { return m.qos }
func (m message) Retained() bool    { return false }
func (m message) Topic() string     { return m.topic }
func (m message) MessageID() uint16 { return m.id }
func (m message) Payload() []byte   { return m.payload }
func (m message) Ack()              {}

// subscription builds the feed with params as a CREATE would; with
// embedded, on a stand-in for Gust's own listener.
func subscription(t testing.TB, embeddedToo bool, params feeds.Params) *Subscription {
	t.Helper()
	if embeddedToo {
		old := embedded.Load()
		UseEmbedded(hub.MQTTListener{Addr: "127.0.0.1:1", Username: "u", Password: "p"})
		defer embedded.Store(old)
	}
	src, err := provider.Build(feeds.Config{Trigger: actions.Name{Namespace: "guest", Name: "t"}, Params: params,
		Now: func() time.Time { return time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Subscription)
}

// FuzzMessageEvent turns arbitrary MQTT messages (topic, QoS, packet id,
// payload) into the feed's CloudEvent and stores it on a real hub's event
// stream as the manager does, then reads it back as the rule engine does.
// The properties: the event is valid and stored; it reads back with the
// same id, subject (the topic, below the namespace for the embedded
// listener, with control characters percent-encoded), type and data byte
// for byte; a QoS 1 or 2 message gets the
// same id when delivered again; and its action parameters are a JSON
// object.
func FuzzMessageEvent(f *testing.F) {
	for _, s := range []struct {
		topic   string
		qos     byte
		payload string
	}{
		{"sensors/k1/temp", 1, `{"c":20.5}`},
		{"guest/devices/k1/temp", 2, `[1,2,3]`},
		{"a", 0, `hello`},
		{"guest/x", 1, "\x00\x01\x02\xff"},
		{"/", 1, ``},
		{"t", 1, `{"x":1e999}`},
		{"t", 1, `  {"a":1}  `},
		{"t", 0, `"just a string"`},
		{"ünïcödé/主题", 1, `null`},
		{"a\r\nce-type: evil", 1, `{}`},
		{"guest/", 2, "\xef\xbb\xbf{}"},
		{"t", 1, "text with \r\n newlines"},
	} {
		f.Add(s.topic, s.qos, uint16(7), []byte(s.payload))
	}
	ctx := context.Background()
	js := hubtest.Start(f).JetStream()
	events, err := hub.OpenEvents(ctx, js)
	if err != nil {
		f.Fatal(err)
	}
	subs := map[bool]*Subscription{
		false: subscription(f, false, feeds.Params{"url": []byte(`"tcp://127.0.0.1:1"`), "topic": []byte(`"#"`)}),
		true:  subscription(f, true, feeds.Params{"topic": []byte(`"#"`)}),
	}
	n := 0 // each message goes to a trigger of its own, out of the others' duplicate window
	f.Fuzz(func(t *testing.T, topic string, qos byte, id uint16, payload []byte) {
		for own, s := range subs {
			n++
			trigger := "t" + strconv.Itoa(n)
			m := message{topic: topic, qos: qos % 3, id: id, payload: payload}
			if own {
				m.topic = hub.TopicPrefix("guest") + topic
			}
			e := s.event(m)
			if err := e.Validate(); err != nil {
				t.Fatalf("message %+v: invalid event: %v", m, err)
			}
			if m.qos > 0 && s.event(m).ID() != e.ID() {
				t.Fatalf("message %+v: a redelivery gets another id", m)
			}
			// The CloudEvents SDK trims attributes: " a" is subject "a".
			if want := strings.TrimSpace(hub.SafeAttribute(topic)); e.Subject() != want {
				t.Fatalf("message %+v: subject %q, want %q", m, e.Subject(), want)
			}
			if !bytes.Equal(e.Data(), payload) {
				t.Fatalf("message %+v: data %q, want the payload", m, e.Data())
			}
			if err := hub.PublishEvent(ctx, js, "guest", trigger, e, nil); err != nil {
				t.Fatalf("message %+v: %v", m, err)
			}
			stored, err := events.GetLastMsgForSubject(ctx, hub.EventSubject("guest", trigger))
			if err != nil {
				t.Fatal(err)
			}
			back, err := hub.DecodeEvent(stored.Header, stored.Data)
			if err != nil {
				t.Fatalf("message %+v: stored event does not decode: %v", m, err)
			}
			if back.ID() != e.ID() || back.Subject() != e.Subject() || back.Type() != TypeMessage ||
				back.Source() != e.Source() || back.DataContentType() != e.DataContentType() || !bytes.Equal(back.Data(), payload) {
				t.Fatalf("message %+v: stored as %s, want %s", m, back, e)
			}
			b, err := json.Marshal(hub.DataParameters(back.DataContentType(), back.Data()))
			if err != nil || !json.Valid(b) || b[0] != '{' {
				t.Fatalf("message %+v: action parameters %s: %v", m, b, err)
			}
		}
	})
}
