package api_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/gusthub/gust/actions"
)

// recordStart is the start of the first test record; records start a
// second apart. It lies in the past, as every real record's start does.
const recordStart = 1700000000000

// putRecords writes activation records of namespace ns straight to the
// store, oldest first, for the entity paths given ("hello", "pkg/act").
func putRecords(t *testing.T, e *env, ns string, paths ...string) []string {
	t.Helper()
	ids := make([]string, len(paths))
	for i, p := range paths {
		ids[i] = fmt.Sprintf("%.8s%024x", hex.EncodeToString([]byte(ns)), i)
		start := int64(recordStart + i*1000)
		a := &actions.Activation{
			Namespace: ns, Name: p, Version: "0.0.1", Subject: ns, ActivationID: ids[i],
			Start: start, End: start + 5, Duration: 5,
			Response: actions.Response{StatusCode: i % 4, Result: json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`)},
			Logs:     []string{"2024-01-01T00:00:00.000000000Z stdout: line " + strconv.Itoa(i)},
			Annotations: actions.KeyValues{}.
				Set("path", ns+"/"+p).
				Set("kind", "nodejs:20").
				Set("limits", actions.DefaultLimits()).
				Set("waitTime", 3),
		}
		if err := e.activations.Put(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func activationIDs(items []map[string]any) []string { return field(items, "activationId") }

func TestActivations(t *testing.T) {
	e := newEnv(t)
	ids := putRecords(t, e, "guest", "hello", "hello", "pkg/act", "other", "hello")
	putRecords(t, e, "other", "hello")
	newestFirst := slices.Clone(ids)
	slices.Reverse(newestFirst)

	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"all, newest first", "?limit=30&skip=0", newestFirst},
		{"no parameters", "", newestFirst},
		{"limit 0 means the maximum", "?limit=0", newestFirst},
		{"get --last", "?limit=1&skip=0", ids[4:5]},
		{"skip", "?skip=3", []string{ids[1], ids[0]}},
		{"skip and limit", "?skip=1&limit=2", []string{ids[3], ids[2]}},
		{"skip past the end", "?skip=10", []string{}},
		{"by name", "?limit=5&name=hello&skip=0", []string{ids[4], ids[1], ids[0]}},
		{"by package name", "?name=pkg/act", []string{ids[2]}},
		{"by unknown name", "?name=nothing", []string{}},
		{"since", "?since=" + strconv.Itoa(recordStart+2000), []string{ids[4], ids[3], ids[2]}},
		{"upto", "?upto=" + strconv.Itoa(recordStart+1000), []string{ids[1], ids[0]}},
		{"since and upto", "?since=" + strconv.Itoa(recordStart+1000) + "&upto=" + strconv.Itoa(recordStart+3000), []string{ids[3], ids[2], ids[1]}},
		{"name and since", "?name=hello&since=" + strconv.Itoa(recordStart+500), []string{ids[4], ids[1]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := e.must("GET", "/api/v1/namespaces/_/activations"+tc.query, "").list(t)
			if got := activationIDs(l); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for _, a := range l {
				if _, ok := a["response"]; ok {
					t.Errorf("summary has a response: %v", a)
				}
				if _, ok := a["logs"]; ok {
					t.Errorf("summary has logs: %v", a)
				}
			}
		})
	}
	t.Run("summary shape", func(t *testing.T) {
		golden(t, "activation_list", e.must("GET", "/api/v1/namespaces/_/activations?limit=2", "").body)
	})
	t.Run("docs gives full records", func(t *testing.T) {
		l := e.must("GET", "/api/v1/namespaces/_/activations?docs=true&limit=1", "").list(t)
		if len(l) != 1 || l[0]["response"] == nil || l[0]["logs"] == nil {
			t.Errorf("docs list %v", l)
		}
	})
	for _, tc := range []struct{ query, want string }{
		{"?count=true", `{"activations":5}`},
		{"?count=true&name=hello", `{"activations":3}`},
		{"?count=true&since=" + strconv.Itoa(recordStart+3000), `{"activations":2}`},
	} {
		t.Run("count "+tc.query, func(t *testing.T) {
			if got := string(e.must("GET", "/api/v1/namespaces/_/activations"+tc.query, "").body); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("get", func(t *testing.T) {
		golden(t, "activation_get", e.must("GET", "/api/v1/namespaces/_/activations/"+ids[1], "").body)
	})
	t.Run("logs", func(t *testing.T) {
		if got := string(e.must("GET", "/api/v1/namespaces/_/activations/"+ids[1]+"/logs", "").body); got != `{"logs":["2024-01-01T00:00:00.000000000Z stdout: line 1"]}` {
			t.Errorf("logs %s", got)
		}
	})
	t.Run("result", func(t *testing.T) {
		for i, want := range []string{
			`{"result":{"n":0},"size":7,"status":"success","success":true}`,
			`{"result":{"n":1},"size":7,"status":"application error","success":false}`,
			`{"result":{"n":2},"size":7,"status":"action developer error","success":false}`,
			`{"result":{"n":3},"size":7,"status":"whisk internal error","success":false}`,
		} {
			if got := string(e.must("GET", "/api/v1/namespaces/_/activations/"+ids[i]+"/result", "").body); got != want {
				t.Errorf("result of %d: %s, want %s", i, got, want)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		otherID := fmt.Sprintf("%.8s%024x", hex.EncodeToString([]byte("other")), 0)
		for _, tc := range []struct {
			name, path string
			status     int
			msg        string
		}{
			{"missing", "/api/v1/namespaces/_/activations/5a1b2c3d4e5f40718293a4b5c6d7e8f9", 404, "The requested resource does not exist."},
			{"missing logs", "/api/v1/namespaces/_/activations/5a1b2c3d4e5f40718293a4b5c6d7e8f9/logs", 404, "The requested resource does not exist."},
			{"missing result", "/api/v1/namespaces/_/activations/5a1b2c3d4e5f40718293a4b5c6d7e8f9/result", 404, "The requested resource does not exist."},
			{"another namespace's record", "/api/v1/namespaces/_/activations/" + otherID, 404, "The requested resource does not exist."},
			{"bad id", "/api/v1/namespaces/_/activations/xyz", 400, "The activation id is not valid: xyz"},
			{"bad id, right length", "/api/v1/namespaces/_/activations/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 400, ""},
			{"docs with count", "/api/v1/namespaces/_/activations?docs=true&count=true", 400, "The parameter 'docs' is not permitted with 'count'."},
			{"bad since", "/api/v1/namespaces/_/activations?since=yesterday", 400, "Parameter is not a valid value for epoch seconds: yesterday"},
			{"negative upto", "/api/v1/namespaces/_/activations?upto=-1", 400, "Parameter is not a valid value for epoch seconds: -1"},
			{"bad name", "/api/v1/namespaces/_/activations?name=a/b/c", 400, "Parameter may be a 'simple' name or 'package-name/simple' name: a/b/c"},
			{"limit too large", "/api/v1/namespaces/_/activations?limit=201", 400, "The value '201' is not in the range of 0 to 200 for activations."},
			{"limit not a number", "/api/v1/namespaces/_/activations?limit=ten", 400, "The value 'ten' is not an integer for activations."},
			{"negative skip", "/api/v1/namespaces/_/activations?skip=-1", 400, "The value '-1' is not greater than or equal to 0 for activations."},
			{"bad docs", "/api/v1/namespaces/_/activations?docs=yes", 400, "The value 'yes' of parameter 'docs' is not a boolean."},
			{"another namespace", "/api/v1/namespaces/other/activations", 404, "The requested resource does not exist."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, e.guest("GET", tc.path, ""), tc.status, tc.msg)
			})
		}
	})
	t.Run("other namespace sees only its own", func(t *testing.T) {
		r := e.do("GET", "/api/v1/namespaces/_/activations", e.otherAuth, "")
		if got := activationIDs(r.list(t)); len(got) != 1 {
			t.Errorf("other's activations %v", got)
		}
	})
}
