package gustcmd

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// wireServer records the requests the CLI sends and answers each with the
// first canned answer whose key ("METHOD /path") prefixes the request's;
// unmatched requests get 200 {}.
type wireServer struct {
	mu       sync.Mutex
	requests []string
	answers  []wireAnswer
	url      string
}

type wireAnswer struct {
	route  string
	status int
	body   string
}

func newWireServer(t *testing.T, answers ...wireAnswer) *wireServer {
	w := &wireServer{answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		line := r.Method + " " + r.URL.RequestURI()
		if len(b) > 0 {
			line += " " + string(b)
		}
		if r.URL.Path != "/api/v1" && r.Header.Get("Authorization") != "Basic Z3Vlc3Q6a2V5" {
			line += " (no auth)"
		}
		w.mu.Lock()
		w.requests = append(w.requests, strings.TrimSuffix(line, "\n"))
		w.mu.Unlock()
		for _, a := range w.answers {
			if strings.HasPrefix(r.Method+" "+r.URL.RequestURI(), a.route) {
				if a.status == http.StatusNoContent {
					rw.WriteHeader(a.status)
					return
				}
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(a.status)
				io.WriteString(rw, a.body)
				return
			}
		}
		io.WriteString(rw, "{}")
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func (w *wireServer) env() func(string) string {
	m := map[string]string{envAPIHost: w.url, envAuth: "guest:key", "GUST_CONFIG": "/nonexistent/gust-config"}
	return func(k string) string { return m[k] }
}

const helloJS = `"function main(params) {\n  return { payload: 'Hello, ' + (params.name || 'World') + '!' };\n}\n"`

// TestCLIWire checks that each command sends exactly what wsk sends
// (wsk-wire.md), body bytes included.
func TestCLIWire(t *testing.T) {
	notFound := wireAnswer{"GET /api/v1/namespaces/_/actions/fresh", 404, `{"error":"The requested resource does not exist.","code":"c1"}`}
	ruleList := wireAnswer{"GET /api/v1/namespaces/_/rules?", 200, `[{"namespace":"guest","name":"myrule","publish":false}]`}
	for _, tc := range []struct {
		name    string
		args    []string
		answers []wireAnswer
		want    []string
	}{
		{"action create", []string{"action", "create", "hello", "testdata/cli/hello.js"}, nil, []string{
			`PUT /api/v1/namespaces/_/actions/hello?overwrite=false {"namespace":"_","name":"hello","exec":{"kind":"nodejs:default","code":` + helloJS + `}}`}},
		{"action create with flags", []string{"action", "create", "hello2", "testdata/cli/hello.js", "--kind", "nodejs:20", "-p", "greeting", "Hi", "-a", "description", "demo", "--memory", "128", "--timeout", "5000"}, nil, []string{
			`PUT /api/v1/namespaces/_/actions/hello2?overwrite=false {"namespace":"_","name":"hello2","exec":{"kind":"nodejs:20","code":` + helloJS + `},"annotations":[{"key":"description","value":"demo"}],"parameters":[{"key":"greeting","value":"Hi"}],"limits":{"timeout":5000,"memory":128}}`}},
		{"action create python", []string{"action", "create", "pyhello", "testdata/cli/hello.py"}, nil, []string{
			`PUT /api/v1/namespaces/_/actions/pyhello?overwrite=false {"namespace":"_","name":"pyhello","exec":{"kind":"python:default","code":"def main(args):\n    return {\"greeting\": \"Hello \" + args.get(\"name\", \"stranger\")}\n"}}`}},
		{"action update", []string{"action", "update", "hello", "testdata/cli/hello.js", "-p", "name", "Bob"}, nil, []string{
			`GET /api/v1/namespaces/_/actions/hello?code=false`,
			`PUT /api/v1/namespaces/_/actions/hello?overwrite=true {"namespace":"_","name":"hello","exec":{"kind":"nodejs:default","code":` + helloJS + `},"parameters":[{"key":"name","value":"Bob"}]}`}},
		{"action update of a missing action creates it", []string{"action", "update", "fresh", "testdata/cli/hello.js"}, []wireAnswer{notFound}, []string{
			`GET /api/v1/namespaces/_/actions/fresh?code=false`,
			`PUT /api/v1/namespaces/_/actions/fresh?overwrite=true {"namespace":"_","name":"fresh","exec":{"kind":"nodejs:default","code":` + helloJS + `}}`}},
		{"action create --web true", []string{"action", "create", "webhello", "testdata/cli/hello.js", "--web", "true"}, nil, []string{
			`PUT /api/v1/namespaces/_/actions/webhello?overwrite=false {"namespace":"_","name":"webhello","exec":{"kind":"nodejs:default","code":` + helloJS + `},"annotations":[{"key":"web-export","value":true},{"key":"raw-http","value":false},{"key":"final","value":true}]}`}},
		{"action create --sequence", []string{"action", "create", "seq", "--sequence", "hello,hello2"}, nil, []string{
			`PUT /api/v1/namespaces/_/actions/seq?overwrite=false {"namespace":"_","name":"seq","exec":{"kind":"sequence","components":["/_/hello","/_/hello2"]}}`}},
		{"action create in a package", []string{"action", "create", "mypkg/inpkg", "testdata/cli/hello.js"}, nil, []string{
			`PUT /api/v1/namespaces/_/actions/mypkg/inpkg?overwrite=false {"namespace":"_","name":"mypkg/inpkg","exec":{"kind":"nodejs:default","code":` + helloJS + `}}`}},
		{"action create --docker", []string{"action", "create", "img", "--docker", "me/img:1"}, nil, []string{
			`PUT /api/v1/namespaces/_/actions/img?overwrite=false {"namespace":"_","name":"img","exec":{"kind":"blackbox","image":"me/img:1"}}`}},
		{"action invoke --result", []string{"action", "invoke", "hello", "--result", "-p", "name", "World"}, nil, []string{
			`POST /api/v1/namespaces/_/actions/hello?blocking=true&result=true {"name":"World"}`}},
		{"action invoke --blocking", []string{"action", "invoke", "hello", "--blocking", "-p", "name", "World"}, nil, []string{
			`POST /api/v1/namespaces/_/actions/hello?blocking=true&result=false {"name":"World"}`}},
		{"action invoke", []string{"action", "invoke", "hello", "-p", "name", "World"}, nil, []string{
			`POST /api/v1/namespaces/_/actions/hello?blocking=false&result=false {"name":"World"}`}},
		{"action get", []string{"action", "get", "hello"}, nil, []string{`GET /api/v1/namespaces/_/actions/hello?code=false`}},
		{"action list", []string{"action", "list"}, []wireAnswer{{"GET", 200, "[]"}}, []string{`GET /api/v1/namespaces/_/actions?limit=30&skip=0`}},
		{"action list --limit --skip", []string{"action", "list", "--limit", "5", "--skip", "2"}, []wireAnswer{{"GET", 200, "[]"}}, []string{
			`GET /api/v1/namespaces/_/actions?limit=5&skip=2`}},
		{"action delete", []string{"action", "delete", "hello2"}, nil, []string{`DELETE /api/v1/namespaces/_/actions/hello2`}},
		{"trigger create", []string{"trigger", "create", "mytrigger", "-p", "source", "demo"}, nil, []string{
			`PUT /api/v1/namespaces/_/triggers/mytrigger?overwrite=false {"name":"mytrigger","parameters":[{"key":"source","value":"demo"}]}`}},
		{"trigger fire", []string{"trigger", "fire", "mytrigger", "-p", "temperature", "21"}, nil, []string{
			`POST /api/v1/namespaces/_/triggers/mytrigger {"temperature":21}`}},
		{"trigger fire without parameters", []string{"trigger", "fire", "norules"}, nil, []string{`POST /api/v1/namespaces/_/triggers/norules {}`}},
		{"trigger get", []string{"trigger", "get", "mytrigger"}, nil, []string{`GET /api/v1/namespaces/_/triggers/mytrigger`}},
		{"trigger list", []string{"trigger", "list"}, []wireAnswer{{"GET", 200, "[]"}}, []string{`GET /api/v1/namespaces/_/triggers?limit=30&skip=0`}},
		{"trigger delete", []string{"trigger", "delete", "mytrigger"}, nil, []string{
			`GET /api/v1/namespaces/_/triggers/mytrigger`, `DELETE /api/v1/namespaces/_/triggers/mytrigger`}},
		{"trigger create with feed", []string{"trigger", "create", "feedtrig", "--feed", "/whisk.system/alarms/alarm", "-p", "cron", "*/1 * * * *"}, nil, []string{
			`PUT /api/v1/namespaces/_/triggers/feedtrig?overwrite=false {"name":"feedtrig","annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]}`,
			`POST /api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=false {"authKey":"guest:key","cron":"*/1 * * * *","lifecycleEvent":"CREATE","triggerName":"/_/feedtrig"}`}},
		{"trigger delete with feed", []string{"trigger", "delete", "feedtrig"},
			[]wireAnswer{{"GET /api/v1/namespaces/_/triggers/feedtrig", 200, `{"namespace":"guest","name":"feedtrig","annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]}`}}, []string{
				`GET /api/v1/namespaces/_/triggers/feedtrig`,
				`POST /api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=false {"authKey":"guest:key","lifecycleEvent":"DELETE","triggerName":"/_/feedtrig"}`,
				`DELETE /api/v1/namespaces/_/triggers/feedtrig`}},
		{"rule create", []string{"rule", "create", "myrule", "mytrigger", "hello"}, nil, []string{
			`PUT /api/v1/namespaces/_/rules/myrule?overwrite=false {"name":"myrule","status":"","trigger":"/_/mytrigger","action":"/_/hello"}`}},
		{"rule list", []string{"rule", "list"}, []wireAnswer{ruleList}, []string{
			`GET /api/v1/namespaces/_/rules?limit=30&skip=0`, `GET /api/v1/namespaces/guest/rules/myrule`}},
		{"rule get", []string{"rule", "get", "myrule"}, nil, []string{`GET /api/v1/namespaces/_/rules/myrule`}},
		{"rule disable", []string{"rule", "disable", "myrule"}, nil, []string{
			`POST /api/v1/namespaces/_/rules/myrule {"status":"inactive","trigger":null,"action":null}`}},
		{"rule enable", []string{"rule", "enable", "myrule"}, nil, []string{
			`POST /api/v1/namespaces/_/rules/myrule {"status":"active","trigger":null,"action":null}`}},
		{"rule delete", []string{"rule", "delete", "myrule"}, nil, []string{`DELETE /api/v1/namespaces/_/rules/myrule`}},
		{"activation list", []string{"activation", "list"}, []wireAnswer{{"GET", 200, "[]"}}, []string{
			`GET /api/v1/namespaces/_/activations?limit=30&skip=0`}},
		{"activation list NAME --limit", []string{"activation", "list", "hello", "--limit", "5"}, []wireAnswer{{"GET", 200, "[]"}}, []string{
			`GET /api/v1/namespaces/_/activations?limit=5&name=hello&skip=0`}},
		{"activation get", []string{"activation", "get", "5a1b2c3d4e5f40718293a4b5c6d7e8f9"}, nil, []string{
			`GET /api/v1/namespaces/_/activations/5a1b2c3d4e5f40718293a4b5c6d7e8f9`}},
		{"activation get --last", []string{"activation", "get", "--last"},
			[]wireAnswer{{"GET /api/v1/namespaces/_/activations?", 200, `[{"activationId":"5a1b2c3d4e5f40718293a4b5c6d7e8f9"}]`}}, []string{
				`GET /api/v1/namespaces/_/activations?limit=1&skip=0`, `GET /api/v1/namespaces/_/activations/5a1b2c3d4e5f40718293a4b5c6d7e8f9`}},
		{"activation logs", []string{"activation", "logs", "5a1b2c3d4e5f40718293a4b5c6d7e8f9"}, nil, []string{
			`GET /api/v1/namespaces/_/activations/5a1b2c3d4e5f40718293a4b5c6d7e8f9/logs`}},
		{"activation result", []string{"activation", "result", "5a1b2c3d4e5f40718293a4b5c6d7e8f9"}, nil, []string{
			`GET /api/v1/namespaces/_/activations/5a1b2c3d4e5f40718293a4b5c6d7e8f9/result`}},
		{"package create", []string{"package", "create", "mypkg", "-p", "color", "red"}, nil, []string{
			`PUT /api/v1/namespaces/_/packages/mypkg?overwrite=false {"namespace":"_","name":"mypkg","parameters":[{"key":"color","value":"red"}]}`}},
		{"package bind", []string{"package", "bind", "mypkg", "mybinding", "-p", "color", "blue"}, nil, []string{
			`PUT /api/v1/namespaces/_/packages/mybinding?overwrite=false {"parameters":[{"key":"color","value":"blue"}],"binding":{"namespace":"_","name":"mypkg"}}`}},
		{"package get", []string{"package", "get", "mypkg"}, nil, []string{`GET /api/v1/namespaces/_/packages/mypkg`}},
		{"package list", []string{"package", "list"}, []wireAnswer{{"GET", 200, "[]"}}, []string{`GET /api/v1/namespaces/_/packages?limit=30&skip=0`}},
		{"list", []string{"list"}, []wireAnswer{ruleList, {"GET /api/v1/namespaces/_/", 200, "[]"}}, []string{
			`GET /api/v1/namespaces/_/actions?limit=0&skip=0`, `GET /api/v1/namespaces/_/packages?limit=0&skip=0`,
			`GET /api/v1/namespaces/_/triggers?limit=0&skip=0`, `GET /api/v1/namespaces/_/rules?limit=0&skip=0`,
			`GET /api/v1/namespaces/guest/rules/myrule`}},
		{"namespace list", []string{"namespace", "list"}, []wireAnswer{{"GET", 200, `["guest"]`}}, []string{`GET /api/v1/namespaces`}},
		{"property get", []string{"property", "get"}, []wireAnswer{{"GET /api/v1/namespaces", 200, `["guest"]`}}, []string{
			`GET /api/v1/namespaces`, `GET /api/v1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWireServer(t, tc.answers...)
			r := gust(t, w.env(), tc.args...)
			if r.err != nil {
				t.Fatalf("gust %s: %v", strings.Join(tc.args, " "), r.err)
			}
			if got, want := strings.Join(w.requests, "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("requests:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
