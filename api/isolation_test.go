package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/rules"
)

// isolationRow is what namespace other (A) gets from one route about
// namespace guest (B): path names B's entity, missing the same request for
// one B does not have (or a namespace that does not exist). Both answers
// must be the same, so that A learns nothing of what B has; want is their
// status. check, if set, looks further into the answer to path.
type isolationRow struct {
	method, path, missing, body string
	want                        int
	check                       func(t *testing.T, r response)
	// echo is the names of path and missing, which an error message may
	// repeat: that tells nothing.
	echo [2]string
}

// TestIsolation: with namespace other's key, no route of the API lets the
// caller read, change, invoke, fire, list or learn the existence of
// namespace guest's entities, activations, feeds, devices or events: it is
// answered 404 (not 403), exactly as for what guest does not have, except
// guest's published packages, which it may read. Every route the server
// serves needs a row, so that a new route cannot miss this test.
func TestIsolation(t *testing.T) {
	e := startEnvWith(t, t.TempDir(), func(e *env, cfg *api.Config) {
		withFeeds(t, e, cfg)
		ctx := context.Background()
		routes, err := api.OpenRoutes(ctx, e.hub.JetStream())
		if err != nil {
			t.Fatal(err)
		}
		devices, err := api.OpenDevices(ctx, e.hub.JetStream())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Routes, cfg.Devices, cfg.Activator = routes, devices, &scripted{}
		cfg.Pool, cfg.Outcomes = dispatch.NewPoolView(e.hub.Conn()), rules.NewOutcomes(e.hub.Conn())
	})
	for _, p := range []struct{ path, body string }{
		{"actions/act", nodeCode},
		{"packages/priv", `{}`},
		{"actions/priv/a", nodeCode},
		{"packages/pub", `{"publish":true}`},
		{"actions/pub/a", nodeCode},
		{"triggers/t", `{}`},
		{"rules/r", `{"trigger":"/guest/t","action":"/guest/act"}`},
		{"devices/d", ``},
	} {
		e.must("PUT", "/api/v1/namespaces/_/"+p.path, p.body)
	}
	e.webAction("getbook", "echo", "web-export", true)
	if r := e.guest("POST", apimgmt+"createApi.http?responsetype=json", createAPIBody("/library", "/books/{id}", "GET", "getbook", "json")); r.status != 200 {
		t.Fatalf("create guest's API: %d %s", r.status, r.body)
	}
	rec := &actions.Activation{Namespace: "guest", Name: "act", ActivationID: actions.NewActivationID(), Start: 1, End: 2,
		Response: actions.Response{Result: json.RawMessage(`{"secret":"guest's"}`)}}
	if err := e.activations.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	aid, missingID := rec.ActivationID, actions.NewActivationID()

	const b, nobody = "/api/v1/namespaces/guest/", "/api/v1/namespaces/nobody/"
	same := func(method, sub, missingSub, body string) isolationRow {
		return isolationRow{method: method, path: b + sub, missing: b + missingSub, body: body, want: http.StatusNotFound}
	}
	ns := func(method, sub, body string) isolationRow {
		return isolationRow{method: method, path: b + sub, missing: nobody + sub, body: body, want: http.StatusNotFound}
	}
	public := func(method, path string, want int) isolationRow {
		return isolationRow{method: method, path: path, missing: path, want: want}
	}
	rows := map[string][]isolationRow{
		"GET /api/v1":     {public("GET", "/api/v1", 200)},
		"GET /api/v1/{$}": {public("GET", "/api/v1/", 200)},
		"GET /{$}":        {public("GET", "/", 200)},
		"GET /console/":   {public("GET", "/console/", 200)},
		"GET /console":    {public("GET", "/console", 200)}, // the client follows the redirect
		"GET /api/v1/namespaces": {{method: "GET", path: "/api/v1/namespaces", missing: "/api/v1/namespaces", want: 200,
			check: func(t *testing.T, r response) {
				if string(r.body) != `["other"]` {
					t.Errorf("namespaces %s, want only the caller's", r.body)
				}
			}}},
		"GET /api/v1/namespaces/{$}":            {public("GET", "/api/v1/namespaces/", 200)},
		"PUT /api/v1/namespaces/{ns}":           {{method: "PUT", path: "/api/v1/namespaces/guest", missing: "/api/v1/namespaces/nobody", want: 403}}, // admins only
		"GET /api/v1/namespaces/{ns}/limits":    {ns("GET", "limits", "")},
		"PUT /api/v1/namespaces/{ns}/limits":    {{method: "PUT", path: b + "limits", missing: nobody + "limits", body: `{"firesPerMinute":1}`, want: 403}}, // admins only
		"GET /api/v1/namespaces/{ns}/retention": {ns("GET", "retention", "")},
		"PUT /api/v1/namespaces/{ns}/retention": {ns("PUT", "retention", `{"events":"72h"}`)},
		"GET /api/v1/namespaces/{ns}/actions":   {ns("GET", "actions", "")},
		"GET /api/v1/namespaces/{ns}/actions/{name...}": {same("GET", "actions/act", "actions/nope", ""), same("GET", "actions/priv/a", "actions/priv/nope", ""),
			same("GET", "actions/priv/", "actions/nope/", ""),
			{method: "GET", path: b + "actions/pub/a", missing: b + "actions/pub/a", want: 200}}, // published: readable
		"PUT /api/v1/namespaces/{ns}/actions/{name...}": {same("PUT", "actions/act?overwrite=true", "actions/nope?overwrite=true", nodeCode),
			same("PUT", "actions/pub/a?overwrite=true", "actions/pub/nope?overwrite=true", nodeCode)}, // published: read-only
		"DELETE /api/v1/namespaces/{ns}/actions/{name...}": {same("DELETE", "actions/act", "actions/nope", ""), same("DELETE", "actions/pub/a", "actions/pub/nope", "")},
		"POST /api/v1/namespaces/{ns}/actions/{name...}":   {same("POST", "actions/act?blocking=true", "actions/nope?blocking=true", `{}`), same("POST", "actions/priv/a", "actions/priv/nope", `{}`)},
		"GET /api/v1/namespaces/{ns}/packages": {{method: "GET", path: b + "packages", missing: b + "packages", want: 200,
			check: func(t *testing.T, r response) {
				if got := names(r.list(t)); !slices.Equal(got, []string{"pub"}) {
					t.Errorf("packages %v, want only the published [pub]", got)
				}
			}}},
		"GET /api/v1/namespaces/{ns}/packages/{name}": {same("GET", "packages/priv", "packages/nope", ""),
			{method: "GET", path: b + "packages/pub", missing: b + "packages/pub", want: 200}},
		"PUT /api/v1/namespaces/{ns}/packages/{name}":         {same("PUT", "packages/pub?overwrite=true", "packages/nope?overwrite=true", `{}`)},
		"DELETE /api/v1/namespaces/{ns}/packages/{name}":      {same("DELETE", "packages/pub", "packages/nope", ""), same("DELETE", "packages/priv", "packages/nope", "")},
		"GET /api/v1/namespaces/{ns}/triggers":                {ns("GET", "triggers", "")},
		"GET /api/v1/namespaces/{ns}/triggers/{name}":         {same("GET", "triggers/t", "triggers/nope", "")},
		"PUT /api/v1/namespaces/{ns}/triggers/{name}":         {same("PUT", "triggers/t?overwrite=true", "triggers/nope?overwrite=true", `{}`)},
		"DELETE /api/v1/namespaces/{ns}/triggers/{name}":      {same("DELETE", "triggers/t", "triggers/nope", "")},
		"POST /api/v1/namespaces/{ns}/triggers/{name}":        {same("POST", "triggers/t", "triggers/nope", `{}`)},
		"POST /api/v1/namespaces/{ns}/triggers/{name}/replay": {same("POST", "triggers/t/replay", "triggers/nope/replay", `{}`)},
		"GET /api/v1/namespaces/{ns}/rules":                   {ns("GET", "rules", "")},
		"GET /api/v1/namespaces/{ns}/rules/{name}":            {same("GET", "rules/r", "rules/nope", "")},
		"PUT /api/v1/namespaces/{ns}/rules/{name}":            {same("PUT", "rules/r?overwrite=true", "rules/nope?overwrite=true", `{"trigger":"/guest/t","action":"/guest/act"}`)},
		"POST /api/v1/namespaces/{ns}/rules/{name}":           {same("POST", "rules/r", "rules/nope", `{"status":"inactive"}`)},
		"DELETE /api/v1/namespaces/{ns}/rules/{name}":         {same("DELETE", "rules/r", "rules/nope", "")},
		"GET /api/v1/namespaces/{ns}/events":                  {ns("GET", "events", ""), same("GET", "events?trigger=t", "events?trigger=nope", "")},
		"GET /api/v1/namespaces/{ns}/pool":                    {ns("GET", "pool", "")},
		"GET /api/v1/cluster":                                 {public("GET", "/api/v1/cluster", 403)}, // admins only
		"POST /api/v1/namespaces/{ns}/activations/{id}/rerun": {same("POST", "activations/"+aid+"/rerun", "activations/"+missingID+"/rerun", `{}`),
			{method: "POST", path: "/api/v1/namespaces/_/activations/" + aid + "/rerun", missing: "/api/v1/namespaces/_/activations/" + missingID + "/rerun", body: `{}`, want: 404}},
		"GET /api/v1/runtimes/building":                 {public("GET", "/api/v1/runtimes/building", 503)}, // no invoker here
		"GET /api/v1/namespaces/{ns}/devices":           {ns("GET", "devices", "")},
		"GET /api/v1/namespaces/{ns}/devices/{name}":    {same("GET", "devices/d", "devices/nope", "")},
		"PUT /api/v1/namespaces/{ns}/devices/{name}":    {same("PUT", "devices/d?overwrite=true", "devices/nope?overwrite=true", "")},
		"DELETE /api/v1/namespaces/{ns}/devices/{name}": {same("DELETE", "devices/d", "devices/nope", "")},
		"GET /api/v1/namespaces/{ns}/activations":       {ns("GET", "activations", "")},
		"GET /api/v1/namespaces/{ns}/activations/{id}": {same("GET", "activations/"+aid, "activations/"+missingID, ""),
			// Its own namespace, with guest's activation id.
			{method: "GET", path: "/api/v1/namespaces/_/activations/" + aid, missing: "/api/v1/namespaces/_/activations/" + missingID, want: 404}},
		"GET /api/v1/namespaces/{ns}/activations/{id}/logs":   {same("GET", "activations/"+aid+"/logs", "activations/"+missingID+"/logs", "")},
		"GET /api/v1/namespaces/{ns}/activations/{id}/result": {same("GET", "activations/"+aid+"/result", "activations/"+missingID+"/result", "")},
		"GET /api/v1/namespaces/{ns}/activations/{id}/tree": {same("GET", "activations/"+aid+"/tree", "activations/"+missingID+"/tree", ""),
			{method: "GET", path: "/api/v1/namespaces/_/activations/" + aid + "/tree", missing: "/api/v1/namespaces/_/activations/" + missingID + "/tree", want: 404}},
		// Methods a collection does not take: 405, whoever has what.
		"/api/v1/namespaces/{ns}/actions":     {ns("POST", "actions", `{}`)},
		"/api/v1/namespaces/{ns}/packages":    {ns("POST", "packages", `{}`)},
		"/api/v1/namespaces/{ns}/triggers":    {ns("POST", "triggers", `{}`)},
		"/api/v1/namespaces/{ns}/rules":       {ns("POST", "rules", `{}`)},
		"/api/v1/namespaces/{ns}/activations": {ns("POST", "activations", `{}`)},
		// A feed's ingress checks its own token; the key is not one.
		"/api/v1/feeds/{ns}/{trigger}": {{method: "POST", path: "/api/v1/feeds/guest/t", missing: "/api/v1/feeds/guest/nope", body: `{}`, want: 404, echo: [2]string{"/t ", "/nope "}}},
		// Web actions and API routes are public when exported; act is not.
		"/api/v1/web/": {{method: "GET", path: "/api/v1/web/guest/default/act.json", missing: "/api/v1/web/guest/default/nope.json", want: 404},
			// wsk api: the caller's own APIs only.
			{method: "GET", path: apimgmt + "getApi.http?basepath=/library", missing: apimgmt + "getApi.http?basepath=/nope", want: 200,
				check: func(t *testing.T, r response) {
					if strings.Contains(string(r.body), "library") {
						t.Errorf("another namespace's API shows: %s", r.body)
					}
				}},
			{method: "DELETE", path: apimgmt + "deleteApi.http?basepath=/library", missing: apimgmt + "deleteApi.http?basepath=/nope", want: 404,
				echo: [2]string{"'/library'", "'/nope'"}}},
		"/api/": {{method: "GET", path: "/api/guest/books", missing: "/api/nobody/books", want: 404}},
		"/":     {public("GET", "/nothing", 404)},
	}
	for _, tc := range []struct{ pattern, method string }{
		{"/api/v1/namespaces/{ns}/actions", "POST"}, {"/api/v1/namespaces/{ns}/packages", "POST"},
		{"/api/v1/namespaces/{ns}/triggers", "POST"}, {"/api/v1/namespaces/{ns}/rules", "POST"},
		{"/api/v1/namespaces/{ns}/activations", "POST"},
	} {
		rows[tc.pattern][0].want = http.StatusMethodNotAllowed
	}

	for _, pattern := range e.handler.(*api.Server).Patterns() {
		rs, ok := rows[pattern]
		if !ok {
			t.Errorf("route %q has no row in the isolation table: add what another namespace gets from it", pattern)
			continue
		}
		for _, row := range rs {
			t.Run(row.method+" "+row.path, func(t *testing.T) {
				got := e.do(row.method, row.path, e.otherAuth, row.body)
				if got.status != row.want {
					t.Errorf("status %d, want %d: %s", got.status, row.want, got.body)
				}
				if row.want == http.StatusNotFound && row.echo[0] == "" && got.header.Get("Content-Type") == "application/json" {
					checkErrorBody(t, got, "The requested resource does not exist.")
				}
				if row.missing != row.path {
					miss := e.do(row.method, row.missing, e.otherAuth, row.body)
					if miss.status != got.status || strings.Replace(errorOf(miss), row.echo[1], row.echo[0], 1) != errorOf(got) {
						t.Errorf("what exists answers %d %s, what does not %d %s: the difference tells", got.status, got.body, miss.status, miss.body)
					}
				}
				if row.check != nil {
					row.check(t, got)
				}
			})
		}
	}
	// Nothing of guest's changed.
	for _, path := range []string{"actions/act", "actions/pub/a", "packages/pub", "packages/priv", "triggers/t", "rules/r", "devices/d", "activations/" + aid} {
		e.must("GET", "/api/v1/namespaces/_/"+path, "")
	}
	if r := e.web("GET", "/api/guest/library/books/1", ""); r.status != 200 {
		t.Errorf("guest's API route: %d %s", r.status, r.body)
	}
	if r := e.must("GET", "/api/v1/namespaces/_/rules/r", "").object(t); r["status"] != "active" {
		t.Errorf("guest's rule is %v", r["status"])
	}
}

// errorOf is the message of an error answer, "" for another answer.
func errorOf(r response) string {
	var m struct{ Error string }
	_ = json.Unmarshal(r.body, &m)
	return m.Error
}
