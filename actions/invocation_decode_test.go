package actions_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// queuedInvocation is an invocation as the dispatcher queues it.
func queuedInvocation(tb testing.TB, edit func(*actions.Invocation)) []byte {
	tb.Helper()
	inv := actions.Invocation{
		ActivationID: "0123456789abcdef0123456789abcdef", Namespace: "guest", Subject: "guest",
		Action: actions.Action{
			Namespace: "guest", Name: "noop", Version: "0.0.1", Exec: actions.Exec{Kind: "nodejs:20"},
			Annotations: actions.KeyValues{{Key: "exec", Value: json.RawMessage(`"nodejs:20"`)}},
			Parameters:  actions.KeyValues{{Key: "greeting", Value: json.RawMessage(`"hello"`)}, {Key: "secret", Value: json.RawMessage(`"s"`), Init: true}, {Key: "n", Value: json.RawMessage(`3`)}},
			Limits:      actions.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 8}, Updated: 1765129821123,
		},
		Payload: json.RawMessage(`{"n":1,"s":"x"}`), Submitted: 1765129821125, TransactionID: "0123456789abcdef",
		Slot: true,
	}
	if edit != nil {
		edit(&inv)
	}
	b, err := json.Marshal(&inv)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkDecode fails t unless d reads b as json.Unmarshal does.
func checkDecode(t *testing.T, d *actions.InvocationDecoder, b []byte) {
	t.Helper()
	var got, want actions.Invocation
	gotErr, wantErr := d.Decode(b, &got), json.Unmarshal(b, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Decode(%s): error %v; json.Unmarshal: %v", b, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%s):\n%+v\njson.Unmarshal:\n%+v", b, got, want)
	}
}

func TestInvocationDecoderReadsWhatUnmarshalReads(t *testing.T) {
	plain := queuedInvocation(t, nil)
	var d actions.InvocationDecoder
	for name, b := range map[string][]byte{
		"plain": plain,
		"every field": queuedInvocation(t, func(inv *actions.Invocation) {
			inv.PayloadRef, inv.APIKey, inv.Cause, inv.TraceParent = "ref", "key", "cause", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
			inv.Annotations = actions.KeyValues{{Key: "causedBy", Value: json.RawMessage(`"sequence"`)}}
		}),
		"no payload":           queuedInvocation(t, func(inv *actions.Invocation) { inv.Payload = nil; inv.Slot = false }),
		"a string to unescape": queuedInvocation(t, func(inv *actions.Invocation) { inv.Subject = `a"<b>` }),
		"a non-ASCII string":   queuedInvocation(t, func(inv *actions.Invocation) { inv.Cause = "café" }),
		"a sequence": queuedInvocation(t, func(inv *actions.Invocation) {
			inv.Action.Exec = actions.Exec{Kind: actions.KindSequence, Components: []string{"/guest/a", "/guest/b"}}
		}),
		"a large action": queuedInvocation(t, func(inv *actions.Invocation) {
			inv.Action.Parameters = actions.KeyValues{{Key: "big", Value: json.RawMessage(`"` + strings.Repeat("x", 10<<10) + `"`)}}
		}),
		"another case":               []byte(strings.Replace(string(plain), `"subject"`, `"SUBJECT"`, 1)),
		"a member twice":             []byte(strings.Replace(string(plain), `"subject":"guest"`, `"subject":"guest","subject":"other"`, 1)),
		"an unknown member":          []byte(strings.Replace(string(plain), `"subject"`, `"extra":[1,{"a":null}],"subject"`, 1)),
		"null":                       []byte(strings.Replace(string(plain), `"subject":"guest"`, `"subject":null`, 1)),
		"a fraction":                 []byte(strings.Replace(string(plain), `"submitted":1765129821125`, `"submitted":1.5`, 1)),
		"a string where a number is": []byte(strings.Replace(string(plain), `"submitted":1765129821125`, `"submitted":"1"`, 1)),
		"a number where a string is": []byte(strings.Replace(string(plain), `"subject":"guest"`, `"subject":1`, 1)),
		"a bad action":               []byte(strings.Replace(string(plain), `"kind":"nodejs:20"`, `"kind":2`, 1)),
		"spaces":                     []byte(strings.Replace(string(plain), `,`, ", ", -1)),
		"cut short":                  plain[:len(plain)-1],
		"something after":            append(append([]byte(nil), plain...), '}'),
		"empty":                      []byte(`{}`),
		"not an object":              []byte(`[]`),
		"nothing":                    nil,
	} {
		t.Run(name, func(t *testing.T) {
			checkDecode(t, &d, b)
			checkDecode(t, &d, b) // its action known now
		})
	}
}

// TestInvocationDecoderSharesNoWritableAction: an append to one decoded
// invocation's action parameters leaves the next decode's as they were.
func TestInvocationDecoderSharesNoWritableAction(t *testing.T) {
	b := queuedInvocation(t, nil)
	var d actions.InvocationDecoder
	var first, second actions.Invocation
	if err := d.Decode(b, &first); err != nil {
		t.Fatal(err)
	}
	first.Action.Parameters = append(first.Action.Parameters, actions.KeyValue{Key: "added"})
	if err := d.Decode(b, &second); err != nil {
		t.Fatal(err)
	}
	if n := len(second.Action.Parameters); n != 3 {
		t.Fatalf("the second decode has %d parameters, want 3: %+v", n, second.Action.Parameters)
	}
	if n := cap(second.Action.Parameters); n != 3 {
		t.Fatalf("a decoded action's parameters have room for %d, want 3: an append would write where the next decode reads", n)
	}
}

func FuzzInvocationDecoder(f *testing.F) {
	f.Add(queuedInvocation(f, nil))
	f.Add(queuedInvocation(f, func(inv *actions.Invocation) {
		inv.Cause, inv.Annotations = "c", actions.KeyValues{{Key: "k", Value: json.RawMessage(`1`)}}
	}))
	f.Add([]byte(`{"activationId":"a","slot":false,"payload":[1,"x",{}],"submitted":-0}`))
	var d actions.InvocationDecoder
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, &d, b)
	})
}

// BenchmarkInvocationDecode reads a queued invocation as the invoker
// does, against the floor of json.Unmarshal reading it, alternating in
// rounds.
func BenchmarkInvocationDecode(b *testing.B) {
	msg := queuedInvocation(b, nil)
	const rounds, perRound = 20, 2000
	var d actions.InvocationDecoder
	var decoder, reflection time.Duration
	for range b.N {
		for range rounds {
			t0 := time.Now()
			for range perRound {
				var inv actions.Invocation
				if err := d.Decode(msg, &inv); err != nil {
					b.Fatal(err)
				}
			}
			decoder += time.Since(t0)
			t0 = time.Now()
			for range perRound {
				var inv actions.Invocation
				if err := json.Unmarshal(msg, &inv); err != nil {
					b.Fatal(err)
				}
			}
			reflection += time.Since(t0)
		}
	}
	n := float64(b.N * rounds * perRound)
	b.ReportMetric(float64(decoder.Nanoseconds())/n, "ns/invocation")
	b.ReportMetric(float64(reflection.Nanoseconds())/n, "floor-ns/invocation")
}
