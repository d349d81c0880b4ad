package webhook

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/webhook/ingress"
	"github.com/gusthub/gust/hub"
)

func init() {
	feeds.Register(feeds.Provider{
		Package:     "webhook",
		Name:        "webhook",
		Description: "Turns each POST to the feed's URL (JSON or any other body) into a CloudEvent that fires the trigger",
		Params: append(ingress.Params(), feeds.Param{Name: TypeParam, Type: feeds.String,
			Description: "CloudEvent type of the events (default: com.github.<X-GitHub-Event> for GitHub deliveries, else " + DefaultType + ")"}),
		New: newWebhook,
	})
}

// TypeParam names the parameter that sets the events' type.
const TypeParam = "type"

// DefaultType is the type of events from senders Gust does not recognize.
const DefaultType = "dev.gust.webhook"

// IDHeaders are the request headers that name a delivery, in the order
// they are looked for; the first present becomes the event id, so that a
// sender's redelivery of the same delivery is dropped as a duplicate.
var IDHeaders = []string{
	"Idempotency-Key",
	"X-GitHub-Delivery",
	"X-Gitlab-Event-UUID",
	"X-Delivery-Id",
	"X-Webhook-Id",
	"X-Request-Id",
}

// maxIDLen bounds an id taken from a header.
const maxIDLen = 256

var (
	typeRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`)
	idRule   = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

// Webhook is one webhook feed: the receiver of one trigger.
type Webhook struct {
	auth   *ingress.Auth
	typ    string
	source string
	now    func() time.Time
}

// newWebhook checks the feed's parameters (token, secret, type) and builds the
// webhook; with neither token nor secret it generates a token into
// cfg.Params.
func newWebhook(cfg feeds.Config) (feeds.Source, error) {
	auth, err := ingress.NewAuth(cfg)
	if err != nil {
		return nil, err
	}
	typ := cfg.Values.String(TypeParam)
	if typ != "" && (!typeRule.MatchString(typ) || len(typ) > 200) {
		return nil, feeds.Invalid(TypeParam, "must be a CloudEvent type such as com.example.order.created, not %q", typ)
	}
	source := cfg.URL
	if source == "" {
		source = feeds.ReceivePath + cfg.Trigger.Namespace + "/" + cfg.Trigger.Name
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Webhook{auth: auth, typ: typ, source: source, now: now}, nil
}

var _ feeds.Receiver = (*Webhook)(nil)

// Receive answers one request to the feed's URL: the webhook handshake
// for OPTIONS; for POST, the sender's token or signature is checked, the
// body becomes one CloudEvent, and the request is answered 202 with the
// event's id once it is stored.
func (wh *Webhook) Receive(w http.ResponseWriter, r *http.Request, emit feeds.Emit) error {
	body, ok, err := wh.auth.Accept(w, r)
	if !ok {
		return err
	}
	ev, err := wh.event(r.Header, body)
	if err != nil {
		return err
	}
	if err := emit(r.Context(), ev); err != nil {
		return fmt.Errorf("store webhook event %s: %w", ev.ID(), err)
	}
	ingress.Answer(w, []string{ev.ID()}, false)
	return nil
}

// event builds the CloudEvent of a delivery.
func (wh *Webhook) event(h http.Header, body []byte) (event.Event, error) {
	ev := event.New()
	id, err := deliveryID(h)
	if err != nil {
		return ev, err
	}
	ev.SetID(id)
	ev.SetSource(wh.source)
	ev.SetType(wh.eventType(h))
	ev.SetTime(wh.now().UTC())
	if len(body) == 0 {
		return ev, nil
	}
	ct := h.Get("Content-Type")
	switch mt, _, err := mime.ParseMediaType(ct); {
	case ct == "" && json.Valid(body):
		ct = event.ApplicationJSON
	case ct == "" && utf8.Valid(body):
		ct = "text/plain; charset=utf-8"
	case ct == "":
		ct = hub.DefaultBinaryType
	case err != nil:
		return ev, feeds.Reject(http.StatusBadRequest, "Content-Type %q is not a media type.", ct)
	case (mt == "application/json" || strings.HasSuffix(mt, "+json")) && !json.Valid(body):
		return ev, feeds.Reject(http.StatusBadRequest, "The body is not valid JSON, as its Content-Type %q says.", ct)
	case mt == "application/x-www-form-urlencoded":
		// GitHub's form deliveries carry the JSON as the one field
		// "payload": the event's data is that JSON, as with a JSON delivery.
		if form, err := url.ParseQuery(string(body)); err == nil && len(form) == 1 && len(form["payload"]) == 1 && json.Valid([]byte(form["payload"][0])) {
			ct, body = event.ApplicationJSON, []byte(form["payload"][0])
		}
	}
	ev.SetDataContentType(ct)
	ev.DataEncoded = body
	return ev, nil
}

// deliveryID is the value of the first of IDHeaders the request has, or a
// new random id.
func deliveryID(h http.Header) (string, error) {
	for _, name := range IDHeaders {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if len(v) > maxIDLen || !idRule.MatchString(v) {
			return "", feeds.Reject(http.StatusBadRequest, "Header %s must be at most %d visible ASCII characters to serve as the event id.", name, maxIDLen)
		}
		return v, nil
	}
	return uuid.NewString(), nil
}

// githubEvent matches GitHub's event names (push, pull_request, ...).
var githubEvent = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// eventType is the type parameter, else com.github.<event> for a GitHub
// delivery, else DefaultType.
func (wh *Webhook) eventType(h http.Header) string {
	if wh.typ != "" {
		return wh.typ
	}
	if e := h.Get("X-GitHub-Event"); githubEvent.MatchString(e) {
		return "com.github." + e
	}
	return DefaultType
}
