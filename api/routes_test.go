package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gusthub/gust/api"
)

// createAPIBody is the body of wsk's `api create BASE PATH VERB ACTION`
// (openwhisk-client-go ApiCreateRequest as the CLI's parseApi fills it):
// the backend URL is "https://" + the API host + the web action's path.
func createAPIBody(base, path, verb, action, responseType string) string {
	b, _ := json.Marshal(map[string]any{"apidoc": map[string]any{
		"namespace": "_", "apiName": base, "gatewayBasePath": base, "gatewayPath": path, "gatewayMethod": verb,
		"id": "API:_:" + base,
		"action": map[string]any{"name": action, "namespace": "_", "backendMethod": verb,
			"backendUrl": "https://http://127.0.0.1:3233/api/v1/web/_/default/" + action + "." + responseType,
			"authkey":    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:key"},
	}})
	return string(b)
}

const apimgmt = "/api/v1/web/whisk.system/apimgmt/"

func TestAPIRoutes(t *testing.T) {
	act := &scripted{}
	e := startEnvWith(t, t.TempDir(), func(e *env, c *api.Config) {
		routes, err := api.OpenRoutes(t.Context(), e.hub.JetStream())
		if err != nil {
			t.Fatal(err)
		}
		c.Activator, c.Routes = act, routes
	})
	e.webAction("getbook", "echo", "web-export", true)
	e.webAction("putbook", "echo", "web-export", true)
	e.webAction("plain", "echo")

	r := e.guest("POST", apimgmt+"createApi.http?responsetype=json&spaceguid=23bc46b1", createAPIBody("/library", "/books/{id}", "GET", "getbook", "json"))
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct {
		GwAPIURL string `json:"gwApiUrl"`
		APIDoc   struct {
			BasePath string                               `json:"basePath"`
			Paths    map[string]map[string]map[string]any `json:"paths"`
		} `json:"apidoc"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.GwAPIURL != e.srv.URL+"/api/guest/library" ||
		created.APIDoc.Paths["/books/{id}"]["get"]["operationId"] == nil || created.APIDoc.Paths["/books/{id}"]["get"]["x-openwhisk"] == nil {
		t.Fatalf("create answer %s", r.body)
	}
	e.must("POST", apimgmt+"createApi.http?responsetype=http", createAPIBody("/library", "/books/{id}", "PUT", "putbook", "http"))

	t.Run("a route runs its action with the path's parameters", func(t *testing.T) {
		r := e.web("GET", "/api/guest/library/books/42?x=1", "")
		p := r.object(t)
		if r.status != 200 || p["id"] != "42" || p["x"] != "1" || p["__ow_path"] != "/books/42" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("another method of the path", func(t *testing.T) {
		r := e.web("PUT", "/api/guest/library/books/7", `{"title":"Dune"}`, "Content-Type", "application/json")
		if r.status != 204 { // its response type is http, and the result has no body
			t.Fatalf("%d %s", r.status, r.body)
		}
		r = e.web("DELETE", "/api/guest/library/books/7", "")
		wantError(t, r, 405, "")
		if r.header.Get("Allow") != "GET, PUT" {
			t.Errorf("Allow %q", r.header.Get("Allow"))
		}
	})
	t.Run("unknown routes", func(t *testing.T) {
		for _, p := range []string{"/api/guest/library/books", "/api/guest/library/books/1/2", "/api/guest/nothing", "/api/other/library/books/1"} {
			wantError(t, e.web("GET", p, ""), 404, "")
		}
	})
	t.Run("a clash is 409", func(t *testing.T) {
		wantError(t, e.guest("POST", apimgmt+"createApi.http", createAPIBody("/library", "/books/{isbn}", "GET", "putbook", "json")), 409, "")
	})
	t.Run("an action that is missing or not a web action", func(t *testing.T) {
		const wsk, gust = "OpenWhisk-CLI/1.0 (2026-11-24T14:30:49.000+0000) linux amd64", "gust/dev"
		for _, tc := range []struct {
			action, agent string
			status        int
			msg           string
		}{
			{"plain", wsk, 400, `Action '/guest/plain' is not a web action. Issue 'wsk action update "plain" --web true' to convert the action to a web action.`},
			{"plain", gust, 400, "Action '/guest/plain' is not a web action. Issue 'gust action update plain --web true' to convert the action to a web action."},
			{"book", wsk, 404, "Unable to get action '/guest/book': The requested resource does not exist. Create it as a web action first: 'wsk action create book FILE --web true'."},
			{"book", gust, 404, "Unable to get action '/guest/book': The requested resource does not exist. Create it as a web action first: 'gust action create book FILE --web true'."},
		} {
			r := e.web("POST", apimgmt+"createApi.http", createAPIBody("/x", "/y", "GET", tc.action, "json"),
				"Authorization", guestAuth, "Content-Type", "application/json", "User-Agent", tc.agent)
			wantError(t, r, tc.status, tc.msg)
		}
	})
	t.Run("bad paths and verbs", func(t *testing.T) {
		wantError(t, e.guest("POST", apimgmt+"createApi.http", createAPIBody("library", "/y", "GET", "getbook", "json")), 400, "")
		wantError(t, e.guest("POST", apimgmt+"createApi.http", createAPIBody("/l", "/a b", "GET", "getbook", "json")), 400, "")
		wantError(t, e.guest("POST", apimgmt+"createApi.http", createAPIBody("/l", "/y", "TRACE", "getbook", "json")), 400, "")
	})
	t.Run("without a key", func(t *testing.T) {
		wantError(t, e.do("GET", apimgmt+"getApi.http", "", ""), 401, "")
	})
	t.Run("a swagger file", func(t *testing.T) {
		swagger := `{"swagger":"2.0","basePath":"/shop","info":{"title":"Shop","version":"1.0"},"paths":{"/items":{"get":{"operationId":"list","x-openwhisk":{"namespace":"_","package":"","action":"getbook","url":"https://h/api/v1/web/guest/default/getbook.json"}}}}}`
		b, _ := json.Marshal(map[string]any{"apidoc": map[string]any{"namespace": "_", "swagger": swagger}})
		e.must("POST", apimgmt+"createApi.http", string(b))
		if r := e.web("GET", "/api/guest/shop/items", ""); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("list, get and delete", func(t *testing.T) {
		var list struct {
			APIs []struct {
				ID    string `json:"id"`
				Value struct {
					APIDoc struct {
						BasePath string                    `json:"basePath"`
						Paths    map[string]map[string]any `json:"paths"`
					} `json:"apidoc"`
				} `json:"value"`
			} `json:"apis"`
		}
		_ = json.Unmarshal(e.must("GET", apimgmt+"getApi.http?limit=0&skip=0", "").body, &list)
		if len(list.APIs) != 2 || list.APIs[0].Value.APIDoc.BasePath != "/library" || len(list.APIs[0].Value.APIDoc.Paths["/books/{id}"]) != 2 {
			t.Fatalf("list %+v", list)
		}
		_ = json.Unmarshal(e.must("GET", apimgmt+"getApi.http?basepath=Shop", "").body, &list)
		if len(list.APIs) != 1 || list.APIs[0].Value.APIDoc.BasePath != "/shop" {
			t.Fatalf("get by name %+v", list)
		}
		e.must("DELETE", apimgmt+"deleteApi.http?basepath=/library&relpath=/books/{id}&operation=PUT", "")
		wantError(t, e.web("PUT", "/api/guest/library/books/7", ""), 405, "")
		e.must("DELETE", apimgmt+"deleteApi.http?basepath=/library", "")
		wantError(t, e.web("GET", "/api/guest/library/books/7", ""), 404, "")
		wantError(t, e.guest("DELETE", apimgmt+"deleteApi.http?basepath=/library", ""), 404, "API '/library' does not exist.")
	})
	if r := e.guest("GET", "/api/v1/nothing/here", ""); r.status != http.StatusNotFound {
		t.Errorf("an unknown /api/v1 path: %d", r.status)
	}
}
