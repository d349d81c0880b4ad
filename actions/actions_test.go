package actions_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    actions.Name
		wantErr bool
	}{
		{in: "hello", want: actions.Name{Namespace: "guest", Name: "hello"}},
		{in: "pkg/hello", want: actions.Name{Namespace: "guest", Package: "pkg", Name: "hello"}},
		{in: "/ns/hello", want: actions.Name{Namespace: "ns", Name: "hello"}},
		{in: "/_/hello", want: actions.Name{Namespace: "guest", Name: "hello"}},
		{in: "/ns/pkg/hello", want: actions.Name{Namespace: "ns", Package: "pkg", Name: "hello"}},
		{in: "ns/pkg/hello", want: actions.Name{Namespace: "ns", Package: "pkg", Name: "hello"}},
		{in: "_/pkg/hello", want: actions.Name{Namespace: "guest", Package: "pkg", Name: "hello"}},
		{in: "/whisk.system/alarms/alarm", want: actions.Name{Namespace: "whisk.system", Package: "alarms", Name: "alarm"}},
		{in: "a b@c.d-e", want: actions.Name{Namespace: "guest", Name: "a b@c.d-e"}},
		{in: "/hello", wantErr: true},
		{in: "/a/b/c/d", wantErr: true},
		{in: "a/b/c/d", wantErr: true},
		{in: "", wantErr: true},
		{in: "/", wantErr: true},
		{in: "ns//hello", wantErr: true},
		{in: "/ns//hello", wantErr: true},
		{in: "pkg/", wantErr: true},
		{in: "/pkg/", wantErr: true},
		{in: "-hello", wantErr: true},
		{in: "hello ", wantErr: true},
		{in: "héllo", wantErr: true},
		{in: "/b$d/hello", wantErr: true},
		{in: strings.Repeat("x", 257), wantErr: true},
		{in: strings.Repeat("x", 256), want: actions.Name{Namespace: "guest", Name: strings.Repeat("x", 256)}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := actions.ParseName(tc.in, "guest")
			if tc.wantErr {
				var inv *actions.InvalidError
				if !errors.As(err, &inv) {
					t.Fatalf("ParseName(%q) = %v, %v; want an InvalidError", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseName(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			if again, err := actions.ParseName(got.String(), "other"); err != nil || again != got {
				t.Errorf("String %q does not parse back: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestNameForms(t *testing.T) {
	n := actions.Name{Namespace: "ns", Package: "pkg", Name: "a"}
	if n.String() != "/ns/pkg/a" || n.Path() != "ns/pkg" || n.Local() != "pkg/a" {
		t.Errorf("%q %q %q", n.String(), n.Path(), n.Local())
	}
	n.Package = ""
	if n.String() != "/ns/a" || n.Path() != "ns" || n.Local() != "a" {
		t.Errorf("%q %q %q", n.String(), n.Path(), n.Local())
	}
}

func TestBumpVersion(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.1": "0.0.2", "0.0.9": "0.0.10", "1.2.99": "1.2.100", "": "0.0.1", "1.2": "0.0.1", "a.b.c": "0.0.1", "1.2.3.4": "0.0.1",
	} {
		if got := actions.BumpVersion(in); got != want {
			t.Errorf("BumpVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func kv(k, v string) actions.KeyValue { return actions.KeyValue{Key: k, Value: json.RawMessage(v)} }

func TestKeyValues(t *testing.T) {
	kvs := actions.KeyValues{kv("a", `1`), kv("b", `"x"`), kv("f", `false`)}
	t.Run("Get and Has", func(t *testing.T) {
		if string(kvs.Get("a")) != "1" || kvs.Get("z") != nil || !kvs.Has("b") || kvs.Has("z") {
			t.Error("Get/Has")
		}
	})
	t.Run("IsTrue", func(t *testing.T) {
		for _, tc := range []struct {
			v    string
			want bool
		}{{`true`, true}, {`1`, true}, {`"yes"`, true}, {`{}`, true}, {`false`, false}, {`0`, false}, {`""`, false}, {`null`, false}, {`"false"`, false}, {` false `, false}} {
			if got := (actions.KeyValues{kv("k", tc.v)}).IsTrue("k"); got != tc.want {
				t.Errorf("IsTrue(%s) = %v", tc.v, got)
			}
		}
		if kvs.IsTrue("missing") {
			t.Error("missing key is true")
		}
	})
	t.Run("String", func(t *testing.T) {
		if s, ok := kvs.String("b"); !ok || s != "x" {
			t.Errorf("String(b) = %q, %v", s, ok)
		}
		if _, ok := kvs.String("a"); ok {
			t.Error("String of a number")
		}
	})
	t.Run("Set replaces in place without touching the original", func(t *testing.T) {
		out := kvs.Set("a", 2).Set("c", map[string]int{"x": 1})
		if string(out.Get("a")) != "2" || string(out.Get("c")) != `{"x":1}` || len(out) != 4 || out[0].Key != "a" {
			t.Errorf("Set: %v", out)
		}
		if string(kvs.Get("a")) != "1" {
			t.Error("Set changed its receiver")
		}
	})
	t.Run("Without", func(t *testing.T) {
		out := kvs.Without("a", "f", "zz")
		if len(out) != 1 || out[0].Key != "b" || len(kvs) != 3 {
			t.Errorf("Without: %v", out)
		}
	})
	t.Run("Merge", func(t *testing.T) {
		out := kvs.Merge(actions.KeyValues{kv("b", `"y"`), kv("c", `3`)})
		if len(out) != 4 || string(out.Get("b")) != `"y"` || out[1].Key != "b" || string(out.Get("c")) != "3" || string(kvs.Get("b")) != `"x"` {
			t.Errorf("Merge: %v", out)
		}
	})
	t.Run("Validate", func(t *testing.T) {
		for _, tc := range []struct {
			kvs actions.KeyValues
			ok  bool
		}{
			{kvs, true},
			{nil, true},
			{actions.KeyValues{kv("", `1`)}, false},
			{actions.KeyValues{kv("a", `1`), kv("a", `2`)}, false},
			{actions.KeyValues{{Key: "a"}}, false},
		} {
			if err := tc.kvs.Validate("parameters"); (err == nil) != tc.ok {
				t.Errorf("Validate(%v) = %v", tc.kvs, err)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		b, _ := json.Marshal(struct {
			P actions.KeyValues `json:"p"`
		}{})
		if string(b) != `{"p":[]}` {
			t.Errorf("nil list: %s", b)
		}
		var back actions.KeyValues
		if err := json.Unmarshal([]byte(`[{"key":"a","value":{"b":[1]},"init":true}]`), &back); err != nil || !back[0].Init || string(back.Get("a")) != `{"b":[1]}` {
			t.Errorf("decode: %v %v", back, err)
		}
		if obj := back.Object(); string(obj["a"]) != `{"b":[1]}` {
			t.Errorf("Object: %v", obj)
		}
	})
}

func TestExecJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, out string
	}{
		{"code", `{"kind":" NodeJS:20 ","code":"x","main":"m","binary":false}`, `{"kind":"nodejs:20","code":"x","binary":false,"main":"m"}`},
		{"jar is code", `{"kind":"java:8","jar":"UEsD"}`, `{"kind":"java:8","code":"UEsD","binary":false}`},
		{"blackbox", `{"kind":"blackbox","image":"u/i:1"}`, `{"kind":"blackbox","image":"u/i:1","binary":false}`},
		{"sequence", `{"kind":"sequence","components":["/a/b"]}`, `{"kind":"sequence","components":["/a/b"]}`},
		{"sequence without components", `{"kind":"sequence"}`, `{"kind":"sequence","components":[]}`},
		{"binary is read", `{"kind":"nodejs:20","code":"QUJD","binary":true}`, `{"kind":"nodejs:20","code":"QUJD","binary":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e actions.Exec
			if err := json.Unmarshal([]byte(tc.in), &e); err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(e)
			if err != nil || string(b) != tc.out {
				t.Fatalf("got %s, %v; want %s", b, err, tc.out)
			}
			var again actions.Exec
			if err := json.Unmarshal(b, &again); err != nil {
				t.Fatal(err)
			}
			if b2, _ := json.Marshal(again); string(b2) != tc.out {
				t.Errorf("second round trip %s", b2)
			}
		})
	}
	for _, bad := range []string{`{}`, `{"kind":1}`, `{"kind":"nodejs:20","code":1}`, `{"kind":"sequence","components":"a"}`, `[]`, `"nodejs"`} {
		var e actions.Exec
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("Unmarshal(%s) succeeded: %+v", bad, e)
		}
	}
}

func TestLimits(t *testing.T) {
	i := func(n int) *int { return &n }
	d := actions.DefaultLimits()
	if d != (actions.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1}) {
		t.Errorf("defaults %+v", d)
	}
	for _, tc := range []struct {
		name string
		put  *actions.LimitsPut
		ok   bool
	}{
		{"none", nil, true},
		{"min timeout", &actions.LimitsPut{Timeout: i(100)}, true},
		{"max timeout", &actions.LimitsPut{Timeout: i(300000)}, true},
		{"timeout low", &actions.LimitsPut{Timeout: i(99)}, false},
		{"timeout high", &actions.LimitsPut{Timeout: i(300001)}, false},
		{"min memory", &actions.LimitsPut{Memory: i(128)}, true},
		{"max memory", &actions.LimitsPut{Memory: i(512)}, true},
		{"memory low", &actions.LimitsPut{Memory: i(127)}, false},
		{"memory high", &actions.LimitsPut{Memory: i(513)}, false},
		{"no logs", &actions.LimitsPut{Logs: i(0)}, true},
		{"max logs", &actions.LimitsPut{Logs: i(10)}, true},
		{"logs low", &actions.LimitsPut{Logs: i(-1)}, false},
		{"logs high", &actions.LimitsPut{Logs: i(11)}, false},
		{"min concurrency", &actions.LimitsPut{Concurrency: i(1)}, true},
		{"max concurrency", &actions.LimitsPut{Concurrency: i(500)}, true},
		{"concurrency low", &actions.LimitsPut{Concurrency: i(0)}, false},
		{"concurrency high", &actions.LimitsPut{Concurrency: i(501)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.put.Apply(d)
			if (err == nil) != tc.ok {
				t.Fatalf("Apply = %+v, %v", got, err)
			}
			if tc.ok && tc.put != nil && tc.put.Memory != nil && got.Memory != *tc.put.Memory {
				t.Errorf("memory %d", got.Memory)
			}
			if tc.ok && (tc.put == nil || tc.put.Timeout == nil) && got.Timeout != d.Timeout {
				t.Errorf("unset timeout changed to %d", got.Timeout)
			}
		})
	}
}

func TestIsBinaryCode(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"UEsDBBQAAAAI", true},
		{"QUJD", true},
		{"QUI=", true},
		{"QQ==", true},
		{"  QUJD\n", true},
		{"", false},
		{"QUJ", false},
		{"Q===", false},
		{"function main() {}", false},
		{"QUJD!", false},
		{"abcd efgh", false},
	} {
		if got := actions.IsBinaryCode(tc.code); got != tc.want {
			t.Errorf("IsBinaryCode(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestActionPutApply(t *testing.T) {
	m := actions.DefaultManifest()
	now := time.UnixMilli(1000)
	n := actions.Name{Namespace: "guest", Package: "p", Name: "a"}
	var put actions.ActionPut
	if err := json.Unmarshal([]byte(`{"exec":{"kind":"nodejs:default","code":"UEsDBA=="},"annotations":[{"key":"exec","value":"lie"}]}`), &put); err != nil {
		t.Fatal(err)
	}
	a, err := put.Apply(nil, n, m, now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Namespace != "guest/p" || a.Name != "a" || a.Version != "0.0.1" || a.Updated != 1000 || !a.Exec.Binary || a.Exec.Kind != "nodejs:20" {
		t.Errorf("created %+v", a)
	}
	if s, _ := a.Annotations.String("exec"); s != "nodejs:20" || a.Annotations.IsTrue("provide-api-key") || !a.Annotations.Has("provide-api-key") {
		t.Errorf("annotations %s", mustJSON(a.Annotations))
	}
	var upd actions.ActionPut
	_ = json.Unmarshal([]byte(`{"delAnnotations":["provide-api-key"]}`), &upd)
	b, err := upd.Apply(&a, n, m, time.UnixMilli(2000))
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != "0.0.2" || b.Annotations.Has("provide-api-key") || b.Exec.Code != "UEsDBA==" || b.Updated != 2000 {
		t.Errorf("updated %+v", b)
	}
	var noExec actions.ActionPut
	if _, err := noExec.Apply(nil, n, m, now); err == nil {
		t.Error("a new action without exec was accepted")
	}
}

// TestBinaryCodeIsAZipUnlessNative: an interpreter's binary code must be
// a zip, which the proxy extracts; other bytes it would read as source.
func TestBinaryCodeIsAZipUnlessNative(t *testing.T) {
	m := actions.DefaultManifest()
	n := actions.Name{Namespace: "guest", Name: "a"}
	random := "3q2+7wABAgMEBQYHCAkKCwwNDg8=" // 0xdeadbeef, 0x00, 0x01, ...
	for _, tc := range []struct {
		kind, code string
		ok         bool
	}{
		{"nodejs:20", "UEsDBBQAAAAI", true},
		{"python:3", "UEsDBBQAAAAI", true},
		{"nodejs:20", random, false},
		{"python:3", random, false},
		{"nodejs:20", "QUJD", false}, // shorter than a zip's header
		{"native", random, true},
		{"nodejs:20", "UEsDBBQA\nAAAI\n", true},          // wrapped in lines, as base64(1) writes
		{"nodejs:20", "3q2+7wAB\r\nAgMEBQYH\r\n", false}, // and not a zip
		{"nodejs:20", "function main() { return {}; }", true},
	} {
		put := actions.ActionPut{Exec: &actions.Exec{Kind: tc.kind, Code: tc.code}}
		a, err := put.Apply(nil, n, m, time.UnixMilli(1000))
		if (err == nil) != tc.ok {
			t.Errorf("%s code %q: %v", tc.kind, tc.code, err)
		}
		if err == nil && a.Exec.Binary != (tc.code != "function main() { return {}; }") {
			t.Errorf("%s code %q: binary %v", tc.kind, tc.code, a.Exec.Binary)
		}
		if err != nil && !strings.Contains(err.Error(), "not a zip archive") {
			t.Errorf("%s code %q: %v, which does not say it is not a zip", tc.kind, tc.code, err)
		}
	}
}

func TestManifest(t *testing.T) {
	m := actions.DefaultManifest()
	for _, tc := range []struct {
		kind, want string
		ok         bool
	}{
		{"nodejs:default", "nodejs:20", true},
		{" Python:Default ", "python:3", true},
		{"nodejs:20", "nodejs:20", true},
		{"native", "native", true},
		{"nodejs:6", "", false},
		{"python", "", false},
		{"cobol:default", "", false},
		{"", "", false},
	} {
		r, err := m.Resolve(tc.kind)
		if (err == nil) != tc.ok || r.Kind != tc.want {
			t.Errorf("Resolve(%q) = %q, %v", tc.kind, r.Kind, err)
		}
	}
	if got := m.KindForFile("hello.JS"); got != "nodejs:default" {
		t.Errorf("KindForFile = %q", got)
	}
	if got := m.KindForFile("hello.txt"); got != "" {
		t.Errorf("KindForFile = %q", got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
