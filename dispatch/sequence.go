package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// sequenceGrace is added to each component's timeout when the sequence
// waits for it, as OpenWhisk's one minute.
const sequenceGrace = time.Minute

// runSequence runs the sequence inv names: each component is invoked with
// the previous one's result, and the first error stops the chain. It returns
// the sequence's record, which it also stores and announces. Components run
// on whichever invoker pulls them.
func (d *Dispatcher) runSequence(ctx context.Context, inv *actions.Invocation, topmost bool) *actions.Activation {
	seq := &inv.Action
	start := time.Now()
	rec := &actions.Activation{
		Namespace: inv.Namespace, Name: seq.Name, Version: seq.Version, Subject: inv.Subject,
		ActivationID: inv.ActivationID, Cause: inv.Cause, Start: start.UnixMilli(),
	}
	// Parameters by reference (over 768 KB) are more than is kept.
	if inv.PayloadRef == "" {
		if _, err := d.params.Keep(ctx, inv.Namespace, inv.ActivationID, inv.Payload); err != nil {
			d.log.Warn("parameters not kept for a rerun", "activation_id", inv.ActivationID, "err", err)
		}
	}
	params := inv.Params() // the sequence's defaults and payload go to the first component
	var last *actions.Activation
	var ids []string
	memory := 0
	status, result := actions.StatusSuccess, json.RawMessage("{}")
	for _, comp := range seq.Exec.Components {
		n, err := actions.ParseName(comp, inv.Namespace)
		if err == nil {
			var a *actions.Action
			a, err = actions.Resolve(ctx, d.actions, n, inv.Namespace, false)
			if err == nil {
				memory = max(memory, a.Limits.Memory)
				child := &actions.Invocation{
					ActivationID: actions.NewActivationID(), Namespace: inv.Namespace, Subject: inv.Subject,
					Action: *a, Payload: params, APIKey: inv.APIKey, Submitted: time.Now().UnixMilli(),
					Cause: inv.ActivationID, TransactionID: inv.TransactionID, TraceParent: inv.TraceParent,
					Annotations: actions.KeyValues{}.Set("causedBy", "sequence"),
				}
				ids = append(ids, child.ActivationID)
				// The sequence runs in this process, which waits for
				// each component: they may run off the queue (Call).
				last, err = d.activate(ctx, child, time.Duration(a.Limits.Timeout)*time.Millisecond+sequenceGrace, false, true)
				if err == nil && last == nil {
					err = componentTimeout(child.ActivationID)
				}
			}
		}
		if err != nil {
			msg := fmt.Sprintf("Sequence component %s failed: %v", comp, err)
			if errors.Is(err, hub.ErrNotFound) {
				msg = fmt.Sprintf("Sequence component %s does not exist.", comp)
			}
			status, result = actions.StatusApplicationError, actions.ErrorResult(msg)
			if ctx.Err() != nil {
				status = actions.StatusInternalError
			}
			break
		}
		status, result = last.Response.StatusCode, last.Response.Result
		if status != actions.StatusSuccess {
			break
		}
		params = result
	}
	end := time.Now()
	rec.End, rec.Duration = end.UnixMilli(), end.Sub(start).Milliseconds()
	rec.StatusCode = status
	rec.Response = actions.Response{StatusCode: status, Result: result}
	rec.Logs = ids
	if rec.Logs == nil {
		rec.Logs = []string{}
	}
	limits := seq.Limits
	limits.Memory = max(memory, limits.Memory)
	ann := actions.KeyValues{}.
		Set("path", seq.FullName().Path()+"/"+seq.Name).
		Set("kind", actions.KindSequence).
		Set("limits", limits).
		Set("waitTime", max(start.UnixMilli()-inv.Submitted, 0))
	if topmost {
		ann = ann.Set("topmost", true)
	}
	rec.Annotations = ann.Merge(inv.Annotations)
	d.record(ctx, rec)
	return rec
}

// recordWait bounds how long the record of a sequence cut short (its
// context ended, as when the dispatcher closes) may take to store.
const recordWait = 5 * time.Second

// record stores a record the dispatcher made and announces it, even when
// ctx has ended: the record of a sequence cut short says so.
func (d *Dispatcher) record(ctx context.Context, rec *actions.Activation) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordWait)
	defer cancel()
	if err := d.records.Put(ctx, rec); err != nil {
		d.log.Error("store activation", "activation_id", rec.ActivationID, "err", err)
	}
	if b, err := json.Marshal(rec); err == nil {
		_ = d.nc.Publish(hub.DoneSubject(rec.ActivationID), b)
	}
}

// componentTimeout is OpenWhisk's message for a sequence component whose
// record did not arrive in time; it is shown to users as it is.
type componentTimeout string

func (id componentTimeout) Error() string {
	return "Timeout reached when retrieving activation " + string(id) + " for sequence component."
}
