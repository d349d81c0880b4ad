// Package client is a small typed client of Gust's OpenWhisk-compatible
// /api/v1 wire: actions, packages, triggers, rules, activations and
// namespaces, and Gust's extensions of it: namespace limits and event
// retention, activation trees and reruns, event streams (Events) and
// replays, MQTT devices, API routes (wsk api) and the runtime images being
// built.
//
// It sends requests the way the OpenWhisk CLI (wsk) sends them — PUT with
// ?overwrite=false to create and ?overwrite=true to update, lists with
// ?limit=N&skip=M, invokes with ?blocking=B&result=R — and decodes answers
// into the entity types of packages actions and rules. Every call also
// returns the raw *Response, so that callers can show the server's JSON as
// it came.
//
// A non-2xx answer is an *Error carrying the server's message and code;
// errors.Is(err, ErrNotFound) tells a missing entity. A blocking invocation
// whose action failed is answered 502 without a code; that is an
// *ActivationError carrying the activation (or its result).
//
//	c, err := client.New(client.Config{APIHost: "http://127.0.0.1:3233", Auth: "uuid:key"})
//	if err != nil {
//		return err
//	}
//	a, _, err := c.Actions.Get(ctx, "hello")
package client
