package api

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

// OutcomeSource streams what became of trigger events, as JSON outcomes
// (rules.Outcome); rules.Outcomes is one.
type OutcomeSource interface {
	// Subscribe calls deliver with each outcome of trigger t in namespace
	// ns (of every trigger of ns when t is empty) until stop is called;
	// deliver must not block.
	Subscribe(ns, t string, deliver func(outcome []byte)) (stop func(), err error)
	// Unrouted publishes the outcome of ev, fired on t, that ran nothing
	// because no rule of t is active: such an event is not stored, so the
	// rule engine never reports it.
	Unrouted(ns string, t *rules.Trigger, ev event.Event) error
}

// Tuning of event streams.
const (
	// outcomeBuffer is how many outcomes one stream holds for a slow
	// reader before it drops them.
	outcomeBuffer = 256
	// heartbeatEvery is how often an idle stream sends an empty line, so
	// that proxies keep it open and clients notice a dead server.
	heartbeatEvery = 15 * time.Second
)

// The trailer of a stream the server ended as it shuts down: a client can
// tell that from a broken connection, and clients that do not look at
// trailers read the same lines as before.
const (
	streamEndTrailer  = "Gust-Stream-End"
	streamEndShutdown = "shutdown"
)

// streamEvents answers GET /namespaces/{ns}/events[?trigger=NAME], a Gust
// extension: the outcomes of the events of the caller's own triggers (of
// the one named, which must exist) from now on, as newline-delimited JSON
// (application/x-ndjson), one rules.Outcome a line, until the client goes
// away or the server shuts down (EndStreams), which ends the stream with
// the trailer Gust-Stream-End: shutdown. An idle stream sends an empty
// line every 15 s. A stream whose client reads too slowly for its
// 256-outcome buffer loses outcomes instead of slowing the rule engine;
// the next line then says how many: {"dropped": N}. Another namespace is
// 404, as if it had nothing.
//
// A client that accepts text/event-stream (a browser's console) gets the
// same stream as server-sent events instead: each outcome is one
// "data:" event, a notice of lost outcomes an event named "dropped", and
// the heartbeat a comment line.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	ns, err := ownNamespace(r, id)
	if err != nil {
		return err
	}
	trigger := r.URL.Query().Get("trigger")
	if trigger != "" {
		if err := actions.CheckName(trigger); err != nil {
			return err
		}
		if _, _, err := s.cfg.Rules.GetTrigger(ctx, actions.Name{Namespace: ns, Name: trigger}); err != nil {
			return err
		}
	}
	if s.cfg.Outcomes == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	lines := make(chan []byte, outcomeBuffer)
	var dropped atomic.Int64
	stop, err := s.cfg.Outcomes.Subscribe(ns, trigger, func(b []byte) {
		select {
		case lines <- b:
		default:
			dropped.Add(1)
		}
	})
	if err != nil {
		return err
	}
	defer stop()

	sse := acceptsEventStream(r)
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	if sse {
		h.Set("Content-Type", "text/event-stream")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil { // the client waits for the headers
		return nil
	}
	returned := make(chan struct{})
	defer close(returned)
	go s.breakStuckWrite(rc, returned)
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	for {
		var line []byte
		select {
		case <-ctx.Done():
			return nil
		case <-s.streamsEnd:
			h.Set(http.TrailerPrefix+streamEndTrailer, streamEndShutdown)
			return nil
		case line = <-lines:
		case <-heartbeat.C:
		}
		var out []byte
		if n := dropped.Swap(0); n > 0 {
			notice := `{"dropped":` + strconv.FormatInt(n, 10) + "}"
			if sse {
				out = append(out, "event: dropped\ndata: "+notice+"\n\n"...)
			} else {
				out = append(out, notice+"\n"...)
			}
		}
		switch {
		case !sse:
			out = append(append(out, line...), '\n')
		case line == nil:
			out = append(out, ":\n\n"...)
		default: // an outcome is one line of JSON: one data field
			out = append(append(append(out, "data: "...), line...), "\n\n"...)
		}
		if _, err := w.Write(out); err != nil {
			return nil // the client is gone
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// stuckWriteGrace is how long after EndStreams a stream may take to end
// by itself before its write is broken off.
const stuckWriteGrace = time.Second

// breakStuckWrite ends a stream's write that blocks at shutdown (its
// client stopped reading and the connection's buffers are full), which
// would otherwise hold http.Server.Shutdown until its deadline: a stream
// that ends by itself (returned) within stuckWriteGrace of EndStreams is
// left alone, so that its trailer is written.
func (s *Server) breakStuckWrite(rc *http.ResponseController, returned <-chan struct{}) {
	select {
	case <-returned:
		return
	case <-s.streamsEnd:
	}
	select {
	case <-returned:
	case <-time.After(stuckWriteGrace):
		_ = rc.SetWriteDeadline(time.Now()) // not every ResponseWriter can; then Shutdown's deadline does it
	}
}

// acceptsEventStream reports whether r asks for server-sent events.
func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}
