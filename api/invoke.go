package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// Activator runs invocations: it queues one and, with wait > 0, waits up to
// wait for its record, returning nil when the time is up.
type Activator interface {
	Activate(ctx context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error)
}

// Caller is an Activator that can run an invocation whose caller waits for
// its record at once in this process, off the queue
// (dispatch.Dispatcher.Call); the API's blocking invokes use it when the
// Activator has it.
type Caller interface {
	Call(ctx context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error)
}

// maxBlockingWait is how long a blocking invoke waits before answering 202,
// as OpenWhisk's.
const maxBlockingWait = 60 * time.Second

// invokeAction answers POST /namespaces/{ns}/actions/{name}: 202 with the
// activation id, or for blocking calls the record (or its result) with 200
// for success, 502 for application and developer errors, 500 for internal
// ones, and 202 when the wait ran out.
func (s *Server) invokeAction(w http.ResponseWriter, r *http.Request, id *Identity) error {
	ctx := r.Context()
	ns, _, err := namespace(r, id)
	if err != nil {
		return err
	}
	n, err := actionName(r, ns)
	if err != nil {
		return err
	}
	q := r.URL.Query() // parsed once: a warm blocking invoke is a hot path
	blocking, resultOnly, err := invokeFlags(q)
	if err != nil {
		return err
	}
	wait := maxBlockingWait
	if v := q.Get("timeout"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 || time.Duration(ms)*time.Millisecond > maxBlockingWait {
			return errorf(http.StatusBadRequest, fmt.Sprintf("Timeout must be number of milliseconds up to %d.", maxBlockingWait.Milliseconds()))
		}
		wait = time.Duration(ms) * time.Millisecond
	}
	body, err := readBody(r, actions.MaxPayloadBytes)
	if err != nil {
		return err
	}
	var payload map[string]json.RawMessage
	if err := decodeObject(body, &payload); err != nil {
		return err
	}
	a, err := actions.Resolve(ctx, s.cfg.Invocations, n, id.Namespace, false)
	if err != nil {
		return err
	}
	if feed, ok := s.feedOf(a); ok {
		return s.invokeFeed(w, r, id, a, feed, payload, blocking, resultOnly)
	}
	if err := checkFinal(r, a, id.Namespace, payload); err != nil {
		return err
	}
	if s.cfg.Activator == nil {
		return errorf(http.StatusServiceUnavailable, msgOverloaded)
	}
	inv := s.newInvocation(r, a, id.Namespace)
	if len(payload) > 0 {
		inv.Payload, _ = json.Marshal(payload)
	}
	if u, p, ok := r.BasicAuth(); ok { // the caller's key, for __OW_API_KEY
		inv.APIKey = u + ":" + p
	}
	if !blocking {
		wait = 0
	}
	return s.answerInvocation(ctx, w, inv, wait, resultOnly)
}

// checkFinal refuses (400) an invocation by caller whose payload sets final
// parameters of a, naming them and the command that lets requests
// override them.
func checkFinal(r *http.Request, a *actions.Action, caller string, payload map[string]json.RawMessage) error {
	var final []string
	for _, k := range a.FinalParameters() {
		if _, ok := payload[k]; ok {
			final = append(final, k)
		}
	}
	if len(final) == 0 {
		return nil
	}
	name := a.FullName()
	if name.Namespace != caller {
		// Shared, or reached through a binding: only its owner can change it.
		return paramsNotAllowed(nil, final, fmt.Sprintf("Remove %s from the request; only namespace %s, which owns the action, can let requests override its parameters.",
			quoteParams(final), name.Namespace))
	}
	return paramsNotAllowed(nil, final, fmt.Sprintf("Remove %s from the request, or let requests override the action's parameters: '%s action update %s -a final false'.",
		quoteParams(final), clientCLI(r), name.Local()))
}

// answerInvocation runs inv, waiting up to wait, and answers as an invoke:
// 202 with the activation id when not waiting or not finished in time,
// else the record (or its result) with 200 for success, 502 for
// application and developer errors, 500 for internal ones.
func (s *Server) answerInvocation(ctx context.Context, w http.ResponseWriter, inv *actions.Invocation, wait time.Duration, resultOnly bool) error {
	rec, err := s.activate(ctx, w, inv, wait)
	if err != nil {
		return err
	}
	if rec == nil {
		writeJSON(w, http.StatusAccepted, map[string]string{"activationId": inv.ActivationID})
		return nil
	}
	status := http.StatusOK
	switch rec.Response.StatusCode {
	case actions.StatusApplicationError, actions.StatusDeveloperError:
		status = http.StatusBadGateway
	case actions.StatusInternalError:
		status = http.StatusInternalServerError
	}
	if resultOnly {
		writeRaw(w, status, rec.Response.Result)
		return nil
	}
	writeJSON(w, status, rec)
	return nil
}

// invokeFlags reads an invoke's ?blocking and ?result.
func invokeFlags(q url.Values) (blocking, resultOnly bool, err error) {
	if blocking, err = boolParam(q, "blocking"); err != nil {
		return false, false, err
	}
	resultOnly, err = boolParam(q, "result")
	return blocking, resultOnly, err
}

// newInvocation is an invocation of a, by and in namespace ns, for the
// request r; an action reached through a binding carries the binding's
// annotation to its record.
func (s *Server) newInvocation(r *http.Request, a *actions.Action, ns string) *actions.Invocation {
	inv := &actions.Invocation{
		ActivationID:  actions.NewActivationID(),
		Namespace:     ns,
		Subject:       ns,
		Action:        *a,
		Submitted:     s.now().UnixMilli(),
		TransactionID: transactionID(r),
	}
	if tp := r.Header.Get("traceparent"); hub.ValidTraceParent(tp) { // W3C trace context, passed on to the action
		inv.TraceParent = tp
	}
	if a.Annotations.Has(actions.BindingAnnotation) {
		inv.Annotations = inv.Annotations.Set(actions.BindingAnnotation, a.Annotations.Get(actions.BindingAnnotation))
	}
	return inv
}

// writeRaw answers with JSON that is already encoded.
func writeRaw(w http.ResponseWriter, status int, b json.RawMessage) {
	if len(b) == 0 {
		b = json.RawMessage("{}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// activate runs inv under its namespace's throttles (invocationsPerMinute,
// then concurrentInvocations, whose slot inv carries to whoever completes
// it), telling its activation id in w's header once it is admitted.
func (s *Server) activate(ctx context.Context, w http.ResponseWriter, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error) {
	if s.cfg.Throttle != nil {
		held, err := s.cfg.Throttle.Admit(ctx, inv.Namespace, true)
		if err != nil {
			return nil, err
		}
		inv.Slot = held
	}
	w.Header().Set("x-openwhisk-activation-id", inv.ActivationID)
	var rec *actions.Activation
	var err error
	if c, ok := s.cfg.Activator.(Caller); ok && wait > 0 {
		rec, err = c.Call(ctx, inv, wait)
	} else {
		rec, err = s.cfg.Activator.Activate(ctx, inv, wait)
	}
	if err != nil && inv.Slot && ctx.Err() == nil { // else it may be queued, and its invoker gives the slot back
		if err := s.cfg.Throttle.Release(context.WithoutCancel(ctx), inv.Namespace); err != nil {
			s.log.Warn("release concurrency slot", "activation_id", inv.ActivationID, "err", err)
		}
	}
	return rec, err
}
