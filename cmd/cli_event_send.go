package gustcmd

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/api/client"
	"github.com/gusthub/gust/feeds/webhook/ingress"
)

// eventSend is `gust event send`: build a CloudEvent from flags and send
// it to a trigger's fire endpoint (with the CLI's key) or to a feed's
// ingress URL (with the feed's token or secret).
func eventSend() leaf {
	var o sendOptions
	return leaf{
		use:     "send [TRIGGER]",
		short:   "Send a CloudEvent to a trigger (or, with --url, to a cloudevents feed's ingress URL)",
		maxArgs: 1,
		offline: true, // the key is needed only without --url
		flags:   o.register,
		run: func(x *call, args []string) error {
			if len(args) == 1 {
				o.trigger = args[0]
			}
			return o.send(x)
		},
	}
}

// sendOptions are the flags of `gust event send`.
type sendOptions struct {
	trigger                  string
	typ, source, id, subject string
	data, contentType, mode  string
	extensions               []string
	url, token, secret       string
}

func (o *sendOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.typ, "type", "", "the event's `TYPE`, e.g. com.example.order.created (required)")
	fs.StringVar(&o.source, "source", "/gust/cli", "the event's `SOURCE` URI-reference")
	fs.StringVar(&o.id, "id", "", "the event's `ID` (default: a new UUID)")
	fs.StringVar(&o.subject, "subject", "", "the event's `SUBJECT`")
	fs.StringVar(&o.data, "data", "", "the event's data: `JSON`, other text, or @FILE")
	fs.StringVar(&o.contentType, "datacontenttype", "", "the data's media `TYPE` (default: application/json when the data is JSON, else text/plain or application/octet-stream)")
	fs.StringArrayVar(&o.extensions, "extension", nil, "an extension attribute `NAME=VALUE` (repeatable)")
	fs.StringVar(&o.mode, "mode", "structured", "HTTP content `MODE`: structured (application/cloudevents+json) or binary (ce- headers)")
	fs.StringVar(&o.url, "url", "", "send to this feed ingress `URL` instead of a trigger")
	fs.StringVar(&o.token, "token", "", "with --url: the feed's bearer `TOKEN`")
	fs.StringVar(&o.secret, "secret", "", "with --url: the feed's HMAC `SECRET`, to sign the body (X-Gust-Signature)")
}

// event builds the CloudEvent the flags describe.
func (o *sendOptions) event() (event.Event, error) {
	ev := event.New()
	if o.typ == "" {
		return ev, errors.New("--type is required")
	}
	if o.id == "" {
		o.id = uuid.NewString()
	}
	ev.SetID(o.id)
	ev.SetType(o.typ)
	ev.SetSource(o.source)
	ev.SetTime(time.Now())
	if o.subject != "" {
		ev.SetSubject(o.subject)
	}
	for _, kv := range o.extensions {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return ev, fmt.Errorf("--extension %q: want NAME=VALUE", kv)
		}
		if err := ev.Context.SetExtension(k, v); err != nil {
			return ev, fmt.Errorf("--extension %q: %w", kv, err)
		}
	}
	data := []byte(o.data)
	if path, ok := strings.CutPrefix(o.data, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return ev, fmt.Errorf("--data: %w", err)
		}
		data = b
	}
	if len(data) > 0 {
		ct := o.contentType
		if err := checkJSONData(data, ct); err != nil {
			return ev, err
		}
		switch {
		case ct != "":
		case json.Valid(data):
			ct = event.ApplicationJSON
		case utf8.Valid(data):
			ct = event.TextPlain
		default:
			ct = "application/octet-stream"
		}
		ev.SetDataContentType(ct)
		ev.DataEncoded = data
		if ct == event.ApplicationJSON || strings.HasSuffix(ct, "+json") {
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err == nil {
				ev.DataEncoded = buf.Bytes()
			}
		}
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("invalid CloudEvent: %w", err)
	}
	return ev, nil
}

// checkJSONData refuses data that is not valid JSON when its content type
// ct says JSON, or, without one, when it starts as JSON does: a typo would
// otherwise go as text, and the rules' filters on its fields would not
// match it.
func checkJSONData(data []byte, ct string) error {
	trimmed := bytes.TrimSpace(data)
	mediaType, _, _ := mime.ParseMediaType(ct) // lower-cased, without parameters
	jsonType := mediaType == event.ApplicationJSON || strings.HasSuffix(mediaType, "+json")
	looksJSON := ct == "" && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
	if !jsonType && !looksJSON || json.Valid(data) {
		return nil
	}
	var syntax json.RawMessage
	err := json.Unmarshal(data, &syntax) // says where it is not JSON
	if jsonType {
		return fmt.Errorf("--data is not valid JSON, which --datacontenttype %s says it is: %v", ct, err)
	}
	return fmt.Errorf("--data starts as JSON but is not valid JSON: %v; fix it, or give --datacontenttype text/plain to send it as text", err)
}

// send builds the event and its request, sends it and prints the answer.
func (o *sendOptions) send(x *call) error {
	if o.url == "" && o.trigger == "" {
		return usageError(errors.New("give a TRIGGER, or --url of a feed"))
	}
	if o.mode != "structured" && o.mode != "binary" {
		return usageError(fmt.Errorf("--mode must be binary or structured, not %q", o.mode))
	}
	if o.url == "" && (o.token != "" || o.secret != "") {
		return usageError(errors.New("--token and --secret go with --url"))
	}
	ev, err := o.event()
	if err != nil {
		return usageError(err)
	}
	where := "trigger '" + o.trigger + "'"
	if o.url != "" {
		where = o.url
	}
	req, err := o.request(x, ev)
	if err != nil {
		return fail(err, "Unable to send event to %s", where)
	}
	hc := &http.Client{Timeout: time.Minute}
	if x.flags.insecure {
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the user asked for -i
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fail(err, "Unable to send event to %s", where)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(answerError(resp.StatusCode, body), "Unable to send event to %s", where)
	}
	if x.flags.json {
		return x.raw(body)
	}
	var answer struct {
		ActivationID string `json:"activationId"`
	}
	_ = json.Unmarshal(body, &answer)
	switch {
	case o.url != "":
		x.ok("sent event %s to %s", ev.ID(), o.url)
	case resp.StatusCode == http.StatusNoContent:
		x.ok("sent event %s to trigger %s; no rule of it is active", ev.ID(), o.trigger)
	default:
		x.ok("sent event %s to trigger %s with id %s", ev.ID(), o.trigger, answer.ActivationID)
	}
	return nil
}

// request is the POST that carries ev: to the trigger's fire endpoint
// with the CLI's key, or to --url with the feed's token or signature.
func (o *sendOptions) request(x *call, ev event.Event) (*http.Request, error) {
	target, authz := o.url, ""
	if o.url == "" {
		s, err := x.settings("")
		if err != nil {
			return nil, err
		}
		if s.apiHost == "" || s.auth == "" {
			return nil, &exitError{code: exitGeneral, err: errNotConfigured}
		}
		base, err := client.ParseAPIHost(s.apiHost)
		if err != nil {
			return nil, usageError(err)
		}
		ns, name := client.SplitName(o.trigger)
		target = strings.TrimRight(base.String(), "/") + "/api/v1/namespaces/" + ns + "/triggers/" + name
		authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.auth))
	} else if o.token != "" {
		authz = "Bearer " + o.token
	}
	ctx := x.ctx
	if o.mode == "structured" {
		ctx = binding.WithForceStructured(ctx)
	}
	req, err := http.NewRequestWithContext(x.ctx, http.MethodPost, target, nil)
	if err != nil {
		return nil, usageError(err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return nil, err
	}
	body, err := readAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if o.secret != "" {
		req.Header.Set(ingress.SignatureHeader, ingress.Signature(o.secret, body))
	}
	req.Header.Set("User-Agent", "gust/"+version)
	return req, nil
}

func readAll(rc io.ReadCloser) ([]byte, error) {
	if rc == nil {
		return nil, nil
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// answerError is the error of a non-2xx answer: OpenWhisk's
// {"error", "code"} body as a *client.Error.
func answerError(status int, body []byte) error {
	e := &client.Error{StatusCode: status, Message: http.StatusText(status)}
	var b struct{ Error, Code string }
	if json.Unmarshal(body, &b) == nil && b.Error != "" {
		e.Message, e.Code = b.Error, b.Code
	} else if text := strings.TrimSpace(string(body)); text != "" && len(text) < 500 {
		e.Message += ": " + text
	}
	return e
}
