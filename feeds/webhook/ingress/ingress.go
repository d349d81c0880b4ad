package ingress

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gusthub/gust/feeds"
)

// Parameter names.
const (
	TokenParam  = "token"
	SecretParam = "secret"
)

// Request headers.
const (
	// SignatureHeader carries "sha256=<hex>": the HMAC-SHA256 of the raw
	// body keyed with the feed's secret.
	SignatureHeader = "X-Gust-Signature"
	// GitHubSignatureHeader is GitHub's name for the same signature.
	GitHubSignatureHeader = "X-Hub-Signature-256"
)

// MaxBody is the largest request body a feed takes (the API limits
// bodies to it before a feed sees them; ReadBody enforces it too): the
// largest event Gust takes, GitHub's 25 MB. Data over hub.InlineDataLimit
// travels by reference, so an event of that size reaches its actions.
const MaxBody = feeds.MaxReceiveBody

// minSecret is the shortest token or secret a user may choose.
const minSecret = 8

// Params are the authentication parameters of an HTTP feed.
func Params() []feeds.Param {
	return []feeds.Param{
		{Name: TokenParam, Type: feeds.String, Secret: true, Description: "Bearer token senders must present (Authorization: Bearer <token>); generated and shown once when neither token nor secret is given"},
		{Name: SecretParam, Type: feeds.String, Secret: true, Description: "HMAC-SHA256 key: senders sign the raw body as " + SignatureHeader + " or " + GitHubSignatureHeader + ": sha256=<hex>"},
	}
}

// Auth checks that a request comes from a sender that holds the feed's
// token or secret.
type Auth struct {
	token  [sha256.Size]byte // the token's hash, so that comparing takes the same time for every length
	secret []byte
	hasTok bool
}

// NewAuth reads the token and secret parameters (declared by Params) of
// cfg.Values. When neither is set it generates a token and sets it in
// cfg.Params. An unusable value is a *feeds.ParamError.
func NewAuth(cfg feeds.Config) (*Auth, error) {
	a := &Auth{}
	tok, hasTok := cfg.Values.String(TokenParam), cfg.Values.Has(TokenParam)
	secret, hasSecret := cfg.Values.String(SecretParam), cfg.Values.Has(SecretParam)
	if hasTok && len(tok) < minSecret {
		return nil, feeds.Invalid(TokenParam, "must be at least %d characters", minSecret)
	}
	if hasSecret && len(secret) < minSecret {
		return nil, feeds.Invalid(SecretParam, "must be at least %d characters", minSecret)
	}
	if !hasTok && !hasSecret {
		tok, hasTok = NewToken(), true
		cfg.Params.Set(TokenParam, tok)
	}
	if hasTok {
		a.token, a.hasTok = sha256.Sum256([]byte(tok)), true
	}
	if hasSecret {
		a.secret = []byte(secret)
	}
	return a, nil
}

// NewToken returns a random token: 32 bytes, base64url.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Signature is the signature header value of body under secret:
// "sha256=<hex>".
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Check returns a 401 *feeds.RequestError unless r carries the feed's
// token and a valid signature of body, as the feed requires.
func (a *Auth) Check(r *http.Request, body []byte) error {
	if a.hasTok {
		got, ok := bearer(r)
		if !ok {
			return feeds.Reject(http.StatusUnauthorized, "This feed needs its token: send Authorization: Bearer <token>.")
		}
		sum := sha256.Sum256([]byte(got))
		if !hmac.Equal(sum[:], a.token[:]) {
			return feeds.Reject(http.StatusUnauthorized, "The token is not this feed's.")
		}
	}
	if a.secret != nil {
		return a.checkSignature(r, body)
	}
	return nil
}

func (a *Auth) checkSignature(r *http.Request, body []byte) error {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		sig = r.Header.Get(GitHubSignatureHeader)
	}
	if sig == "" {
		return feeds.Reject(http.StatusUnauthorized, "This feed needs a signature: send %s (or %s): sha256=<hex HMAC-SHA256 of the body>.", SignatureHeader, GitHubSignatureHeader)
	}
	hexSum, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSum)
	if !ok || err != nil || len(got) != sha256.Size {
		return feeds.Reject(http.StatusUnauthorized, "The signature must be sha256=<64 hex digits>.")
	}
	m := hmac.New(sha256.New, a.secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return feeds.Reject(http.StatusUnauthorized, "The signature does not match the body and this feed's secret.")
	}
	return nil
}

// bearer returns the request's bearer token: the Authorization header's,
// else the access_token query parameter's.
func bearer(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		tok = strings.TrimSpace(tok)
		return tok, tok != ""
	}
	tok := r.URL.Query().Get("access_token")
	return tok, tok != ""
}

// Accept takes a request up to the point where its body is known to come
// from the feed's sender: OPTIONS gets the webhook handshake and methods
// other than POST a 405 (see Method); a POST's body is read (ReadBody) and
// authenticated (Check). ok is false when the request is answered or
// refused (err says why): the feed returns err.
func (a *Auth) Accept(w http.ResponseWriter, r *http.Request) (body []byte, ok bool, err error) {
	if handled, err := Method(w, r); handled {
		return nil, false, err
	}
	if body, err = ReadBody(r); err != nil {
		return nil, false, err
	}
	if err := a.Check(r, body); err != nil {
		return nil, false, err
	}
	return body, true, nil
}

// allowed is the Allow header of HTTP feeds.
const allowed = "POST, OPTIONS"

// Method answers what is not a POST: an OPTIONS request gets the webhook
// handshake (handled is true, err nil); any other method is a 405. For a
// POST it returns false, nil.
func Method(w http.ResponseWriter, r *http.Request) (handled bool, err error) {
	switch r.Method {
	case http.MethodPost:
		return false, nil
	case http.MethodOptions:
		Handshake(w, r)
		return true, nil
	}
	w.Header().Set("Allow", allowed)
	return true, feeds.Reject(http.StatusMethodNotAllowed, "This feed takes events by POST, not %s.", r.Method)
}

// Handshake answers the CloudEvents webhook validation request (see the
// package documentation) with 200.
func Handshake(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Allow", allowed)
	if origin := r.Header.Get("WebHook-Request-Origin"); origin != "" {
		h.Set("WebHook-Allowed-Origin", origin)
	}
	if rate := r.Header.Get("WebHook-Request-Rate"); rate != "" {
		h.Set("WebHook-Allowed-Rate", rate)
	}
	w.WriteHeader(http.StatusOK)
}

// ReadBody reads the request body, at most MaxBody bytes: more is a 413
// *feeds.RequestError.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	var tooBig *http.MaxBytesError
	var withStatus interface{ HTTPStatus() int } // the server's: a body that timed out
	switch {
	case errors.As(err, &tooBig) || len(b) > MaxBody:
		return nil, feeds.Reject(http.StatusRequestEntityTooLarge, "The request body is larger than %d bytes.", MaxBody)
	case errors.As(err, &withStatus):
		return nil, feeds.Reject(withStatus.HTTPStatus(), "%v", err)
	case err != nil:
		return nil, feeds.Reject(http.StatusBadRequest, "The request body could not be read: %v", err)
	}
	return b, nil
}

// Answer writes 202 Accepted once the events are stored:
// {"id": "..."} for one event, {"ids": [...]} for a batch.
func Answer(w http.ResponseWriter, ids []string, batch bool) {
	var v any = map[string]string{"id": ids[0]}
	if batch {
		v = map[string][]string{"ids": ids}
	}
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(append(b, '\n'))
}
