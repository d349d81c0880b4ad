package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
)

// Socket is a Slack feed in Socket Mode: it opens a WebSocket to Slack with
// the app-level token (apps.connections.open) and takes the Events API's
// envelopes there, so a bot behind a firewall needs no public URL. Each
// event becomes the same CloudEvent as over HTTP; its envelope is
// acknowledged once the event is stored, so an envelope Gust could not
// store is sent again by Slack.
type Socket struct {
	events   *Events
	appToken string
	apiURL   string
	egress   *egress.Policy
	log      *slog.Logger
	report   func(feeds.Condition)
}

var _ feeds.Feed = (*Socket)(nil)

// socketTimeout bounds apps.connections.open and the WebSocket handshake.
const socketTimeout = 30 * time.Second

// newSocket builds the Socket Mode feed of e's filter.
func newSocket(cfg feeds.Config, e *Events) (*Socket, error) {
	tok := cfg.Values.String(AppTokenParam)
	if !strings.HasPrefix(tok, "xapp-") {
		return nil, feeds.Invalid(AppTokenParam, "must be an app-level token (xapp-...; Basic Information → App-Level Tokens, scope connections:write)")
	}
	api := cfg.Values.String(APIURLParam)
	if api == "" {
		api = slack.APIURL
	}
	if _, err := cfg.Egress.CheckURL(api); errors.Is(err, egress.ErrRefused) {
		return nil, feeds.Invalid(APIURLParam, "is refused: %v", err)
	} else if err != nil {
		return nil, feeds.Invalid(APIURLParam, "must be an http(s) URL such as %s, not %q", slack.APIURL, api)
	}
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	report := cfg.Report
	if report == nil {
		report = func(feeds.Condition) {}
	}
	return &Socket{events: e, appToken: tok, apiURL: api, egress: cfg.Egress, log: log, report: report}, nil
}

// Run holds the Socket Mode connection until ctx ends; slack-go reconnects
// when Slack asks it to or the connection drops. A refused token, or an
// address the egress policy refuses, ends Run with the error.
func (s *Socket) Run(ctx context.Context, emit feeds.Emit) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	api := slack.New("", slack.OptionAppLevelToken(s.appToken), slack.OptionAPIURL(s.apiURL),
		slack.OptionHTTPClient(s.egress.Client(socketTimeout)))
	client := socketmode.New(api,
		socketmode.OptionDialer(&websocket.Dialer{NetDialContext: s.egress.DialContext, HandshakeTimeout: socketTimeout, WriteBufferSize: 32 << 10}),
		socketmode.OptionReadLimit(MaxBody),
		socketmode.OptionLog(slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)))
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	var failed error
	for {
		select {
		case err := <-done:
			s.report(feeds.Condition{Connected: new(bool)})
			switch {
			case failed != nil:
				return failed
			case ctx.Err() != nil:
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case ev := <-client.Events:
			if err := s.handle(ctx, client, ev, emit); err != nil && failed == nil {
				failed = err
				cancel()
			}
		}
	}
}

// handle takes one event of the Socket Mode client: an Events API
// envelope is fired and acknowledged; a connection problem is reported.
func (s *Socket) handle(ctx context.Context, client *socketmode.Client, ev socketmode.Event, emit feeds.Emit) error {
	switch ev.Type {
	case socketmode.EventTypeConnected:
		connected := true
		s.report(feeds.Condition{Connected: &connected})
		s.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		s.report(feeds.Condition{Connected: new(bool)})
		if ce, ok := ev.Data.(*slack.ConnectionErrorEvent); ok {
			if errors.Is(ce.ErrorObj, egress.ErrRefused) {
				// Trying again reaches the same address.
				return fmt.Errorf("slack socket mode: %w", ce.ErrorObj)
			}
			s.report(feeds.Condition{Err: ce.ErrorObj})
			s.log.Warn("slack socket mode connection", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
		}
	case socketmode.EventTypeEventsAPI:
		if ev.Request != nil {
			s.envelope(ctx, client, ev.Request.EnvelopeID, ev.Request.Payload, emit)
		}
	case socketmode.EventTypeErrorBadMessage:
		// slack-go could not parse the envelope, as for an event type newer
		// than it: an events_api envelope is taken as the HTTP path takes
		// it, which passes such events through.
		var req socketmode.Request
		if bad, ok := ev.Data.(*socketmode.ErrorBadMessage); ok && json.Unmarshal(bad.Message, &req) == nil && req.Type == socketmode.RequestTypeEventsAPI {
			s.envelope(ctx, client, req.EnvelopeID, req.Payload, emit)
			return nil
		}
		s.log.Warn("slack socket mode message not understood", "event", string(ev.Type))
	}
	return nil
}

// envelope fires the event of one events_api envelope and acknowledges the
// envelope once it is stored; an envelope not stored is not acknowledged,
// so Slack sends it again (with the same event_id, which runs once).
func (s *Socket) envelope(ctx context.Context, client *socketmode.Client, id string, payload []byte, emit feeds.Emit) {
	out, err := s.events.parse(payload)
	switch {
	case err != nil:
		// Slack's sending it again will not make it readable.
		s.log.Warn("slack socket mode envelope dropped", "envelope", id, "err", err)
	case out.ev != nil:
		if err := emit(ctx, *out.ev); err != nil {
			s.log.Warn("slack socket mode event not stored: Slack sends it again", "envelope", id, "event", out.id, "err", err)
			return
		}
	}
	if err := client.AckCtx(ctx, id, nil); err != nil {
		s.log.Warn("slack socket mode ack", "envelope", id, "err", err)
	}
}
