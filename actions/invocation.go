package actions

import (
	"encoding/json"
	"errors"
)

// ErrNotStarted is what an invoker reports of an invocation it took to run
// off the queue (the rule engine's, dispatch.Dispatcher.Reserve) and gave
// up before it started, because it stops: it has no record, and its
// concurrency slot (Slot) is still held for it, so whoever reserved it
// queues it instead.
var ErrNotStarted = errors.New("the invoker stopped before the activation got a container")

// Invocation asks an invoker to run an action once. The controller builds
// it when an action is invoked or a rule fires; it travels through the hub's
// work queue to whichever invoker pulls it.
type Invocation struct {
	ActivationID string `json:"activationId"`
	// Namespace and Subject are the activation's: the invoking namespace.
	Namespace string `json:"namespace"`
	Subject   string `json:"subject"`
	// Action is the resolved action without its code; Action.Parameters are
	// its default parameters (package, binding and action merged).
	Action Action `json:"action"`
	// Payload is the invocation's own parameters, a JSON object; they
	// override the defaults.
	Payload json.RawMessage `json:"payload,omitempty"`
	// PayloadRef, when set, names where a payload too large for the
	// invocation's message is stored (hub.StoreParams); the invoker puts
	// it back into Payload before the action runs.
	PayloadRef string `json:"payloadRef,omitempty"`
	// APIKey is given to the action as __OW_API_KEY when it asks for it.
	APIKey string `json:"apiKey,omitempty"`
	// Submitted is when the controller accepted the request, in epoch
	// milliseconds; waitTime is measured from it.
	Submitted int64 `json:"submitted"`
	// Cause is the activation id of the sequence or trigger that caused this.
	Cause string `json:"cause,omitempty"`
	// Annotations are added to the activation record (binding, causedBy...).
	Annotations KeyValues `json:"annotations,omitempty"`
	// TransactionID ties the activation to the API request that made it.
	TransactionID string `json:"transactionId,omitempty"`
	// TraceParent is the W3C trace context (a traceparent header's value)
	// of the request or event that caused this invocation, if any: the
	// action gets it, and its record keeps it as an annotation.
	TraceParent string `json:"traceparent,omitempty"`
	// Slot marks an invocation that holds one of its namespace's
	// concurrentInvocations slots: whoever completes it gives the slot
	// back.
	Slot bool `json:"slot,omitempty"`
}

// Params returns the action's parameters: the defaults overridden by the
// payload, as one JSON object. Init parameters are left out: they go to the
// environment at /init.
func (inv *Invocation) Params() json.RawMessage {
	m := map[string]json.RawMessage{}
	for _, kv := range inv.Action.Parameters {
		if !kv.Init {
			m[kv.Key] = kv.Value
		}
	}
	if len(inv.Payload) > 0 {
		var p map[string]json.RawMessage
		if json.Unmarshal(inv.Payload, &p) == nil {
			for k, v := range p {
				m[k] = v
			}
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}
