package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The parameters of activations are kept for `gust activation rerun`,
// which invokes an action again with them: the activation record does not
// hold them (OpenWhisk's records never did, and reading a record must not
// reveal what the caller sent), so the invoker keeps them aside: small ones
// in a header of the record's message (RerunParamsHeader), others in the
// key-value bucket RerunBucket under the activation's id.
//
// What is kept, and what is not:
//   - Only the invocation's own parameters (the invoke's body, the event's
//     data): never the action's, package's or binding's defaults, which
//     often hold credentials and are read again from the action at rerun
//     time, nor the caller's API key (a rerun acts for whoever asks).
//   - A web action's credentials in __ow_headers (authorization, cookie,
//     proxy-authorization) are dropped.
//   - Parameters over RerunParamsLimit are not kept (a rerun of such an
//     activation says so): the bucket stays small, RerunBucketBytes at most,
//     oldest first out, and no longer than the activation records.
const (
	RerunBucket      = "GUST_RERUN_PARAMS"
	RerunParamsLimit = 256 << 10
	RerunBucketBytes = 256 << 20
)

// ErrParamsNotKept is Rerun's error for an activation whose parameters
// are not (or no longer) kept.
var ErrParamsNotKept = errors.New("the activation's parameters are not kept")

// secretHeaders are the request headers a web action gets that are not
// kept for a rerun.
var secretHeaders = []string{"authorization", "cookie", "proxy-authorization"}

// RerunParamsHeader keeps small parameters (InlineParams) on the
// activation record's own message instead of in RerunBucket: the record is
// written anyway, so they cost no JetStream write of their own, and they
// are as durable as the record and kept as long. Reading a record decodes
// the message's body only, so they stay as hidden as in the bucket.
const RerunParamsHeader = "Gust-Rerun-Params"

// inlineParamsLimit bounds the parameters kept on a record's message: a
// page of records reads a few hundred messages whole, headers included
// (a record without them is about 0.5-1 KB).
const inlineParamsLimit = 4 << 10

// InlineParams is payload as RerunParamsHeader keeps it (without the
// secrets Keep leaves out too), and false when it cannot be kept there, to
// be kept by Keep: over inlineParamsLimit, or not one line of text (a
// header is one line; parameters that came through the queue are compact
// JSON, which has no control bytes).
func InlineParams(payload json.RawMessage) (string, bool) {
	if len(payload) > inlineParamsLimit {
		return "", false
	}
	if len(payload) == 0 {
		return "null", true
	}
	for _, c := range payload {
		if c < 0x20 || c == 0x7f {
			return "", false
		}
	}
	return string(withoutSecrets(payload)), true
}

// ParamsFromHeader returns the parameters that h, the headers of an
// activation record's message, keeps (RerunParamsHeader), or
// ErrParamsNotKept.
func ParamsFromHeader(h nats.Header) (json.RawMessage, error) {
	v, ok := h[RerunParamsHeader]
	if !ok || len(v) == 0 {
		return nil, ErrParamsNotKept
	}
	if v[0] == "null" || v[0] == "" {
		return nil, nil
	}
	return json.RawMessage(v[0]), nil
}

// RerunParams keeps and reads the parameters of activations.
type RerunParams struct {
	js jetstream.JetStream
	kv lazyKV
}

// NewRerunParams returns the keeper on js; parameters are kept for maxAge
// (the activation records' retention; 0 means 7 days).
func NewRerunParams(js jetstream.JetStream, maxAge time.Duration) *RerunParams {
	if maxAge <= 0 {
		maxAge = 7 * 24 * time.Hour
	}
	return &RerunParams{js: js, kv: lazyKV{js: js, cfg: jetstream.KeyValueConfig{Bucket: RerunBucket,
		Description: "activation parameters for reruns", TTL: maxAge, MaxBytes: RerunBucketBytes,
		MaxValueSize: RerunParamsLimit + 1024, Storage: jetstream.FileStorage}}}
}

type keptParams struct {
	Namespace string          `json:"namespace"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// Keep stores the parameters payload of activation id in namespace ns
// without waiting for JetStream (it is on the path of every activation);
// it reports false when they are too large to keep.
func (p *RerunParams) Keep(ctx context.Context, ns, id string, payload json.RawMessage) (bool, error) {
	if len(payload) > RerunParamsLimit {
		return false, nil
	}
	kv, err := p.kv.open(ctx)
	if err != nil {
		return false, err
	}
	b, err := json.Marshal(keptParams{Namespace: ns, Payload: withoutSecrets(payload)})
	if err != nil {
		return false, err
	}
	m := nats.NewMsg("$KV." + kv.Bucket() + "." + id)
	m.Data = b
	if _, err := p.js.PublishMsgAsync(m); err != nil {
		return false, fmt.Errorf("keep the parameters of %s: %w", id, err)
	}
	return true, nil
}

// Load returns the parameters kept for activation id of namespace ns, or
// ErrParamsNotKept.
func (p *RerunParams) Load(ctx context.Context, ns, id string) (json.RawMessage, error) {
	kv, err := p.kv.open(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrParamsNotKept
	}
	if err != nil {
		return nil, fmt.Errorf("read the parameters of %s: %w", id, err)
	}
	var k keptParams
	if err := json.Unmarshal(e.Value(), &k); err != nil || k.Namespace != ns {
		return nil, ErrParamsNotKept
	}
	return k.Payload, nil
}

// withoutSecrets is payload without the credentials among a web action's
// __ow_headers.
func withoutSecrets(payload json.RawMessage) json.RawMessage {
	if !strings.Contains(string(payload), `"`+HeadersParameter+`"`) {
		return payload
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return payload
	}
	var h map[string]json.RawMessage
	if json.Unmarshal(m[HeadersParameter], &h) != nil || h == nil {
		return payload
	}
	for k := range h {
		for _, s := range secretHeaders {
			if strings.EqualFold(k, s) {
				delete(h, k)
			}
		}
	}
	m[HeadersParameter], _ = json.Marshal(h)
	b, err := json.Marshal(m)
	if err != nil {
		return payload
	}
	return b
}
