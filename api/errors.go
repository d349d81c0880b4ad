package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
)

// OpenWhisk's standard messages.
const (
	msgNotFound       = "The requested resource does not exist."
	msgUnavailable    = "The event bus cannot store this now (no quorum of its nodes answers); nothing was stored. Try again later."
	msgUnreadable     = "The event bus cannot answer this now (no quorum of its nodes answers). Try again later."
	msgInterrupted    = "The connection to the event bus was lost during the request, which may or may not have been stored. Try again later."
	msgUnconfirmed    = "The event bus took this request but could not confirm it (no quorum of its nodes answers); it may or may not have been stored. Try again later."
	msgForbidden      = "The supplied authentication is not authorized to access this resource."
	msgUnauthorized   = "The supplied authentication is invalid."
	msgExists         = "resource already exists"
	msgConflict       = "Concurrent modification to resource detected."
	msgInternal       = "There was an internal server error."
	msgMethod         = "HTTP method not allowed, supported methods: "
	msgOverloaded     = "System is overloaded, try again later."
	msgMalformedStart = "The request content was malformed:\n"

	msgPackageNotBinding = "Resource is a package and cannot be converted into a binding."
)

// The command line clients that hints in messages name.
const (
	cliWsk  = "wsk"
	cliGust = "gust"
)

// clientCLI is the command line client a request came from, for a message
// that names a command to run: the gust CLI sends a User-Agent of
// "gust/<version>"; anything else is answered as the stock wsk.
func clientCLI(r *http.Request) string {
	if strings.HasPrefix(r.UserAgent(), "gust/") {
		return cliGust
	}
	return cliWsk
}

// Error is an API error with the status code it answers with.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(status int, msg string) error { return &Error{Status: status, Message: msg} }

// errorBody is OpenWhisk's error response.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// httpStatuser is an error of a domain package that knows its status, such
// as a feed's *feeds.ParamError (400) or *feeds.RequestError.
type httpStatuser interface {
	error
	HTTPStatus() int
}

// statusOf maps an error to its HTTP status and message. It is the one place
// that decides how errors look to clients.
func statusOf(err error) (int, string) {
	var apiErr *Error
	var invalid *actions.InvalidError
	var tooBig *actions.SizeError
	var withStatus httpStatuser
	switch {
	case errors.As(err, &apiErr):
		return apiErr.Status, apiErr.Message
	case errors.As(err, &withStatus):
		return withStatus.HTTPStatus(), withStatus.Error()
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, tooBig.Error()
	case errors.As(err, &invalid):
		return http.StatusBadRequest, invalid.Msg
	case hub.StorageFull(err) != nil:
		return http.StatusInsufficientStorage, hub.StorageFull(err).Message()
	case errors.Is(err, actions.ErrPackageNotBinding):
		return http.StatusConflict, msgPackageNotBinding
	case errors.Is(err, actions.ErrForbidden):
		// Another namespace's private entity: answered as if it did not
		// exist, so that no one learns what other namespaces have.
		return http.StatusNotFound, msgNotFound
	case errors.Is(err, hub.ErrNotFound):
		return http.StatusNotFound, msgNotFound
	case errors.Is(err, hub.ErrExists):
		return http.StatusConflict, msgExists
	case errors.Is(err, hub.ErrConflict):
		return http.StatusConflict, msgConflict
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, msgOverloaded
	case hub.Unavailable(err):
		return http.StatusServiceUnavailable, msgUnavailable
	case hub.Interrupted(err):
		return http.StatusServiceUnavailable, msgInterrupted
	case hub.Unconfirmed(err):
		return http.StatusServiceUnavailable, msgUnconfirmed
	}
	return http.StatusInternalServerError, msgInternal
}

// statusClientGone is nginx's 499: the client went away before the answer
// (its request's context canceled), so nothing failed on our side.
const statusClientGone = 499

// writeError answers the request with err as {"error", "code"}, where code is
// the request's transaction id. 500s are logged with their cause; a request
// its client gave up on is not a failure and is logged only at debug level.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if msg == msgUnavailable && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		msg = msgUnreadable // a read stores nothing: saying so would confuse
	}
	tid := transactionID(r)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		status, msg = statusClientGone, "The client closed the request."
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "client went away",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("tid", tid))
	}
	if status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("tid", tid), slog.Any("err", err))
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(r.URL.Path, feeds.ReceivePath) && !strings.HasPrefix(r.URL.Path, WebPrefix) {
		w.Header().Set("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages say "<token>", not "\u003ctoken\u003e"
	_ = enc.Encode(errorBody{Error: msg, Code: tid})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"` + msgInternal + `"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
