package actions

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"

	"github.com/gusthub/gust/internal/jsonbuf"
)

// InvocationDecoder reads invocations as the work queue carries them,
// into what json.Unmarshal would make of them. The invocations of one
// action carry the same resolved action, byte for byte, until it changes:
// the decoder keeps the last actions it read, by their bytes, and reads
// the rest of a plain invocation without reflection. Reflection took 5%
// of the invoker's CPU while it drained a queue. The zero value is ready;
// it is safe for concurrent use.
type InvocationDecoder struct {
	mu      sync.Mutex
	actions map[string]*Action
}

// maxDecodedActions bounds the actions an InvocationDecoder keeps; when it
// holds that many it forgets them all, which costs a decode each. An
// action larger than maxDecodedAction bytes (its parameters and
// annotations may hold a megabyte each) is decoded every time, so that
// the decoder keeps at most a few megabytes.
const (
	maxDecodedActions = 256
	maxDecodedAction  = 8 << 10
)

// Decode reads b into inv, which it overwrites, as json.Unmarshal would.
// The action's slices (parameters, annotations, components) are shared
// with the other invocations of the same action, capped so that an append
// copies them: they must not be written in place.
func (d *InvocationDecoder) Decode(b []byte, inv *Invocation) error {
	*inv = Invocation{}
	if d.decodePlain(b, inv) {
		return nil
	}
	*inv = Invocation{}
	return json.Unmarshal(b, inv)
}

// decodePlain reads b into inv when it is an invocation as Gust writes it
// whose strings need no unescaping, every member once. It reports false,
// and leaves inv to be reset, for anything else, which json.Unmarshal
// reads instead: other names (it matches them without regard to case),
// nulls, escapes, duplicate members.
func (d *InvocationDecoder) decodePlain(b []byte, inv *Invocation) bool {
	var seen uint16
	return jsonbuf.Members(b, func(name, v []byte) bool {
		bit, ok := invocationMembers[string(name)]
		if !ok || seen&bit != 0 || v[0] == 'n' {
			return false
		}
		seen |= bit
		switch string(name) {
		case "activationId":
			inv.ActivationID, ok = plainString(v)
		case "namespace":
			inv.Namespace, ok = plainString(v)
		case "subject":
			inv.Subject, ok = plainString(v)
		case "action":
			ok = d.action(v, &inv.Action)
		case "payload":
			inv.Payload = json.RawMessage(slices.Clone(v))
		case "payloadRef":
			inv.PayloadRef, ok = plainString(v)
		case "apiKey":
			inv.APIKey, ok = plainString(v)
		case "submitted":
			var err error
			inv.Submitted, err = strconv.ParseInt(string(v), 10, 64)
			ok = err == nil
		case "cause":
			inv.Cause, ok = plainString(v)
		case "annotations":
			ok = json.Unmarshal(v, &inv.Annotations) == nil
		case "transactionId":
			inv.TransactionID, ok = plainString(v)
		case "traceparent":
			inv.TraceParent, ok = plainString(v)
		case "slot":
			inv.Slot, ok = string(v) == "true", string(v) == "true" || string(v) == "false"
		}
		return ok
	})
}

// invocationMembers are the JSON names of Invocation's fields, each with
// its bit in decodePlain's record of those it read.
var invocationMembers = map[string]uint16{
	"activationId": 1 << 0, "namespace": 1 << 1, "subject": 1 << 2, "action": 1 << 3,
	"payload": 1 << 4, "payloadRef": 1 << 5, "apiKey": 1 << 6, "submitted": 1 << 7,
	"cause": 1 << 8, "annotations": 1 << 9, "transactionId": 1 << 10, "traceparent": 1 << 11,
	"slot": 1 << 12,
}

// action sets a to the action whose JSON is v: one read before, or v
// decoded and kept.
func (d *InvocationDecoder) action(v []byte, a *Action) bool {
	d.mu.Lock()
	known := d.actions[string(v)]
	d.mu.Unlock()
	if known != nil {
		*a = *known
		return true
	}
	if json.Unmarshal(v, a) != nil {
		return false
	}
	if len(v) > maxDecodedAction {
		return true
	}
	a.Annotations, a.Parameters, a.Exec.Components = slices.Clip(a.Annotations), slices.Clip(a.Parameters), slices.Clip(a.Exec.Components)
	kept := *a
	d.mu.Lock()
	if len(d.actions) >= maxDecodedActions || d.actions == nil {
		d.actions = make(map[string]*Action, maxDecodedActions)
	}
	d.actions[string(v)] = &kept
	d.mu.Unlock()
	return true
}
