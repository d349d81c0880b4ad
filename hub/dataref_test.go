package hub_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// TestLargeDataOffloaded: event data larger than a message may carry (a
// 12 MB GitHub payload; the embedded server takes 8 MB messages) is
// stored, travels as a dataref, and ResolveData gives the event back
// byte for byte; small data stays in the message.
func TestLargeDataOffloaded(t *testing.T) {
	ctx := context.Background()
	h, st := hubtest.Events(t)
	js := h.JetStream()
	big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 12<<20)...)
	big = append(big, `"}`...)
	for i, data := range [][]byte{big, []byte(`{"small":true}`)} {
		e := event.New()
		e.SetID(string(rune('a' + i)))
		e.SetSource("https://github.com/o/r")
		e.SetType("com.github.push")
		e.SetSubject("refs/heads/main")
		e.SetDataContentType("application/json")
		e.DataEncoded = data
		if err := hub.PublishEvent(ctx, js, "guest", "t", e, nil); err != nil {
			t.Fatalf("publish %d bytes: %v", len(data), err)
		}
		if !bytes.Equal(e.Data(), data) {
			t.Error("PublishEvent changed the caller's event")
		}
		msg, err := st.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if offloaded := len(msg.Data) == 0; offloaded != (len(data) > hub.InlineDataLimit) {
			t.Errorf("%d bytes: message body %d bytes", len(data), len(msg.Data))
		}
		got, err := hub.DecodeEvent(msg.Header, msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.ResolveData(ctx, js, &got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data(), data) || got.DataContentType() != "application/json" || got.Subject() != "refs/heads/main" {
			t.Errorf("resolved: %d bytes, datacontenttype %q, subject %q", len(got.Data()), got.DataContentType(), got.Subject())
		}
		if _, has := got.Extensions()[hub.DataRefExtension]; has {
			t.Error("the dataref is left after resolving")
		}
	}
}
