package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/backoff"
	"github.com/gusthub/gust/internal/jsonbuf"
)

// MaxResultBytes bounds an action's result, as OpenWhisk's 1 MB.
const MaxResultBytes = 1 << 20

// sentinelWait is how long the invoker waits for an activation's log
// sentinels once its run has answered.
const sentinelWait = 2 * time.Second

// OpenWhisk's messages for failed activations.
const (
	msgAbnormalInit   = "The action did not initialize and exited unexpectedly."
	msgAbnormalRun    = "The action did not produce a valid response and exited unexpectedly."
	msgMemoryExceeded = "The action exhausted its memory and was aborted."
	msgNoContainer    = "Failed to provision resources to run the action."
	msgActionMissing  = "Action could not be found or may have been deleted."
)

func timeoutMessage(ms int, init bool) string {
	if init {
		return fmt.Sprintf("The action exceeded its time limits of %d milliseconds during initialization.", ms)
	}
	return fmt.Sprintf("The action exceeded its time limits of %d milliseconds.", ms)
}

// outcome is what an /init or /run call produced.
type outcome struct {
	status  int             // an actions.Status* code
	result  json.RawMessage // the result or {"error": ...}
	timeout bool
	healthy bool // the container may run another activation
	// logs are the activation's logs when the proxy answered with them
	// (inline); otherwise they are read from the container's output.
	logs   []string
	inline bool
	// notRun: the activation was queued at the container's proxy, which
	// never started it (proxy.QueueHeader); it may run elsewhere.
	notRun bool
	// started is when the proxy started a queued activation.
	started time.Time
	// took is how long it ran in its container, if the proxy says
	// (answer.took).
	took time.Duration
}

func errorResult(msg string) json.RawMessage {
	return actions.ErrorResult(msg)
}

func failed(status int, msg string) outcome {
	return outcome{status: status, result: errorResult(msg)}
}

// activate runs inv in a pool container, first in held's when it holds
// one (RunNow's), and returns its activation record.
func (iv *Invoker) activate(ctx context.Context, inv *actions.Invocation, held *Lease) *actions.Activation {
	a := &inv.Action
	defer func() {
		if held != nil { // not run in it
			iv.pool.releaseUnused(held)
		}
	}()
	if inv.PayloadRef != "" && inv.Payload == nil {
		b, err := hub.LoadParams(ctx, iv.js, inv.PayloadRef)
		if err != nil {
			iv.log.Error("invocation parameters not found", "activation_id", inv.ActivationID, "err", err)
			return iv.finish(iv.newRecord(inv), inv, time.Now(), 0, startNoContainer,
				failed(actions.StatusInternalError, fmt.Sprintf("The activation's parameters could not be read: %v.", err)), nil)
		}
		inv.Payload = b
	}
	if b, ok := iv.builtinOf(a); ok {
		return iv.runBuiltin(ctx, b, inv)
	}
	rec := iv.newRecord(inv)
	spec, err := iv.spec(ctx, a)
	if err != nil {
		return iv.finish(rec, inv, time.Now(), 0, startNoContainer, failed(actions.StatusDeveloperError, err.Error()), nil)
	}
	waitStart := time.Now()
	for attempt := 1; ; attempt++ {
		lease := held
		held = nil
		if lease == nil {
			// After maxQueueAttempts queues that lost their container
			// before its turn, it waits for a container of its own.
			req := Request{Key: warmKey(inv), Spec: spec, Concurrency: a.Limits.Concurrency, Alone: attempt > maxQueueAttempts}
			var err error
			if lease, err = iv.acquire(ctx, inv, req); err != nil {
				return iv.finish(rec, inv, waitStart, 0, startNoContainer, iv.noContainer(inv, err), nil)
			}
		}
		rec, done := iv.runLeased(ctx, inv, spec, rec, lease)
		if done {
			return rec
		}
	}
}

// maxQueueAttempts bounds how many times an activation joins a queue at a
// container's proxy (Lease.Queued) and hears that its container is gone
// before its turn; after that it takes only containers of its own.
const maxQueueAttempts = 3

// noContainer is the outcome of an activation that got no container.
func (iv *Invoker) noContainer(inv *actions.Invocation, err error) outcome {
	a := &inv.Action
	iv.log.Error("no container for activation", "activation_id", inv.ActivationID, "action", a.FullName().String(), "err", err)
	status := actions.StatusInternalError
	if errors.Is(err, errImage) {
		status = actions.StatusDeveloperError
	}
	msg := msgNoContainer
	switch {
	case status == actions.StatusDeveloperError:
		msg = err.Error()
	case a.Exec.Kind == actions.KindBlackbox:
		// Said in Gust's words, with the image: the engine's are in the log.
		msg = fmt.Sprintf("%s A container of the action's image %s could not be started, or did not answer OpenWhisk's action protocol on port 8080.", msgNoContainer, a.Exec.Image)
	}
	return failed(status, msg)
}

// runLeased runs inv in the leased container and returns its record, or
// done false when it was queued at the container's proxy and never
// started: the lease is then back, for the activation to try again.
func (iv *Invoker) runLeased(ctx context.Context, inv *actions.Invocation, spec Spec, rec *actions.Activation, lease *Lease) (_ *actions.Activation, done bool) {
	a := &inv.Action
	c := lease.Container()
	// Logs are collected from activations that have their container to
	// themselves: from Gust's own proxy with its answers, else from the
	// container's output, up to the sentinels. Gust's proxy is told not to
	// write the others' at all. A queued activation's come with its
	// answer; they are collected from the container's output from its
	// start (its 102), when the one ahead's have ended, for an answer that
	// never comes (its time limit), as the proxy then writes them there.
	collect := a.Limits.Concurrency <= 1
	logLimit := 0
	var session *logSession
	var begun atomic.Pointer[logSession] // a queued activation's session
	beginAtStart := false                // its session begins at its start (its 102)
	// Every /run to a container that may queue is sent queued, the first
	// too: runs queued behind it may reach the proxy before it and run
	// first, and its time limit must start when it starts, as theirs. The
	// first, which took an idle container, goes as the lead
	// (proxy.LeadHeader): it starts at once, with no 102, unless one
	// queued behind it got there first, and then it waits as they do.
	// Only a queued run may come back not run; the lead's, unless it
	// waited, is the container's failure.
	queued := lease.Queued || lease.c.queues
	lead := queued && !lease.Queued && !lease.Cold
	switch {
	case collect:
		if lease.Queued {
			beginAtStart = true
		} else {
			session = lease.logs().begin(a.Limits.Logs << 20)
		}
		if spec.ProxySocket {
			logLimit = a.Limits.Logs << 20
		}
	case spec.ProxySocket:
		logLimit = noLogs
	}
	start := time.Now()
	var initTime time.Duration
	out := outcome{healthy: true}
	if lease.Cold {
		out = iv.init(ctx, c, inv, logLimit)
		initTime = time.Since(start)
		if out.healthy {
			lease.MarkInitialized()
		}
	}
	if out.healthy {
		out = iv.run(ctx, c, inv, logLimit, runAs{queued: queued, behind: lease.Queued, lead: lead,
			onWait: func() { // a lead behind another: the output until its start is the other's
				if session != nil {
					lease.logs().drop(session)
					session, beginAtStart = nil, true
				}
			},
			onStart: func() {
				if beginAtStart {
					begun.Store(lease.logs().begin(a.Limits.Logs << 20))
				}
			}})
	}
	if s := begun.Load(); s != nil {
		session = s
	}
	if out.notRun {
		iv.pool.release(lease, false)
		return nil, false
	}
	if !out.started.IsZero() && !lease.Cold { // a cold one's record starts with its /init
		start = out.started
	}
	var logs []string
	switch {
	case !collect:
	case out.inline:
		logs = out.logs
		if session != nil {
			lease.logs().drop(session)
		}
	case session == nil:
		logs = []string{logFailureMessage}
	default:
		logs = lease.logs().end(session, sentinelWait)
	}
	lease.took = out.took
	if iv.pool.release(lease, out.healthy) {
		// Let the activation that got the container start its /run before
		// this one finishes its record: the record's work then overlaps
		// that /run instead of delaying it.
		runtime.Gosched()
	}
	how := startWarm
	if lease.Cold {
		how = startCold
	}
	return iv.finish(rec, inv, start, initTime, how, out, logs), true
}

// warmKey identifies the containers that may serve inv: the same invoking
// namespace and the same version of the same action.
func warmKey(inv *actions.Invocation) string {
	a := &inv.Action
	return inv.Namespace + "|" + a.FullName().String() + "|" + a.Version + "|" + strconv.FormatInt(a.Updated, 10)
}

// spec is the container an action runs in.
func (iv *Invoker) spec(ctx context.Context, a *actions.Action) (Spec, error) {
	img, socket, err := iv.images(ctx, a.Exec)
	if err != nil {
		return Spec{}, err
	}
	n := a.FullName()
	return Spec{
		Kind: a.Exec.Kind, Image: img, ProxySocket: socket, MemoryMB: a.Limits.Memory,
		Env: map[string]string{"__OW_API_HOST": iv.opts.APIHost},
		Labels: map[string]string{
			"gust.namespace": n.Namespace, "gust.action": n.Local(), "gust.kind": a.Exec.Kind,
		},
	}, nil
}

// sandboxOutage is how long an activation waits for a sandbox that is
// unavailable (ErrUnavailable) before it fails: a Docker engine restarts
// in seconds. Meanwhile the invocation stays on the queue, unacknowledged
// and kept alive, and the invoker takes no more than it can run at once.
const sandboxOutage = time.Minute

// acquire is Pool.Acquire that waits while the sandbox is unavailable, up
// to sandboxOutage, trying again with a growing pause.
func (iv *Invoker) acquire(ctx context.Context, inv *actions.Invocation, req Request) (*Lease, error) {
	deadline := time.Now().Add(sandboxOutage)
	b := backoff.Backoff{Min: 250 * time.Millisecond, Max: 5 * time.Second}
	for first := true; ; first = false {
		lease, err := iv.pool.Acquire(ctx, req)
		if err == nil || !errors.Is(err, ErrUnavailable) {
			return lease, err
		}
		pause := b.Next()
		if time.Now().Add(pause).After(deadline) {
			return lease, err
		}
		if first {
			iv.log.Warn("sandbox unavailable: the activation waits for it", "activation_id", inv.ActivationID, "err", err)
		}
		if !backoff.Wait(ctx, pause) {
			return nil, err
		}
	}
}

// errImage marks image errors, which are the action's fault (a blackbox
// image that is not there), not the system's.
var errImage = errors.New("image")

// init sends /init with the action's code; logLimit is post's.
func (iv *Invoker) init(ctx context.Context, c Container, inv *actions.Invocation, logLimit int) outcome {
	a := &inv.Action
	full, _, err := iv.code.GetAction(ctx, a.FullName(), true)
	if err != nil || full.Version != a.Version {
		return outcome{status: actions.StatusDeveloperError, result: errorResult(msgActionMissing)}
	}
	main := full.Exec.Main
	if main == "" {
		main = "main"
	}
	env := iv.activationEnv(inv)
	if a.Limits.Concurrency > 1 {
		// Runtimes run one activation at a time unless told otherwise
		// (OpenWhisk's intra-container concurrency).
		env["__OW_ALLOW_CONCURRENT"] = "true"
	}
	for _, kv := range full.Parameters {
		if kv.Init {
			env[kv.Key] = envString(kv.Value)
		}
	}
	body, _ := json.Marshal(map[string]any{"value": map[string]any{
		"name": a.Name, "main": main, "binary": full.Exec.Binary, "code": full.Exec.Code, "env": env,
	}})
	timeout := time.Duration(a.Limits.Timeout) * time.Millisecond
	ans, err := post(ctx, c, "/init", body, timeout, logLimit)
	status, resp := ans.status, ans.body
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return outcome{status: actions.StatusDeveloperError, result: errorResult(timeoutMessage(a.Limits.Timeout, true)), timeout: true}
	case err != nil:
		return outcome{status: actions.StatusDeveloperError, result: errorResult(iv.crashMessage(c, msgAbnormalInit))}
	case status != http.StatusOK:
		if isErrorObject(resp) {
			return ans.with(outcome{status: actions.StatusDeveloperError, result: resp})
		}
		return ans.with(outcome{status: actions.StatusDeveloperError, result: errorResult(initFailure(resp))})
	}
	return outcome{healthy: true}
}

func initFailure(body []byte) string {
	if s := strings.TrimSpace(string(body)); s != "" {
		return "The action failed during initialization: " + s
	}
	return "The action failed during initialization."
}

// runAs says how a /run goes to a container that queues runs: queued,
// behind another run (a queued lease) or as the lead (the container was
// idle); onWait hears that a lead waits for its turn after all, onStart
// that a queued run started.
type runAs struct {
	queued, behind, lead bool
	onWait, onStart      func()
}

// run sends /run with the activation's parameters and reads the result;
// logLimit is post's. A queued run waits at the proxy for any one ahead
// (proxy.QueueHeader); as.onStart is called when the proxy starts it. Only
// when behind (Lease.Queued), or a lead that waited, may it come back not
// run.
func (iv *Invoker) run(ctx context.Context, c Container, inv *actions.Invocation, logLimit int, as runAs) outcome {
	a := &inv.Action
	timeout := time.Duration(a.Limits.Timeout) * time.Millisecond
	msg := runRequest{
		Value:         runParams(inv),
		Namespace:     inv.Namespace,
		ActionName:    a.FullName().String(),
		ActionVersion: a.Version,
		ActivationID:  inv.ActivationID,
		TransactionID: inv.TransactionID,
		Deadline:      strconv.FormatInt(time.Now().Add(timeout).UnixMilli(), 10),
		TraceParent:   inv.TraceParent,
		TraceID:       hub.TraceID(inv.TraceParent),
	}
	if inv.APIKey != "" && providesAPIKey(a) {
		msg.APIKey = inv.APIKey
	}
	body, err := msg.appendJSON(make([]byte, 0, 384+len(msg.Value)))
	if err != nil { // a payload that is not JSON counts for nothing, as in Params
		msg.Value = inv.Params()
		body, _ = msg.appendJSON(nil)
	}
	if as.queued {
		ans, err := postQueued(ctx, c, body, timeout, logLimit, as)
		// A lead that waited for its turn is queued as a run behind is.
		behind := as.behind || ans.waited
		if behind && ans.started.IsZero() && ans.notRun {
			// The proxy says it never handed the request to the action.
			// A broken connection with no 102 read says less: the 102
			// may have been lost with the container, after the action
			// started, so that is the container's failure (at most once).
			return outcome{notRun: true}
		}
		if behind && ans.started.IsZero() && errors.Is(err, errQueueWait) {
			// Not the action's failure: the proxy never started it.
			return failed(actions.StatusInternalError, msgQueueWait)
		}
		out := ans.with(iv.runOutcome(c, a, ans.status, ans.body, err))
		out.started = ans.started
		return out
	}
	ans, err := post(ctx, c, "/run", body, timeout, logLimit)
	return ans.with(iv.runOutcome(c, a, ans.status, ans.body, err))
}

// runRequest is the body of /run (OpenWhisk's action container protocol).
type runRequest struct {
	// Deadline comes first: Gust's proxy resets it where it starts a
	// queued run (proxy.QueueHeader), at once when it is first.
	Deadline      string          `json:"deadline"`
	Value         json.RawMessage `json:"value"`
	Namespace     string          `json:"namespace"`
	ActionName    string          `json:"action_name"`
	ActionVersion string          `json:"action_version"`
	ActivationID  string          `json:"activation_id"`
	TransactionID string          `json:"transaction_id"`
	APIKey        string          `json:"api_key,omitempty"`
	// TraceParent and TraceID are the activation's W3C trace context, if
	// any: the action proxy makes them __OW_TRACEPARENT and __OW_TRACE_ID.
	// Sent empty when there is none, so that a warm container's next
	// activation does not keep the last one's.
	TraceParent string `json:"traceparent"`
	TraceID     string `json:"trace_id"`
}

// appendJSON appends the request as json.Marshal writes it, by hand: every
// activation sends one. It fails when Value is not JSON.
func (m *runRequest) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	dst = jsonbuf.KeyString(dst, "deadline", m.Deadline)
	dst = jsonbuf.Key(dst, "value")
	dst, err := jsonbuf.Raw(dst, m.Value)
	if err != nil {
		return nil, err
	}
	dst = jsonbuf.KeyString(dst, "namespace", m.Namespace)
	dst = jsonbuf.KeyString(dst, "action_name", m.ActionName)
	dst = jsonbuf.KeyString(dst, "action_version", m.ActionVersion)
	dst = jsonbuf.KeyString(dst, "activation_id", m.ActivationID)
	dst = jsonbuf.KeyString(dst, "transaction_id", m.TransactionID)
	if m.APIKey != "" {
		dst = jsonbuf.KeyString(dst, "api_key", m.APIKey)
	}
	dst = jsonbuf.KeyString(dst, "traceparent", m.TraceParent)
	dst = jsonbuf.KeyString(dst, "trace_id", m.TraceID)
	return append(dst, '}'), nil
}

// runParams is inv.Params(), without decoding and encoding the payload
// again when the action has no default parameters to merge it over.
func runParams(inv *actions.Invocation) json.RawMessage {
	for _, kv := range inv.Action.Parameters {
		if !kv.Init {
			return inv.Params()
		}
	}
	if p := bytes.TrimSpace(inv.Payload); len(p) > 0 && p[0] == '{' {
		return p
	}
	return inv.Params()
}

// runOutcome is the outcome of a /run of a in c answered with status and
// resp, or err.
func (iv *Invoker) runOutcome(c Container, a *actions.Action, status int, resp []byte, err error) outcome {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return outcome{status: actions.StatusDeveloperError, result: errorResult(timeoutMessage(a.Limits.Timeout, false)), timeout: true}
	case errors.Is(err, errTooLarge):
		return outcome{status: actions.StatusApplicationError, healthy: true, result: errorResult(fmt.Sprintf(
			"The action produced a response that exceeded the allowed length: %d > %d bytes.", len(resp), MaxResultBytes))}
	case err != nil:
		return outcome{status: actions.StatusDeveloperError, result: errorResult(iv.crashMessage(c, msgAbnormalRun))}
	}
	trimmed := bytes.TrimSpace(resp)
	isObject := len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed)
	isArray := len(trimmed) > 0 && trimmed[0] == '[' && json.Valid(trimmed)
	switch {
	case status == http.StatusOK && isObject && isErrorObject(trimmed):
		return outcome{status: actions.StatusApplicationError, result: trimmed, healthy: true}
	case status == http.StatusOK && (isObject || isArray):
		return outcome{status: actions.StatusSuccess, result: trimmed, healthy: true}
	case isObject && isErrorObject(trimmed):
		return outcome{status: actions.StatusDeveloperError, result: trimmed}
	}
	detail := "."
	if len(trimmed) > 0 {
		detail = ": " + string(trimmed)
	}
	return outcome{status: actions.StatusDeveloperError, result: errorResult("The action did not produce a valid JSON response" + detail)}
}

// crashMessage tells a container that ran out of memory from one that died
// another way.
func (iv *Invoker) crashMessage(c Container, otherwise string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c.OOMKilled(ctx) {
		return msgMemoryExceeded
	}
	return otherwise
}

var errTooLarge = errors.New("response too large")

// answer is what the proxy answered: the status and at most MaxResultBytes
// of the body, and the activation's logs when they came with it.
type answer struct {
	status int
	body   []byte
	logs   *proxy.InlineAnswer
	limit  int // the log limit asked for
	// For a queued /run (postQueued): when the proxy started it (its 102),
	// or that the proxy says it never did; waited: a lead waited for its
	// turn.
	started time.Time
	notRun  bool
	waited  bool
	// took is how long the action took in its container, as Gust's proxy
	// says (proxy.RunTimeHeader); 0 when it does not.
	took time.Duration
}

// with adds the answer's inline logs, and the time the action took, to o.
func (a answer) with(o outcome) outcome {
	o.took = a.took
	if a.logs == nil {
		return o
	}
	o.inline = true
	o.logs = make([]string, 0, len(a.logs.Logs)+2)
	for _, l := range a.logs.Logs {
		o.logs = append(o.logs, FormatLogLine(LogLine{Time: time.Unix(0, l.Time), Stream: l.Stream, Text: l.Text}))
	}
	if a.logs.Truncated {
		o.logs = append(o.logs, truncatedLogsMessage(a.limit))
	}
	if a.logs.Incomplete {
		o.logs = append(o.logs, logFailureMessage)
	}
	return o
}

// noLogs as post's logLimit tells Gust's proxy that no logs are wanted.
const noLogs = -1

// post sends body to the proxy and returns its answer, errTooLarge (with
// a body of the answer's length) beyond MaxResultBytes. With logLimit > 0
// it asks Gust's proxy for the activation's logs with the answer
// (proxy.LogsHeader); other proxies answer without them.
func post(ctx context.Context, c Container, path string, body []byte, timeout time.Duration, logLimit int) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return send(ctx, c, path, body, logLimit, nil)
}

// msgQueueWait is the result of a queued activation that its container's
// proxy did not start within its time limit and queueWait.
const msgQueueWait = "The activation did not run: its container did not start it in time."

// errQueueWait says a queued /run was not started within queueWait.
var errQueueWait = errors.New("the action proxy did not start the queued run")

// queueWait bounds how long a queued /run waits for its turn beyond its
// time limit: the one ahead of it, an activation of the same action,
// ends within the same time limit, then the proxy ends its logs.
const queueWait = time.Minute

// postQueued is post for a /run queued at Gust's proxy behind the one
// running there (proxy.QueueHeader): its time limit starts when the
// proxy's 102 says the run started, which the answer's started records
// and as.onStart hears. A lead's (proxy.LeadHeader) starts when it is
// sent, unless the proxy says it waits for its turn (as.onWait hears it):
// then it is a queued one's.
func postQueued(ctx context.Context, c Container, body []byte, timeout time.Duration, logLimit int, as runAs) (answer, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wait, limit *time.Timer // before its start, from its start
	defer func() {
		for _, t := range []*time.Timer{wait, limit} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	queue := func() { wait = time.AfterFunc(timeout+queueWait, func() { cancel(errQueueWait) }) }
	run := func() { limit = time.AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) }) }
	header := http.Header{proxy.QueueHeader: {strconv.FormatInt(timeout.Milliseconds(), 10)}}
	if as.lead {
		header.Set(proxy.LeadHeader, "1")
		run()
	} else {
		queue()
	}
	var started time.Time
	waited := false
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code != http.StatusProcessing || !started.IsZero() {
			return nil
		}
		if h.Get(proxy.QueueHeader) == proxy.QueueWaiting {
			if as.lead && !waited && limit.Stop() { // in time: it waits now
				waited = true
				as.onWait()
				queue()
			}
			return nil
		}
		started = time.Now()
		as.onStart()
		if limit != nil && !waited {
			// A lead's, from a proxy that does not know leads: its time
			// limit starts again from its start, as a queued one's.
			if limit.Stop() {
				run()
			}
			return nil
		}
		if wait.Stop() {
			run()
		}
		return nil
	}}
	ans, err := send(httptrace.WithClientTrace(ctx, trace), c, "/run", body, logLimit, header)
	ans.started, ans.waited = started, waited
	return ans, err
}

// send is post without its time limit, with the extra header.
func send(ctx context.Context, c Container, path string, body []byte, logLimit int, header http.Header) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL()+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	maps.Copy(req.Header, header)
	req.Header.Set("Content-Type", "application/json")
	switch {
	case logLimit > 0:
		req.Header.Set(proxy.LogsHeader, strconv.Itoa(logLimit))
	case logLimit == noLogs:
		req.Header.Set(proxy.LogsHeader, proxy.LogsNone)
	}
	resp, err := c.Client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, context.Cause(ctx)
		}
		return answer{}, err
	}
	defer resp.Body.Close()
	ans := answer{status: resp.StatusCode, limit: logLimit, notRun: resp.Header.Get(proxy.QueueHeader) == proxy.QueueNotRun}
	if us, err := strconv.ParseInt(resp.Header.Get(proxy.RunTimeHeader), 10, 64); err == nil && us >= 0 {
		ans.took = time.Duration(us) * time.Microsecond
	}
	inline := logLimit > 0 && resp.Header.Get(proxy.LogsHeader) == "inline"
	max := int64(MaxResultBytes)
	if inline {
		// Log text may grow up to sixfold as JSON strings.
		max += 6*int64(logLimit) + 64<<10
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, context.Cause(ctx)
		}
		return answer{}, err
	}
	if int64(len(b)) > max {
		n, _ := io.Copy(io.Discard, resp.Body)
		ans.body = make([]byte, int64(len(b))+n)
		return ans, errTooLarge
	}
	if inline {
		var a proxy.InlineAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return answer{}, fmt.Errorf("decode the proxy's answer: %w", err)
		}
		b, ans.logs = a.Body, &a
	}
	ans.body = b
	if len(b) > MaxResultBytes {
		return ans, errTooLarge
	}
	return ans, nil
}

func isErrorObject(b []byte) bool {
	// Most results have no such key, which decoding every result to find
	// out cost ~1% of a fired event's CPU: without the text "error" and
	// without an escape (a key may spell it \u0065rror), there is none.
	if !bytes.Contains(b, []byte(`"error"`)) && bytes.IndexByte(b, '\\') < 0 {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, ok := m["error"]
	return ok
}

// providesAPIKey reports whether the action gets __OW_API_KEY: when its
// provide-api-key annotation is true or absent (older actions).
func providesAPIKey(a *actions.Action) bool {
	return !a.Annotations.Has("provide-api-key") || a.Annotations.IsTrue("provide-api-key")
}

// activationEnv is the __OW_* environment of an activation, sent at /init.
func (iv *Invoker) activationEnv(inv *actions.Invocation) map[string]string {
	a := &inv.Action
	env := map[string]string{
		"__OW_NAMESPACE":      inv.Namespace,
		"__OW_ACTION_NAME":    a.FullName().String(),
		"__OW_ACTION_VERSION": a.Version,
		"__OW_ACTIVATION_ID":  inv.ActivationID,
		"__OW_TRANSACTION_ID": inv.TransactionID,
		"__OW_DEADLINE":       strconv.FormatInt(time.Now().Add(time.Duration(a.Limits.Timeout)*time.Millisecond).UnixMilli(), 10),
	}
	if inv.APIKey != "" && providesAPIKey(a) {
		env["__OW_API_KEY"] = inv.APIKey
	}
	return env
}

// envString is a parameter value as an environment variable: strings as
// they are, anything else as compact JSON.
func envString(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}

// newRecord starts the activation record of inv.
func (iv *Invoker) newRecord(inv *actions.Invocation) *actions.Activation {
	a := &inv.Action
	return &actions.Activation{
		Namespace: inv.Namespace, Name: a.Name, Version: a.Version, Subject: inv.Subject,
		ActivationID: inv.ActivationID, Cause: inv.Cause, Publish: false,
	}
}

// startKind is how an activation got its container.
type startKind int

const (
	startWarm        startKind = iota // one that ran before; built-in actions too
	startCold                         // one started for it, with an /init
	startNoContainer                  // none: it ended before it got one
)

// finish completes rec with the outcome and OpenWhisk's annotations: path,
// kind, limits, waitTime, initTime (cold starts only) and timeout; and
// noContainer for one that got none, which would otherwise read as warm.
func (iv *Invoker) finish(rec *actions.Activation, inv *actions.Invocation, start time.Time, initTime time.Duration, how startKind, out outcome, logs []string) *actions.Activation {
	a := &inv.Action
	end := time.Now()
	rec.Start, rec.End = start.UnixMilli(), end.UnixMilli()
	rec.Duration = rec.End - rec.Start
	rec.Response = actions.Response{StatusCode: out.status, Result: out.result}
	rec.StatusCode = out.status
	rec.Logs = logs
	if rec.Logs == nil {
		rec.Logs = []string{}
	}
	// Every record has these: written by hand into one buffer, each value
	// a slice of it (capped, so that the next does not write over it).
	buf := make([]byte, 0, 256)
	ann := make(actions.KeyValues, 0, 7)
	add := func(key string, value func([]byte) []byte) {
		n := len(buf)
		buf = value(buf)
		ann = append(ann, actions.KeyValue{Key: key, Value: buf[n:len(buf):len(buf)]})
	}
	add("path", func(b []byte) []byte { return jsonbuf.String(b, a.FullName().Path()+"/"+a.Name) })
	add("waitTime", func(b []byte) []byte { return jsonbuf.Int(b, max(start.UnixMilli()-inv.Submitted, 0)) })
	add("kind", func(b []byte) []byte { return jsonbuf.String(b, a.Exec.Kind) })
	add("timeout", func(b []byte) []byte { return jsonbuf.Bool(b, out.timeout) })
	add("limits", a.Limits.AppendJSON)
	switch how {
	case startCold:
		add("initTime", func(b []byte) []byte { return jsonbuf.Int(b, initTime.Milliseconds()) })
	case startNoContainer:
		add(actions.NoContainerAnnotation, func(b []byte) []byte { return jsonbuf.Bool(b, true) })
	}
	if inv.TraceParent != "" {
		add("traceparent", func(b []byte) []byte { return jsonbuf.String(b, inv.TraceParent) })
	}
	rec.Annotations = ann
	if len(inv.Annotations) > 0 {
		rec.Annotations = ann.Merge(inv.Annotations)
	}
	iv.observeFinish(inv, rec, start, end, initTime, how)
	return rec
}
