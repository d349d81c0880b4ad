package gustcmd

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// webAction is a node action with the annotations `wsk action create
// --web true` (or raw) sends.
func webAction(code string, raw bool) map[string]any {
	a := nodeAction(code)
	a["annotations"] = webExport(raw)
	return a
}

func webExport(raw bool) []map[string]any {
	return []map[string]any{{"key": "web-export", "value": true}, {"key": "raw-http", "value": raw}, {"key": "final", "value": true}}
}

// webCall sends a request to a web action and returns its status, headers
// and body.
func (p *gustProcess) webCall(t *testing.T, method, path, contentType, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(p.base, "/api/v1")+"/api/v1/web/guest/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Timeout: 90 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestE2EWebActions(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/echo?overwrite=false", webAction(`function main(p) { return p; }`, false), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/raw?overwrite=false", webAction(`function main(p) { return { q: p.__ow_query, b: p.__ow_body }; }`, true), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/page?overwrite=false", webAction(`function main(p) {
  if (p.to) return { statusCode: 302, headers: { location: p.to } };
  if (p.png) return { headers: { 'Content-Type': 'image/png' }, body: p.png };
  if (p.teapot) return { error: { statusCode: 418, body: 'short and stout' } };
  return { headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Greeting': 'hi' }, body: '<h1>Hello, ' + p.name + '</h1>' };
}`, false), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/greet?overwrite=false", nodeAction(`function main(p) { return { name: p.first + ' ' + p.last }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/webseq?overwrite=false", map[string]any{
		"exec": map[string]any{"kind": "sequence", "components": []string{"/_/greet", "/_/page"}}, "annotations": webExport(false)}, nil)

	t.Run("JSON and form bodies become parameters", func(t *testing.T) {
		for _, tc := range []struct{ contentType, body string }{
			{"application/json", `{"name":"Ada","n":1}`},
			{"application/x-www-form-urlencoded", "name=Ada&n=1"},
		} {
			status, _, body := g.webCall(t, "POST", "default/echo.json/some/path?q=x", tc.contentType, tc.body)
			var p map[string]any
			if err := json.Unmarshal(body, &p); status != 200 || err != nil {
				t.Fatalf("%s: status %d: %s", tc.contentType, status, body)
			}
			if p["name"] != "Ada" || p["q"] != "x" || p["__ow_method"] != "post" || p["__ow_path"] != "/some/path" {
				t.Errorf("%s: parameters %s", tc.contentType, body)
			}
		}
	})
	t.Run("a binary body arrives as base64, raw actions get query and body", func(t *testing.T) {
		bin := "\x00\x01\xfe\xff"
		status, _, body := g.webCall(t, "PUT", "default/echo.json", "application/octet-stream", bin)
		if status != 200 || !bytes.Contains(body, []byte(`"__ow_body":"AAH+/w=="`)) {
			t.Fatalf("binary body: %d %s", status, body)
		}
		status, _, body = g.webCall(t, "POST", "default/raw.json?a=1&b=2", "text/plain", "plain words")
		if status != 200 || string(body) != `{"q":"a=1&b=2","b":"plain words"}` {
			t.Fatalf("raw: %d %s", status, body)
		}
	})
	t.Run("http: headers, cookies, redirect, binary", func(t *testing.T) {
		status, h, body := g.webCall(t, "GET", "default/page?name=Ada", "", "")
		if status != 200 || string(body) != "<h1>Hello, Ada</h1>" || h.Get("Content-Type") != "text/html; charset=UTF-8" ||
			strings.Join(h.Values("Set-Cookie"), ";") != "a=1;b=2" || h.Get("X-Greeting") != "hi" || h.Get("x-openwhisk-activation-id") == "" {
			t.Fatalf("page: %d %v %s", status, h, body)
		}
		status, h, _ = g.webCall(t, "GET", "default/page.http?to="+url.QueryEscape("https://example.org/next"), "", "")
		if status != 302 || h.Get("Location") != "https://example.org/next" {
			t.Fatalf("redirect: %d %v", status, h)
		}
		status, h, body = g.webCall(t, "GET", "default/page?png=iVBORw0KGgo=", "", "")
		if status != 200 || h.Get("Content-Type") != "image/png" || string(body) != "\x89PNG\r\n\x1a\n" {
			t.Fatalf("png: %d %v %q", status, h, body)
		}
		status, _, body = g.webCall(t, "GET", "default/page?teapot=1", "", "")
		if status != 418 || string(body) != "short and stout" {
			t.Fatalf("application error: %d %s", status, body)
		}
	})
	t.Run("a web sequence", func(t *testing.T) {
		status, _, body := g.webCall(t, "GET", "default/webseq.html?first=Ada&last=Lovelace", "", "")
		if status != 200 || string(body) != "<h1>Hello, Ada Lovelace</h1>" {
			t.Fatalf("sequence: %d %s", status, body)
		}
	})
	t.Run("an API route (wsk api create) reaches its action", func(t *testing.T) {
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/book?overwrite=false", webAction(`function main(p) { return { id: p.id, method: p.__ow_method }; }`, false), nil)
		apidoc := map[string]any{"apidoc": map[string]any{"namespace": "_", "apiName": "/library", "gatewayBasePath": "/library",
			"gatewayPath": "/books/{id}", "gatewayMethod": "GET", "id": "API:_:/library",
			"action": map[string]any{"name": "book", "namespace": "_", "backendMethod": "GET",
				"backendUrl": "https://" + strings.TrimPrefix(g.base, "http://") + "/web/_/default/book.json"}}}
		var created struct {
			GwAPIURL string `json:"gwApiUrl"`
		}
		g.mustCall(t, 200, "POST", "/web/whisk.system/apimgmt/createApi.http?responsetype=json", apidoc, &created)
		resp, err := http.Get(created.GwAPIURL + "/books/42")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != `{"id":"42","method":"get"}` {
			t.Fatalf("route: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if status, _, _ := g.webCall(t, "GET", "default/greet", "", ""); status != 404 {
			t.Errorf("an action that is not a web action: %d", status)
		}
		if status, _, _ := g.webCall(t, "GET", "default/echo.json?__ow_method=x", "", ""); status != 400 {
			t.Errorf("a reserved parameter: %d", status)
		}
		if status, _, body := g.webCall(t, "GET", "default/echo.html", "", ""); status != 400 || !strings.Contains(string(body), "Response is not valid 'text/html'.") {
			t.Errorf("a result that is no HTML: %d %s", status, body)
		}
	})
}
