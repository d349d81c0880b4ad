package actions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// openRecords starts a hub on dir and opens its activation store; both
// close when the returned function is called.
func openRecords(t testing.TB, dir string) (*actions.ActivationStore, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := hub.Start(ctx, hub.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := actions.OpenActivationStore(ctx, h.JetStream(), actions.ActivationRetention{})
	if err != nil {
		_ = h.Close()
		t.Fatal(err)
	}
	return s, func() { _ = h.Close() }
}

func record(id string, start int64, lines int, lineBytes int, result string) *actions.Activation {
	logs := make([]string, lines)
	for i := range logs {
		logs[i] = fmt.Sprintf("2026-12-05T14:00:00.000000000Z stdout: %06d %s", i, strings.Repeat("x", lineBytes))
	}
	return &actions.Activation{
		Namespace: "guest", Name: "big", Version: "0.0.1", Subject: "guest", ActivationID: id,
		Start: start, End: start + 5, Duration: 5,
		Response:    actions.Response{StatusCode: actions.StatusSuccess, Result: json.RawMessage(result)},
		Logs:        logs,
		Annotations: actions.KeyValues{}.Set("path", "guest/big"),
	}
}

// TestRecordsOfAnySize stores records larger than a NATS message (9.5 MB
// of logs; the embedded server's messages are at most 8 MB) and smaller
// ones, and reads each back whole by id and in lists, before and after a
// restart.
func TestRecordsOfAnySize(t *testing.T) {
	dir := t.TempDir()
	s, closeHub := openRecords(t, dir)
	now := time.Now().UnixMilli()
	recs := []*actions.Activation{
		record(actions.NewActivationID(), now, 3, 10, `{"small":true}`),
		record(actions.NewActivationID(), now+1, 9728, 999, `{"logs":"9.5 MB"}`),                       // 9.5 MB of log text
		record(actions.NewActivationID(), now+2, 1, 10, `{"big":"`+strings.Repeat("r", 1000<<10)+`"}`), // a result near 1 MB
	}
	ctx := context.Background()
	for _, r := range recs {
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("put %s: %v", r.ActivationID, err)
		}
	}
	check := func(t *testing.T, s *actions.ActivationStore) {
		for _, want := range recs {
			got, err := s.Get(ctx, "guest", want.ActivationID)
			if err != nil {
				t.Fatalf("get %s: %v", want.ActivationID, err)
			}
			same(t, got, want)
		}
		list, total, err := s.List(ctx, actions.Query{Namespace: "guest", Limit: 10, Docs: true})
		if err != nil || total != len(recs) || len(list) != len(recs) {
			t.Fatalf("list with docs: %d of %d records, %v; want %d", len(list), total, err, len(recs))
		}
		for i := range list { // newest first
			same(t, &list[i], recs[len(recs)-1-i])
		}
		list, _, err = s.List(ctx, actions.Query{Namespace: "guest", Path: "big", Limit: 10})
		if err != nil || len(list) != len(recs) {
			t.Fatalf("list: %d records, %v", len(list), err)
		}
		for i := range list {
			if got, want := list[i].Summary(), recs[len(recs)-1-i].Summary(); got.ActivationID != want.ActivationID || got.Start != want.Start {
				t.Errorf("summary %+v, want %+v", got, want)
			}
		}
	}
	t.Run("stored", func(t *testing.T) { check(t, s) })
	closeHub()
	s, closeHub = openRecords(t, dir)
	defer closeHub()
	t.Run("after a restart", func(t *testing.T) { check(t, s) })
	if n := s.Failures(); n != 0 {
		t.Errorf("%d failures", n)
	}
}

func same(t *testing.T, got, want *actions.Activation) {
	t.Helper()
	if got.ActivationID != want.ActivationID || len(got.Logs) != len(want.Logs) || string(got.Response.Result) != string(want.Response.Result) {
		t.Fatalf("record %s: %d log lines, result of %d bytes; want %s with %d lines, %d bytes",
			got.ActivationID, len(got.Logs), len(got.Response.Result), want.ActivationID, len(want.Logs), len(want.Response.Result))
	}
	for i := range want.Logs {
		if got.Logs[i] != want.Logs[i] {
			t.Fatalf("record %s: log line %d is %.60q, want %.60q", got.ActivationID, i, got.Logs[i], want.Logs[i])
		}
	}
}

// TestOneRecordPerActivationID: a record for an id that has one already
// (work done again after a crash, later than JetStream's duplicate window
// for message ids) is not stored; the first one stays. So with Put, and
// with PutAsync and PutIn, whose records are confirmed later.
func TestOneRecordPerActivationID(t *testing.T) {
	for _, tc := range []struct {
		name string
		put  func(ctx context.Context, s *actions.ActivationStore, a *actions.Activation) error
	}{
		{"Put", func(ctx context.Context, s *actions.ActivationStore, a *actions.Activation) error {
			return s.Put(ctx, a)
		}},
		{"PutAsync", func(ctx context.Context, s *actions.ActivationStore, a *actions.Activation) error {
			return s.PutAsync(ctx, a, nil).Wait(ctx)
		}},
		{"PutIn", func(ctx context.Context, s *actions.ActivationStore, a *actions.Activation) error {
			b := hub.NewBatch(s.JetStream())
			stored := s.PutIn(b, a, nil)
			_ = b.Wait(ctx) // the write fails: the id has a record; stored says that is fine
			return stored(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testOneRecordPerActivationID(t, tc.put) })
	}
}

func testOneRecordPerActivationID(t *testing.T, put func(ctx context.Context, s *actions.ActivationStore, a *actions.Activation) error) {
	ctx := t.Context()
	h := hubtest.Start(t)
	store, err := actions.OpenActivationStore(ctx, h.JetStream(), actions.ActivationRetention{})
	if err != nil {
		t.Fatal(err)
	}
	id := actions.NewActivationID()
	first := &actions.Activation{Namespace: "guest", Name: "hello", Version: "0.0.1", ActivationID: id, Start: 1, End: 2,
		Response: actions.Response{Result: json.RawMessage(`{"run":1}`)}}
	// The first record, stored without the message id JetStream would
	// still remember, as if its window had passed.
	b, _ := json.Marshal(first)
	msg := nats.NewMsg("gust.activations." + hub.Key("guest", "hello", id))
	msg.Data = b
	if _, err := h.JetStream().PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	second := *first
	second.Response.Result = json.RawMessage(`{"run":2}`)
	if err := put(ctx, store, &second); err != nil {
		t.Fatalf("put of an id recorded already: %v, want nil", err)
	}
	list, total, err := store.List(ctx, actions.Query{Namespace: "guest"})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(list) != 1 || string(list[0].Response.Result) != `{"run":1}` {
		t.Fatalf("records %+v (total %d), want the first one only", list, total)
	}
	other := *first
	other.ActivationID = actions.NewActivationID()
	if err := put(ctx, store, &other); err != nil {
		t.Fatal(err)
	}
	if _, total, _ := store.List(ctx, actions.Query{Namespace: "guest"}); total != 2 {
		t.Errorf("%d records after a second id, want 2", total)
	}
}

// TestPutAsyncGroup puts many records at once without waiting, a large one
// among them (written whole to the object store), then waits for them
// together: every one is stored, once, and reads back after a restart.
// So with PutAsync and with PutIn, in one batch of writes.
func TestPutAsyncGroup(t *testing.T) {
	for _, async := range []bool{true, false} {
		t.Run(map[bool]string{true: "PutAsync", false: "PutIn"}[async], func(t *testing.T) { testPutGroup(t, async) })
	}
}

func testPutGroup(t *testing.T, async bool) {
	dir := t.TempDir()
	s, closeHub := openRecords(t, dir)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	var recs []*actions.Activation
	var stored []func(context.Context) error
	batch := hub.NewBatch(s.JetStream())
	put := func(r *actions.Activation) {
		if async {
			stored = append(stored, s.PutAsync(ctx, r, nil).Wait)
		} else {
			stored = append(stored, s.PutIn(batch, r, nil))
		}
	}
	for i := range 200 {
		r := record(actions.NewActivationID(), now+int64(i), 2, 10, fmt.Sprintf(`{"i":%d}`, i))
		if i == 100 {
			r = record(r.ActivationID, r.Start, 1024, 999, `{"large":true}`) // 1 MB of logs
		}
		recs = append(recs, r)
		put(r)
		if i%50 == 0 { // the same record twice: stored once
			put(r)
		}
	}
	_ = batch.Wait(ctx) // PutIn's: a record put twice fails once
	for i, wait := range stored {
		if err := wait(ctx); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	closeHub()
	s, closeHub = openRecords(t, dir)
	defer closeHub()
	if _, total, err := s.List(ctx, actions.Query{Namespace: "guest", Limit: 1}); err != nil || total != len(recs) {
		t.Fatalf("%d records stored (%v), want %d", total, err, len(recs))
	}
	for _, i := range []int{0, 100, 199} {
		got, err := s.Get(ctx, "guest", recs[i].ActivationID)
		if err != nil {
			t.Fatalf("get record %d: %v", i, err)
		}
		same(t, got, recs[i])
	}
}

// TestPutAsyncKeeping: small parameters travel on the record's message and
// read back, without their secrets; the record read back does not show
// them; parameters that cannot travel in a
// header (too large, not one line) and a record too large for a message
// are refused, for the caller to keep apart.
func TestPutAsyncKeeping(t *testing.T) {
	s, closeHub := openRecords(t, t.TempDir())
	defer closeHub()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for _, c := range []struct {
		name, params string
		rec          *actions.Activation
		kept         bool
		want         string // what RerunParams reads, "" for nothing (nil)
	}{
		{"small", `{"city":"Lyon","n":7}`, record(actions.NewActivationID(), now, 1, 10, `{}`), true, `{"city":"Lyon","n":7}`},
		{"none", ``, record(actions.NewActivationID(), now, 1, 10, `{}`), true, ``},
		{"secrets", `{"__ow_headers":{"authorization":"Basic eA==","accept":"*/*"}}`, record(actions.NewActivationID(), now, 1, 10, `{}`), true, `{"__ow_headers":{"accept":"*/*"}}`},
		{"multiline", "{\n\"a\":1}", record(actions.NewActivationID(), now, 1, 10, `{}`), false, ""},
		{"large", `{"pad":"` + strings.Repeat("x", 20<<10) + `"}`, record(actions.NewActivationID(), now, 1, 10, `{}`), false, ""},
		{"large record", `{"a":1}`, record(actions.NewActivationID(), now, 512, 999, `{}`), false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.rec.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			stored, kept := s.PutAsyncKeeping(ctx, c.rec, b, json.RawMessage(c.params))
			if err := stored.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if kept != c.kept {
				t.Fatalf("kept %v, want %v", kept, c.kept)
			}
			got, err := s.Get(ctx, "guest", c.rec.ActivationID)
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, c.rec)
			p, err := s.RerunParams(ctx, "guest", c.rec.ActivationID)
			switch {
			case !c.kept:
				if !errors.Is(err, hub.ErrParamsNotKept) {
					t.Errorf("RerunParams = %s, %v; want hub.ErrParamsNotKept", p, err)
				}
			case err != nil || string(p) != c.want:
				t.Errorf("RerunParams = %s, %v; want %s", p, err, c.want)
			}
		})
	}
	// Another namespace's activation of that id has none.
	rec := record(actions.NewActivationID(), now, 1, 10, `{}`)
	b, _ := rec.MarshalJSON()
	if _, kept := s.PutAsyncKeeping(ctx, rec, b, json.RawMessage(`{"x":1}`)); !kept {
		t.Fatal("not kept")
	}
	if p, err := s.RerunParams(ctx, "other", rec.ActivationID); !errors.Is(err, hub.ErrParamsNotKept) {
		t.Errorf("another namespace's RerunParams = %s, %v; want hub.ErrParamsNotKept", p, err)
	}
}
