package audit

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/exampletest"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// TestAudit runs the README: two orders written and one deleted in
// pouchdb-server make three audit documents, each once.
func TestAudit(t *testing.T) {
	g := exampletest.ServeNode(t, "--egress-allow", "loopback") // pouchdb-server is on loopback
	pouch := upstreamtest.PouchDB(t)
	pouch.Do(t, "PUT", "/orders", nil)
	pouch.Do(t, "PUT", "/audit", nil)
	g.Run(t, "action", "create", "audit", "audit.js", "-p", "auditUrl", pouch.URL+"/audit")
	g.Run(t, "trigger", "create", "orders", "--feed", "couchdb/changes", "-p", "url", pouch.URL, "-p", "dbname", "orders", "-p", "include_docs", "true")
	g.Run(t, "rule", "create", "audit-orders", "orders", "audit")
	time.Sleep(2 * time.Second) // the feed asks the database for "now"

	pouch.Do(t, "PUT", "/orders/o1", []byte(`{"item":"tea","qty":2}`))
	var put struct{ Rev string }
	if err := json.Unmarshal(pouch.Do(t, "PUT", "/orders/o2", []byte(`{"item":"cake","qty":1}`)), &put); err != nil {
		t.Fatal(err)
	}
	pouch.Do(t, "DELETE", "/orders/o2?rev="+put.Rev, nil)

	type audit struct {
		Doc     string          `json:"doc"`
		Deleted bool            `json:"deleted"`
		After   json.RawMessage `json:"after"`
	}
	var rows []audit
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var all struct {
			Rows []struct {
				Doc audit `json:"doc"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(pouch.Do(t, "GET", "/audit/_all_docs?include_docs=true", nil), &all); err != nil {
			t.Fatal(err)
		}
		rows = rows[:0]
		for _, r := range all.Rows {
			rows = append(rows, r.Doc)
		}
		if len(rows) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit documents in 2 minutes, want 3; activations:\n%s", len(rows), g.Run(t, "activation", "list"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	var got []string
	for _, r := range rows {
		s := r.Doc
		if r.Deleted {
			s += " deleted"
		} else if !strings.Contains(string(r.After), `"item"`) {
			t.Errorf("audit of %s has no document after the change: %s", r.Doc, r.After)
		}
		got = append(got, s)
	}
	sort.Strings(got)
	if strings.Join(got, ", ") != "o1, o2, o2 deleted" {
		t.Errorf("audit trail %v, want o1, o2, o2 deleted", got)
	}
}
