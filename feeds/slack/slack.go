package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/webhook/ingress"
)

func init() {
	feeds.Register(feeds.Provider{
		Package:     "slack",
		Name:        "events",
		Description: "Slack Events API deliveries as CloudEvents of type com.slack.<event.type>",
		Params: []feeds.Param{
			{Name: SigningSecretParam, Type: feeds.String, Secret: true,
				Description: "the Slack app's signing secret (Basic Information → App Credentials): requests must carry X-Slack-Signature made with it; required unless appToken is given"},
			{Name: AppTokenParam, Type: feeds.String, Secret: true,
				Description: "an app-level token (xapp-..., scope connections:write): the feed then takes events over Socket Mode, with no public URL"},
			{Name: APIURLParam, Type: feeds.String, Default: slack.APIURL,
				Description: "Slack's Web API URL, where Socket Mode opens its connection (default " + slack.APIURL + ")"},
			{Name: BotTokenParam, Type: feeds.String, Secret: true,
				Description: "the app's bot token (xoxb-...), kept for the actions that answer (slack/post)"},
			{Name: EventsParam, Description: "event types to fire on (app_mention, message, ...): a comma list or a JSON array; default all"},
		},
		New: newEvents,
	})
}

// Parameter names.
const (
	SigningSecretParam = "signingSecret"
	BotTokenParam      = "botToken"
	EventsParam        = "events"
	AppTokenParam      = "appToken"
	APIURLParam        = "apiUrl"
)

// MaxBody bounds a request's body; Slack's events are far smaller.
const MaxBody = 1 << 20

var (
	typeRule = regexp.MustCompile(`^[a-z0-9_.]{1,64}$`)
	idRule   = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
	teamRule = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
)

// Events is one Slack feed: the receiver of one app's Events API requests.
type Events struct {
	secret string
	events map[string]bool // nil: all
	now    func() time.Time
}

// newEvents checks the parameters and builds the feed: a Socket Mode
// feed with an app-level token, else the Events API receiver.
func newEvents(cfg feeds.Config) (feeds.Source, error) {
	e := &Events{secret: cfg.Values.String(SigningSecretParam), now: cfg.Now}
	if e.now == nil {
		e.now = time.Now
	}
	if err := e.parseEvents(cfg.Values); err != nil {
		return nil, err
	}
	if cfg.Values.Has(AppTokenParam) {
		return newSocket(cfg, e)
	}
	if e.secret == "" {
		return nil, feeds.Invalid(SigningSecretParam, "is required: the Slack app's signing secret (or appToken, for Socket Mode)")
	}
	return e, nil
}

// parseEvents reads the events filter.
func (e *Events) parseEvents(v feeds.Values) error {
	if raw := v.JSON(EventsParam); raw != nil {
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return feeds.Invalid(EventsParam, "must be a comma list or a JSON array of Slack event types")
			}
			list = strings.Split(s, ",")
		}
		for _, t := range list {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !typeRule.MatchString(t) {
				return feeds.Invalid(EventsParam, "names %q, which is not a Slack event type (app_mention, message, ...)", t)
			}
			if e.events == nil {
				e.events = map[string]bool{}
			}
			e.events[t] = true
		}
	}
	return nil
}

var _ feeds.Receiver = (*Events)(nil)

// Receive answers one Events API request: the signature and its timestamp
// are checked, url_verification is answered 200 text/plain with the bare
// challenge, and an event_callback becomes one CloudEvent, answered 200 once
// it is stored.
func (e *Events) Receive(w http.ResponseWriter, r *http.Request, emit feeds.Emit) error {
	if handled, err := ingress.Method(w, r); handled {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	var tooBig *http.MaxBytesError
	var withStatus interface{ HTTPStatus() int } // the server's: a body that timed out
	switch {
	case err != nil && errors.As(err, &withStatus):
		return feeds.Reject(withStatus.HTTPStatus(), "%v", err)
	case errors.As(err, &tooBig) || len(body) > MaxBody:
		return feeds.Reject(http.StatusRequestEntityTooLarge, "The request body is larger than %d bytes.", MaxBody)
	case err != nil:
		return feeds.Reject(http.StatusBadRequest, "The request body could not be read: %v", err)
	}
	if err := e.verify(r.Header, body); err != nil {
		return err
	}
	out, err := e.parse(body)
	if err != nil {
		return err
	}
	switch {
	case out.challenge != "":
		// Slack's url_verification page: the challenge in plain text.
		// (slackevents.ChallengeResponse has no JSON tags: it would
		// answer {"Challenge":...}, which Slack does not read.)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, out.challenge)
		return nil
	case out.ev == nil:
		return answer(w, map[string]any{"id": out.id, "fired": false, "message": out.message})
	}
	if err := emit(r.Context(), *out.ev); err != nil {
		return fmt.Errorf("store Slack event %s: %w", out.id, err)
	}
	return answer(w, map[string]any{"id": out.id})
}

// outcome is what one Events API body asks for: a challenge to answer, an
// event to fire, or neither (message says why).
type outcome struct {
	challenge string
	ev        *event.Event
	id        string // event_id, when the body has one
	message   string
}

// parse reads one Events API body, from a request or a Socket Mode
// envelope's payload: a url_verification's challenge, or the CloudEvent of
// an event_callback the feed subscribes to. A malformed body is a
// *feeds.RequestError (400).
func (e *Events) parse(body []byte) (outcome, error) {
	outer, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		var cb slackevents.EventsAPICallbackEvent
		if json.Unmarshal(body, &cb) != nil || cb.Type != slackevents.CallbackEvent || cb.InnerEvent == nil {
			return outcome{}, feeds.Reject(http.StatusBadRequest, "The body is not a Slack Events API request: %v", err)
		}
		// An event type newer than slack-go: pass it through.
		outer = slackevents.EventsAPIEvent{Type: cb.Type, TeamID: cb.TeamID, Data: &cb}
	}
	switch outer.Type {
	case slackevents.URLVerification:
		v, ok := outer.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if !ok || v.Challenge == "" {
			return outcome{}, feeds.Reject(http.StatusBadRequest, "The url_verification request has no challenge.")
		}
		return outcome{challenge: v.Challenge}, nil
	case slackevents.CallbackEvent:
	default:
		return outcome{message: fmt.Sprintf("Slack request of type %q carries no event.", outer.Type)}, nil
	}
	cb, ok := outer.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok || cb.InnerEvent == nil {
		return outcome{}, feeds.Reject(http.StatusBadRequest, "The event_callback has no event.")
	}
	var inner struct {
		Type    string          `json:"type"`
		Channel json.RawMessage `json:"channel"`
		Item    struct {
			Channel string `json:"channel"`
		} `json:"item"`
	}
	if err := json.Unmarshal(*cb.InnerEvent, &inner); err != nil || !typeRule.MatchString(inner.Type) {
		return outcome{}, feeds.Reject(http.StatusBadRequest, "The event_callback's event has no valid type.")
	}
	if !idRule.MatchString(cb.EventID) {
		return outcome{}, feeds.Reject(http.StatusBadRequest, "The event_callback has no valid event_id.")
	}
	if !teamRule.MatchString(cb.TeamID) {
		return outcome{}, feeds.Reject(http.StatusBadRequest, "The event_callback has no valid team_id.")
	}
	if e.events != nil && !e.events[inner.Type] {
		return outcome{id: cb.EventID, message: fmt.Sprintf("This feed does not subscribe to %s events.", inner.Type)}, nil
	}
	ev := event.New()
	ev.SetID(cb.EventID)
	ev.SetType("com.slack." + inner.Type)
	ev.SetSource("https://slack.com/" + cb.TeamID)
	var channel string
	if json.Unmarshal(inner.Channel, &channel) != nil || channel == "" {
		channel = inner.Item.Channel
	}
	if channel != "" && idRule.MatchString(channel) {
		ev.SetSubject(channel)
	}
	t := e.now().UTC()
	if cb.EventTime > 0 {
		t = time.Unix(int64(cb.EventTime), 0).UTC()
	}
	ev.SetTime(t)
	ev.SetDataContentType(event.ApplicationJSON)
	ev.DataEncoded = body
	return outcome{ev: &ev, id: cb.EventID}, nil
}

// verify checks X-Slack-Signature (v0, HMAC-SHA256 over
// "v0:<timestamp>:<body>", constant time) and that X-Slack-Request-Timestamp
// is within 5 minutes, with slack-go's SecretsVerifier.
func (e *Events) verify(h http.Header, body []byte) error {
	if h.Get("X-Slack-Signature") == "" || h.Get("X-Slack-Request-Timestamp") == "" {
		return feeds.Reject(http.StatusUnauthorized, "A Slack request must carry X-Slack-Signature and X-Slack-Request-Timestamp.")
	}
	sv, err := slack.NewSecretsVerifier(h, e.secret)
	if errors.Is(err, slack.ErrExpiredTimestamp) {
		return feeds.Reject(http.StatusUnauthorized, "X-Slack-Request-Timestamp is more than 5 minutes away: a replayed or delayed request.")
	}
	if err != nil {
		return feeds.Reject(http.StatusUnauthorized, "The Slack signature headers are malformed: %v", err)
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		return feeds.Reject(http.StatusUnauthorized, "The signature does not match the body and this feed's signing secret.")
	}
	return nil
}

func answer(w http.ResponseWriter, v any) error {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(bytes.TrimSpace(b))
	return nil
}
