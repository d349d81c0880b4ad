package mqtt

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/uuid"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
)

func init() { feeds.Register(provider) }

var provider = feeds.Provider{
	Package:     "mqtt",
	Name:        "subscribe",
	Description: "Fires the trigger for every message an MQTT broker delivers on the topic filters, in a persistent session.",
	Params: []feeds.Param{
		{Name: "url", Type: feeds.String,
			Description: "The broker: tcp://host:1883, ssl://host:8883, ws://host/mqtt or wss://host/mqtt (mqtt:// and mqtts:// too). Without it: the messages devices publish to Gust's own MQTT listener (gust serve --mqtt-listen) in the trigger's namespace."},
		{Name: "topic", Type: feeds.String, Required: true,
			Description: "The topic filter, with + for one level and # for the rest, e.g. devices/+/temperature; several separated by commas."},
		{Name: "qos", Type: feeds.Int, Default: int64(1), Description: "The subscription's quality of service: 0, 1 (default) or 2."},
		{Name: "username", Type: feeds.String, Description: "User name to connect with."},
		{Name: "password", Type: feeds.String, Secret: true, Description: "Password to connect with."},
		{Name: "clientId", Type: feeds.String,
			Description: "The MQTT client id of the feed's session (default: gust- and a hash of the trigger's name, the same on every restart)."},
		{Name: "caCert", Type: feeds.String, Description: "PEM certificates to verify the broker with, instead of the system's."},
		{Name: "clientCert", Type: feeds.String, Description: "PEM client certificate, with clientKey."},
		{Name: "clientKey", Type: feeds.String, Secret: true, Description: "PEM private key of clientCert."},
		{Name: "insecureSkipVerify", Type: feeds.Bool, Description: "true: do not verify the broker's certificate (only for tests)."},
	},
	New: New,
}

// TypeMessage is the type of every event of the feed.
const TypeMessage = "org.mqtt.message"

// MaxPayload is the largest message the feed stores as an event, the
// largest event a feed takes (feeds.MaxReceiveBody, 25 MB): its data
// travels through the object store (hub.PublishEvent). A larger one is
// acknowledged and dropped, and the instance's status says so (lastError,
// dropped). Gust's own listener takes smaller messages still: the bus's
// (hub.MaxMessage).
const MaxPayload = feeds.MaxReceiveBody

// connectTimeout bounds one connection attempt.
const connectTimeout = 30 * time.Second

// Subscription is one instance of the feed: a persistent MQTT session on a
// broker, subscribed to the topic filters.
type Subscription struct {
	broker   string // the URL paho dials
	source   string
	prefix   string // the namespace's topic prefix on the embedded listener; "" for a broker
	filters  []string
	qos      byte
	clientID string
	user     string
	pass     string
	tls      *tls.Config

	cfg feeds.Config
	log *slog.Logger
}

var _ feeds.Feed = (*Subscription)(nil)

// New checks the feed's parameters and builds the instance.
func New(cfg feeds.Config) (feeds.Source, error) {
	v := cfg.Values
	s := &Subscription{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	raw := strings.TrimSpace(v.String("url"))
	if raw == "" {
		return newEmbedded(s, v)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, feeds.Invalid("url", "must be a broker URL such as tcp://127.0.0.1:1883, not %q", raw)
	}
	secure := false
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		u.Scheme = "tcp"
		if port == "" {
			port = "1883"
		}
	case "ssl", "tls", "mqtts":
		u.Scheme, secure = "ssl", true
		if port == "" {
			port = "8883"
		}
	case "ws":
		if port == "" {
			port = "80"
		}
	case "wss":
		secure = true
		if port == "" {
			port = "443"
		}
	default:
		return nil, feeds.Invalid("url", "must start with tcp://, ssl://, ws:// or wss:// (or mqtt://, mqtts://), not %q", raw)
	}
	if u.Scheme == "tcp" || u.Scheme == "ssl" {
		u.Host = joinHostPort(u.Hostname(), port)
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		u.User = nil
	}
	s.broker = u.String()
	s.source = "mqtt://" + joinHostPort(u.Hostname(), port)

	if err := s.common(v); err != nil {
		return nil, err
	}
	if v.Has("username") {
		s.user = v.String("username")
	}
	if v.Has("password") {
		s.pass = v.String("password")
	}
	if s.tls, err = tlsConfig(v, u.Hostname()); err != nil {
		return nil, err
	}
	if s.tls != nil && !secure {
		return nil, feeds.Invalid("url", "must be ssl:// or wss:// to use caCert, clientCert or insecureSkipVerify, not %q", raw)
	}
	if s.tls == nil && secure {
		s.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// common reads the parameters both kinds of feed take: topic, qos,
// clientId.
func (s *Subscription) common(v feeds.Values) error {
	for _, f := range strings.Split(v.String("topic"), ",") {
		f = strings.TrimSpace(f)
		if err := ValidFilter(f); err != nil {
			return feeds.Invalid("topic", "%v", err)
		}
		s.filters = append(s.filters, s.prefix+f)
	}
	qos := v.Int("qos")
	if qos < 0 || qos > 2 {
		return feeds.Invalid("qos", "must be 0, 1 or 2, not %d", qos)
	}
	s.qos = byte(qos)
	s.clientID = v.String("clientId")
	if s.clientID == "" {
		sum := sha256.Sum256([]byte(s.cfg.Trigger.Namespace + "/" + s.cfg.Trigger.Name))
		s.clientID = "gust-" + hex.EncodeToString(sum[:8])
	} else if len(s.clientID) > 65535 || !utf8.ValidString(s.clientID) {
		return feeds.Invalid("clientId", "must be UTF-8 text of at most 65535 bytes")
	}
	return nil
}

var embedded atomic.Pointer[hub.MQTTListener]

// UseEmbedded tells the feeds without a url to take their messages from
// Gust's own MQTT listener l (gust serve --mqtt-listen calls it).
func UseEmbedded(l hub.MQTTListener) { embedded.Store(&l) }

// Embedded returns the listener UseEmbedded set; ok is false when this Gust
// has none.
func Embedded() (l hub.MQTTListener, ok bool) {
	if p := embedded.Load(); p != nil {
		return *p, true
	}
	return hub.MQTTListener{}, false
}

// newEmbedded builds a feed on the embedded listener: its filters are
// under the trigger's namespace, its credentials Gust's own.
func newEmbedded(s *Subscription, v feeds.Values) (feeds.Source, error) {
	l := embedded.Load()
	if l == nil {
		return nil, feeds.Invalid("url", "is required: this Gust has no MQTT listener of its own (start it with gust serve --mqtt-listen 127.0.0.1:1883)")
	}
	for _, name := range []string{"username", "password", "caCert", "clientCert", "clientKey", "insecureSkipVerify"} {
		if v.Has(name) {
			return nil, feeds.Invalid(name, "is for a broker url; Gust's own MQTT listener needs none")
		}
	}
	ns := s.cfg.Trigger.Namespace
	s.prefix = hub.TopicPrefix(ns)
	if err := s.common(v); err != nil {
		return nil, err
	}
	s.broker = "tcp://" + l.Addr
	s.source = "mqtt://gust/" + ns
	s.user, s.pass = l.Username, l.Password
	return s, nil
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// tlsConfig reads the TLS parameters; nil when none is given.
func tlsConfig(v feeds.Values, host string) (*tls.Config, error) {
	if !v.Has("caCert") && !v.Has("clientCert") && !v.Has("clientKey") && !v.Bool("insecureSkipVerify") {
		return nil, nil
	}
	c := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: v.Bool("insecureSkipVerify")}
	if v.Has("caCert") {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(v.String("caCert"))) {
			return nil, feeds.Invalid("caCert", "holds no PEM certificate")
		}
		c.RootCAs = pool
	}
	if v.Has("clientCert") != v.Has("clientKey") {
		if v.Has("clientCert") {
			return nil, feeds.Invalid("clientKey", "is required with clientCert")
		}
		return nil, feeds.Invalid("clientCert", "is required with clientKey")
	}
	if v.Has("clientCert") {
		pair, err := tls.X509KeyPair([]byte(v.String("clientCert")), []byte(v.String("clientKey")))
		if err != nil {
			return nil, feeds.Invalid("clientCert", "and clientKey are not a PEM certificate and its key: %v", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// ValidFilter checks an MQTT topic filter: not empty, + and # each a whole
// level, # only the last.
func ValidFilter(f string) error {
	switch {
	case f == "":
		return errors.New("must be a topic filter such as devices/+/temperature, not empty")
	case len(f) > 65535:
		return errors.New("is longer than 65535 bytes")
	case !utf8.ValidString(f) || strings.ContainsRune(f, 0):
		return fmt.Errorf("must be UTF-8 text without NUL: %q", f)
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("%q: # must be a whole level and the last one", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("%q: + must be a whole level", f)
		}
	}
	return nil
}

// Run connects with a persistent session (clean session off, the same
// client id every time), subscribes to the filters and emits each message
// delivered. A QoS 1 or 2 message is acknowledged to the broker only once
// its event is stored, so a message the broker delivered while Gust was
// going down is delivered again; messages published while the feed was
// away are kept by the broker for the session and delivered when it
// connects again. A connection that fails or is lost is an error: the
// manager shows it in the feed's status and runs the instance again after
// a backoff, and the new connection resumes the session.
func (s *Subscription) Run(ctx context.Context, emit feeds.Emit) error {
	failed := make(chan error, 1)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	var inflight sync.WaitGroup
	var closing sync.RWMutex // held for writing once Run is leaving: no more handlers start
	left := false
	handle := func(_ paho.Client, m paho.Message) {
		closing.RLock()
		if left {
			closing.RUnlock()
			return
		}
		inflight.Add(1)
		closing.RUnlock()
		defer inflight.Done()
		if n := len(m.Payload()); n > MaxPayload {
			s.log.Error("mqtt message too large to store; dropped", "topic", m.Topic(), "bytes", n, "max", MaxPayload)
			s.report(feeds.Condition{Dropped: true,
				Err: fmt.Errorf("a message on %s of %d bytes was dropped: larger than the feed's limit of %d bytes", m.Topic(), n, MaxPayload)})
			m.Ack() // never storable: a redelivery would be dropped again
			return
		}
		if err := emit(ctx, s.event(m)); err != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("store message on %s: %w", m.Topic(), err))
			}
			return // not acknowledged: the broker delivers it again
		}
		m.Ack()
	}
	opts := paho.NewClientOptions().
		AddBroker(s.broker).
		SetClientID(s.clientID).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetConnectTimeout(connectTimeout).
		SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(handle). // messages of the session that arrive before the subscriptions
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			fail(fmt.Errorf("connection to %s lost: %w", s.source, err))
		})
	if s.user != "" || s.pass != "" {
		opts.SetUsername(s.user).SetPassword(s.pass)
	}
	if s.tls != nil {
		opts.SetTLSConfig(s.tls)
	}
	client := paho.NewClient(opts)
	defer func() {
		closing.Lock()
		left = true
		closing.Unlock()
		if client.IsConnectionOpen() {
			client.Disconnect(250)
		}
		inflight.Wait()
	}()
	s.report(feeds.Condition{Connected: &no})
	if err := Wait(ctx, client.Connect()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect to %s as %s: %w", s.source, s.clientID, err)
	}
	filters := make(map[string]byte, len(s.filters))
	for _, f := range s.filters {
		filters[f] = s.qos
	}
	tok := client.SubscribeMultiple(filters, handle)
	if err := Wait(ctx, tok); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("subscribe to %s on %s: %w", strings.Join(s.filters, ","), s.source, err)
	}
	for f, granted := range tok.(*paho.SubscribeToken).Result() {
		if granted == 0x80 {
			return fmt.Errorf("%s refused the subscription to %s (not authorized?)", s.source, f)
		}
	}
	s.report(feeds.Condition{Connected: &yes})
	s.log.Info("mqtt subscribed", "broker", s.source, "client_id", s.clientID, "topics", s.filters, "qos", s.qos)
	select {
	case <-ctx.Done():
		return nil
	case err := <-failed:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

var yes, no = true, false

// report tells the manager c, when there is one.
func (s *Subscription) report(c feeds.Condition) {
	if s.cfg.Report != nil {
		s.cfg.Report(c)
	}
}

// Wait waits for the paho client's tok, or for ctx to end: paho's own
// waits take no context.
func Wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// event is the CloudEvent of a message. A QoS 1 or 2 message's id is
// derived from the session, its packet id, topic and payload, so that the
// broker's redelivery of it (after Gust stored it but went down before
// acknowledging) is dropped as a duplicate; a QoS 0 message, never
// redelivered, gets a random id.
func (s *Subscription) event(m paho.Message) event.Event {
	e := event.New()
	if m.Qos() > 0 {
		h := sha256.New()
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00", s.clientID, m.MessageID(), m.Topic())
		h.Write(m.Payload())
		e.SetID(hex.EncodeToString(h.Sum(nil)[:16]))
	} else {
		e.SetID(uuid.NewString())
	}
	e.SetSource(s.source)
	e.SetType(TypeMessage)
	e.SetSubject(hub.SafeAttribute(strings.TrimPrefix(m.Topic(), s.prefix)))
	e.SetTime(s.cfg.Now())
	SetPayload(&e, m.Payload())
	return e
}

// SetPayload makes payload the event's data: as JSON when it parses as
// JSON, else the bytes as they are with datacontenttype
// application/octet-stream (the rule engine hands those to actions
// base64-encoded in __ow_body, hub.DataParameters).
func SetPayload(e *event.Event, payload []byte) {
	if len(payload) == 0 {
		return
	}
	if json.Valid(payload) {
		_ = e.SetData(event.ApplicationJSON, payload)
		return
	}
	_ = e.SetData("application/octet-stream", payload)
}
