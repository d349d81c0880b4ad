package gustcmd

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
)

func TestCLIAPI(t *testing.T) {
	ts := newTestServer(t)
	env := ts.env()
	gust(t, env, "action", "create", "book", "testdata/cli/hello.js", "--web", "true").check(t, "ok: created action book\n", "", 0)
	gust(t, env, "action", "create", "plain", "testdata/cli/hello.js").check(t, "ok: created action plain\n", "", 0)
	gust(t, env, "action", "create", "sec", "testdata/cli/hello.js", "--web", "true", "--web-secure", "s3cret").check(t, "ok: created action sec\n", "", 0)
	gust(t, env, "action", "update", "book", "--web-secure", "true").check(t, "ok: updated action book\n", "", 0)
	for name, want := range map[string]string{"sec": `"s3cret"`, "book": `"[A-Z2-7]{26}"`} {
		a, _, err := ts.actions.GetAction(t.Context(), actions.Name{Namespace: "guest", Name: name}, false)
		if err != nil || !regexp.MustCompile("^"+want+"$").Match(a.Annotations.Get("require-whisk-auth")) || !a.Annotations.IsTrue("web-export") {
			t.Fatalf("%s: require-whisk-auth %s, want %s (%v)", name, a.Annotations.Get("require-whisk-auth"), want, err)
		}
	}
	gust(t, env, "action", "update", "book", "--web-secure", "false").check(t, "ok: updated action book\n", "", 0)

	gust(t, env, "api", "create", "/library", "/books/{id}", "get", "book").
		check(t, "ok: created API /library/books/{id} GET for action book\n"+ts.apiHost+"/api/guest/library/books/{id}\n", "", 0)
	r := gust(t, env, "api", "create", "/library", "/books/{isbn}", "get", "plain")
	r.check(t, "", "Unable to create API route GET /library/books/{isbn}", 400&0xff)
	if !strings.Contains(r.message(), "Action '/guest/plain' is not a web action. Issue 'gust action update plain --web true'") {
		t.Errorf("message %q, want that plain is not a web action, and the gust command that makes it one", r.message())
	}
	gust(t, env, "api", "create", "/library", "/books/{isbn}", "get", "nosuch").check(t, "",
		"Unable to create API route GET /library/books/{isbn}: Unable to get action '/guest/nosuch': The requested resource does not exist. "+
			"Create it as a web action first: 'gust action create nosuch FILE --web true'.", 404&0xff)
	gust(t, env, "api", "create", "/library", "/books/{isbn}", "get", "book", "--response-type", "html").
		check(t, "", "already exists for action /guest/book", 409&0xff)
	gust(t, env, "api", "create", "/library", "/books", "get").check(t, "", "api create needs BASE_PATH PATH VERB ACTION", exitUsage)

	swagger := filepath.Join(t.TempDir(), "shop.json")
	if err := os.WriteFile(swagger, []byte(`{"swagger":"2.0","basePath":"/shop","info":{"title":"Shop","version":"1"},
		"paths":{"/items":{"post":{"operationId":"add","x-openwhisk":{"namespace":"_","package":"","action":"book","url":""}}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	gust(t, env, "api", "create", "--config-file", swagger).check(t, "ok: created API /shop\n"+
		routeLine("Action", "Verb", "API Name", "URL")+routeLine("/guest/book", "post", "Shop", ts.apiHost+"/api/guest/shop/items"), "", 0)

	gust(t, env, "api", "list").check(t, "ok: APIs\n"+routeLine("Action", "Verb", "API Name", "URL")+
		routeLine("/guest/book", "get", "/library", ts.apiHost+"/api/guest/library/books/{id}")+
		routeLine("/guest/book", "post", "Shop", ts.apiHost+"/api/guest/shop/items"), "", 0)
	r = gust(t, env, "api", "get", "/library")
	if r.err != nil || !strings.Contains(r.stdout, `"basePath": "/library"`) || !strings.Contains(r.stdout, `"x-openwhisk"`) {
		t.Fatalf("api get: %q %v", r.stdout, r.err)
	}
	gust(t, env, "api", "delete", "/library").check(t, "ok: deleted API /library\n", "", 0)
	gust(t, env, "api", "delete", "/library").check(t, "", "API '/library' does not exist.", 404&0xff)
	gust(t, env, "api", "get", "/library").check(t, "", "API '/library' does not exist", exitGeneral)
}

func routeLine(action, verb, name, url string) string {
	return pad30(action) + " " + pad7(verb) + " " + pad20(name) + " " + url + "\n"
}

func pad30(s string) string { return s + strings.Repeat(" ", max(0, 30-len(s))) }
func pad7(s string) string  { return s + strings.Repeat(" ", max(0, 7-len(s))) }
func pad20(s string) string { return s + strings.Repeat(" ", max(0, 20-len(s))) }
