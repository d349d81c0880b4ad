package couchdb_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/couchdb"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/feedrun"
	"github.com/gusthub/gust/internal/upstreamtest"
)

var params = feedtest.Params

// put writes doc id with body into db; a conflict (the doc is there) is
// not an error, so that writing the same document again is a no-op.
func put(t testing.TB, p *upstreamtest.Pouch, db, id string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/"+db+"/"+id, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusConflict {
		t.Fatalf("PUT %s/%s: %s", db, id, resp.Status)
	}
}

// TestConformance runs the suite every provider passes against a real
// pouchdb-server: a document written is a change; writing the same
// document again is no new change.
func TestConformance(t *testing.T) {
	pouch := upstreamtest.PouchDB(t)
	pouch.Do(t, "PUT", "/conf", nil)
	n := 0
	feedtest.Run(t, feedtest.Case{
		Provider: feedtest.Provider(t, "couchdb/changes"),
		Egress:   loopback,
		Params:   params("url", pouch.URL, "dbname", "conf"),
		Produce: func(t *testing.T, f feeds.Source, emit feeds.Emit, i int) {
			// Each check runs a new instance that starts at "now": give it
			// a moment to ask for "now" before writing.
			time.Sleep(300 * time.Millisecond)
			n++
			put(t, pouch, "conf", fmt.Sprintf("doc-%d-%d", i, n/3), map[string]any{"i": i})
		},
		Wait: 30 * time.Second,
	})
}

// loopback is the egress policy of the tests: pouchdb-server is on
// loopback, which feeds may not reach unless allowed.
var loopback = egress.MustParse(egress.Loopback)

// config is feedtest.Config allowing loopback.
func config(p feeds.Params) feeds.Config {
	cfg := feedtest.Config(p)
	cfg.Egress = loopback
	return cfg
}

func run(t *testing.T, p feeds.Params, cp feeds.Checkpoint) *feedtest.Running {
	t.Helper()
	cfg := config(p)
	cfg.Checkpoint = cp
	return feedtest.Start(t, feedtest.Build(t, "couchdb/changes", cfg), nil)
}

func dataOf(t *testing.T, e event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data(), &m); err != nil {
		t.Fatalf("event %s data %s: %v", e.ID(), e.Data(), err)
	}
	return m
}

// TestChangesAndDeletions: since 0 replays the database's changes, with
// their documents when include_docs; a deletion is .deleted; attributes
// are as documented; a second instance from the same checkpoint goes on
// after the last change, and replaying from an older one gives the same
// event ids.
func TestChangesAndDeletions(t *testing.T) {
	pouch := upstreamtest.PouchDB(t)
	pouch.Do(t, "PUT", "/orders", nil)
	put(t, pouch, "orders", "a", map[string]any{"n": 1})
	put(t, pouch, "orders", "b", map[string]any{"n": 2})
	cp := &feedtest.MemoryCheckpoint{}
	r := run(t, params("url", pouch.URL, "dbname", "orders", "since", 0, "include_docs", true), cp)
	evs := r.Rec.WaitFor(t, 2, 30*time.Second)
	rev := dataOf(t, evs[0])["changes"].([]any)[0].(map[string]any)["rev"].(string)
	pouch.Do(t, "DELETE", "/orders/a?rev="+rev, nil)
	evs = r.Rec.WaitFor(t, 3, 30*time.Second)
	if err := r.Stop(t); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	host := strings.TrimPrefix(pouch.URL, "http://")
	for i, want := range []struct{ typ, subject string }{
		{couchdb.TypeChanged, "a"}, {couchdb.TypeChanged, "b"}, {couchdb.TypeDeleted, "a"},
	} {
		e := evs[i]
		if e.Type() != want.typ || e.Subject() != want.subject || e.Source() != "couchdb://"+host+"/orders" {
			t.Errorf("event %d: type %s subject %s source %s, want %s %s couchdb://%s/orders", i, e.Type(), e.Subject(), e.Source(), want.typ, want.subject, host)
		}
		if e.ID() != fmt.Sprintf("orders/%d", i+1) {
			t.Errorf("event %d id %q, want orders/%d (database/seq)", i, e.ID(), i+1)
		}
		if e.DataContentType() != event.ApplicationJSON {
			t.Errorf("event %d datacontenttype %q", i, e.DataContentType())
		}
	}
	if doc, _ := dataOf(t, evs[1])["doc"].(map[string]any); doc["n"] != 2.0 {
		t.Errorf("include_docs: data %s has no doc", evs[1].Data())
	}
	if del, _ := dataOf(t, evs[2])["deleted"].(bool); !del {
		t.Errorf("deletion's data %s", evs[2].Data())
	}

	// A new instance on the checkpoint goes on with the next change only.
	put(t, pouch, "orders", "c", map[string]any{"n": 3})
	r2 := run(t, params("url", pouch.URL, "dbname", "orders", "since", 0), cp)
	r2.Rec.WaitFor(t, 1, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	if got := r2.Rec.Events(); len(got) != 1 || got[0].Subject() != "c" || got[0].ID() != "orders/4" {
		t.Fatalf("after the checkpoint: %d events, first %v; want only c as orders/4", len(got), got)
	}
	// Replaying from the start names the same changes the same way.
	r3 := run(t, params("url", pouch.URL, "dbname", "orders", "since", 0), &feedtest.MemoryCheckpoint{})
	for _, e := range r3.Rec.WaitFor(t, 3, 30*time.Second) {
		if e.ID() != "orders/3" && e.ID() != "orders/2" && e.ID() != "orders/4" {
			t.Errorf("replay: id %s", e.ID())
		}
	}
}

// TestFilterAndQueryParams: a design document filter with query_params
// selects the changes; since now (the default) skips what came before.
func TestFilterAndQueryParams(t *testing.T) {
	pouch := upstreamtest.PouchDB(t)
	pouch.Do(t, "PUT", "/tickets", nil)
	put(t, pouch, "tickets", "old", map[string]any{"status": "open"})
	put(t, pouch, "tickets", "_design/app", map[string]any{
		"filters": map[string]string{"by_status": "function(doc, req) { return doc.status === req.query.status; }"},
	})
	r := run(t, params("url", pouch.URL, "dbname", "tickets", "filter", "app/by_status",
		"query_params", map[string]any{"status": "open"}), &feedtest.MemoryCheckpoint{})
	time.Sleep(time.Second) // the instance asks for "now" first
	put(t, pouch, "tickets", "t1", map[string]any{"status": "closed"})
	put(t, pouch, "tickets", "t2", map[string]any{"status": "open"})
	put(t, pouch, "tickets", "t3", map[string]any{"status": "open"})
	r.Rec.WaitFor(t, 2, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	evs := r.Rec.Events()
	var subjects []string
	for _, e := range evs {
		subjects = append(subjects, e.Subject())
	}
	if strings.Join(subjects, ",") != "t2,t3" {
		t.Errorf("filtered changes %v, want t2,t3", subjects)
	}
}

// TestBadParams: each invalid parameter is a *feeds.ParamError naming it.
func TestBadParams(t *testing.T) {
	for _, c := range []struct {
		name   string
		params feeds.Params
		bad    string
		public bool // under the default egress policy, public addresses only
	}{
		{"no url", params("dbname", "x"), "url", false},
		{"loopback url", params("url", "http://127.0.0.1:5984", "dbname", "x"), "url", true},
		{"localhost url", params("url", "http://admin:pw@localhost:5984", "dbname", "x"), "url", true},
		{"metadata url", params("url", "http://169.254.169.254/", "dbname", "x"), "url", true},
		{"private url", params("url", "https://192.168.1.10:6984", "dbname", "x"), "url", true},
		{"ftp url", params("url", "ftp://h/", "dbname", "x"), "url", false},
		{"no host", params("url", "http://", "dbname", "x"), "url", false},
		{"no dbname", params("url", "http://127.0.0.1:5984"), "dbname", false},
		{"bad dbname", params("url", "http://127.0.0.1:5984", "dbname", "Orders"), "dbname", false},
		{"bad filter", params("url", "http://127.0.0.1:5984", "dbname", "x", "filter", "nofilter"), "filter", false},
		{"query_params not an object", params("url", "http://127.0.0.1:5984", "dbname", "x", "query_params", 5), "query_params", false},
		{"query_params sets since", params("url", "http://127.0.0.1:5984", "dbname", "x", "query_params", map[string]any{"since": 1}), "query_params", false},
		{"include_docs not a bool", params("url", "http://127.0.0.1:5984", "dbname", "x", "include_docs", "yes"), "include_docs", false},
		{"since an object", params("url", "http://127.0.0.1:5984", "dbname", "x", "since", map[string]any{}), "since", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(c.params)
			if c.public {
				cfg.Egress = nil
			}
			_, err := feedtest.Provider(t, "couchdb/changes").Build(cfg)
			var pe *feeds.ParamError
			if !errors.As(err, &pe) || pe.Name != c.bad {
				t.Fatalf("got %v, want a *feeds.ParamError naming %q", err, c.bad)
			}
		})
	}
}

// storedEvents counts the events stored for trigger guest/name by the
// subject (document id) of each.
func storedEvents(t *testing.T, h *hub.Hub, name string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, msg := range feedrun.Stored(t, h, name) {
		e, err := hub.DecodeEvent(msg.Headers(), msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Subject()]++
	}
	return out
}

// TestThousandDocsAcrossRestart: 1,000 documents written to pouchdb-server
// while the Gust process following them stops and a new one starts on the
// same data are each stored as an event exactly once.
func TestThousandDocsAcrossRestart(t *testing.T) {
	pouch := upstreamtest.PouchDB(t)
	pouch.Do(t, "PUT", "/bulk", nil)
	dir := t.TempDir()
	h := feedrun.StartHub(t, dir)
	g := feedrun.Start(t, h)
	g.Create(t, "docs", "couchdb/changes", params("url", pouch.URL, "dbname", "bulk"))
	time.Sleep(time.Second) // the new instance asks for "now"
	var wg sync.WaitGroup
	writeBatch := func(from, to int) {
		docs := make([]map[string]any, 0, to-from)
		for i := from; i < to; i++ {
			docs = append(docs, map[string]any{"_id": fmt.Sprintf("doc-%04d", i), "i": i})
		}
		b, _ := json.Marshal(map[string]any{"docs": docs})
		pouch.Do(t, "POST", "/bulk/_bulk_docs", b)
	}
	for i := 0; i < 400; i += 50 {
		writeBatch(i, i+50)
	}
	feedrun.Eventually(t, 2*time.Minute, "100 events are stored", func() bool { return len(storedEvents(t, h, "docs")) >= 100 })
	// Stop this Gust while changes are still coming, keep writing while it
	// is down, then start another on the same data.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 400; i < 700; i += 50 {
			writeBatch(i, i+50)
		}
	}()
	g.Stop()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	h2 := feedrun.StartHub(t, dir)
	g2 := feedrun.Start(t, h2)
	for i := 700; i < 1000; i += 50 {
		writeBatch(i, i+50)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got := storedEvents(t, h2, "docs")
		if len(got) == 1000 {
			for id, n := range got {
				if n != 1 {
					t.Errorf("document %s stored %d times", id, n)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 1000 documents stored as events; status %v", len(got), g2.Status(t, "docs", "couchdb/changes"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUnreachableThenBack: a feed on a database that does not exist is
// created (its parameters are valid); READ shows the error while the feed
// retries; once the database exists, its changes arrive.
func TestUnreachableThenBack(t *testing.T) {
	pouch := upstreamtest.PouchDB(t)
	h := feedrun.StartHub(t, t.TempDir())
	g := feedrun.Start(t, h)
	g.Create(t, "later", "couchdb/changes", params("url", pouch.URL, "dbname", "later", "since", 0))
	read := func() map[string]any { return g.Status(t, "later", "couchdb/changes") }
	deadline := time.Now().Add(30 * time.Second)
	for {
		if msg, _ := read()["lastError"].(string); strings.Contains(msg, "no such database") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("READ shows no error for a missing database: %v", read())
		}
		time.Sleep(100 * time.Millisecond)
	}
	pouch.Do(t, "PUT", "/later", nil)
	put(t, pouch, "later", "first", map[string]any{})
	deadline = time.Now().Add(60 * time.Second)
	for len(storedEvents(t, h, "later")) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no event once the database exists; status %v", read())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
