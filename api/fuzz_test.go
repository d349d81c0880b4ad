package api_test

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

// fuzzPut feeds arbitrary bodies to PUT path through the real handler and
// checks that the server never panics, never answers 5xx, and answers every
// failure with an {"error", "code"} body.
func fuzzPut(f *testing.F, path string) {
	for _, b := range wireBodies {
		f.Add([]byte(b))
	}
	for _, b := range []string{``, `{}`, `[]`, `null`, `"x"`, `{"exec":null}`, `{"exec":{}}`,
		`{"exec":{"kind":"sequence","components":["/_/fuzz"]}}`, `{"exec":{"kind":"blackbox","image":"i","code":"QUJD"}}`,
		`{"limits":{"timeout":1e400,"memory":-1}}`, `{"parameters":[{"key":"k","value":{"a":[1,2,{}]}}]}`,
		`{"binding":{"namespace":"_","name":"mybinding"}}`, `{"binding":{}}`, `{"trigger":{"path":"_","name":"mytrigger"},"action":"hello"}`,
		`{"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}],"publish":true}`, `{"delAnnotations":["exec"]}`,
		"{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"\xff\xfe\"}}"} {
		f.Add([]byte(b))
	}
	e := newEnv(f)
	for _, setup := range []struct{ path, body string }{
		{"/api/v1/namespaces/_/actions/hello", bodyHello},
		{"/api/v1/namespaces/_/actions/hello2", bodyHello2},
		{"/api/v1/namespaces/_/packages/mypkg", bodyPackage},
		{"/api/v1/namespaces/_/packages/mybinding", bodyBinding},
		{"/api/v1/namespaces/_/triggers/mytrigger", bodyTrigger},
	} {
		e.must("PUT", setup.path, setup.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, body, e.serve(httptest.NewRequest("PUT", path, bytes.NewReader(body))))
	})
}

func FuzzActionPut(f *testing.F)  { fuzzPut(f, "/api/v1/namespaces/_/actions/fuzz?overwrite=true") }
func FuzzPackagePut(f *testing.F) { fuzzPut(f, "/api/v1/namespaces/_/packages/fuzz?overwrite=true") }
func FuzzTriggerPut(f *testing.F) { fuzzPut(f, "/api/v1/namespaces/_/triggers/fuzz?overwrite=true") }
func FuzzRulePut(f *testing.F)    { fuzzPut(f, "/api/v1/namespaces/_/rules/fuzz?overwrite=true") }

// FuzzPackageActionPut puts actions into a package, where bindings and
// missing packages come into play.
func FuzzPackageActionPut(f *testing.F) {
	fuzzPut(f, "/api/v1/namespaces/_/actions/mypkg/fuzz?overwrite=true")
}
