package cloudevents

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/webhook/ingress"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/cehttp"
)

func init() {
	feeds.Register(feeds.Provider{
		Package:     "cloudevents",
		Name:        "ingress",
		Description: "Takes CloudEvents over HTTP (binary, structured and batch modes) at the feed's URL and fires the trigger with each, as it is",
		Params:      ingress.Params(),
		New:         newIngress,
	})
}

// Ingress is one CloudEvents ingress: the receiver of one trigger.
type Ingress struct {
	auth *ingress.Auth
}

var _ feeds.Receiver = (*Ingress)(nil)

// newIngress checks the feed's parameters (token, secret) and builds the ingress;
// with neither parameter it generates a token into cfg.Params.
func newIngress(cfg feeds.Config) (feeds.Source, error) {
	auth, err := ingress.NewAuth(cfg)
	if err != nil {
		return nil, err
	}
	return &Ingress{auth: auth}, nil
}

// Receive answers one request to the feed's URL: the webhook handshake
// for OPTIONS; for POST, the sender's token or signature is checked, the
// CloudEvents are read and checked (all of a batch before any is emitted),
// emitted one after the other, and the request is answered 202 with their
// ids once all are stored.
func (in *Ingress) Receive(w http.ResponseWriter, r *http.Request, emit feeds.Emit) error {
	body, ok, err := in.auth.Accept(w, r)
	if !ok {
		return err
	}
	evs, mode, err := decode(r.Header, body)
	if err != nil {
		return err
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		if err := emit(r.Context(), ev); err != nil {
			return fmt.Errorf("store CloudEvent %s: %w", ev.ID(), err)
		}
		ids[i] = ev.ID()
	}
	ingress.Answer(w, ids, mode == cehttp.Batch)
	return nil
}

// decode reads and checks the request's CloudEvents, Gust's hop counter
// among their extensions; what is wrong is a *feeds.RequestError.
func decode(h http.Header, body []byte) ([]event.Event, cehttp.Mode, error) {
	evs, mode, err := cehttp.Decode(h, body)
	var bad *cehttp.Error
	if errors.As(err, &bad) {
		return nil, mode, feeds.Reject(bad.Status, "%s", bad.Message)
	}
	if err != nil {
		return nil, mode, err
	}
	for i, ev := range evs {
		err := hub.CheckHops(ev)
		if err == nil {
			continue
		}
		msg := hub.BadHopsMessage
		var hop *hub.HopLimitError
		if errors.As(err, &hop) {
			msg = hop.Error()
		}
		if mode == cehttp.Batch {
			msg = fmt.Sprintf("Event %d of the batch: %s", i, msg)
		}
		return nil, mode, feeds.Reject(http.StatusBadRequest, "%s", msg)
	}
	return evs, mode, nil
}
