package gustcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// TestCLIActivationTree shows, through the API, a trigger activation whose
// rule ran a sequence of two actions, as the engine and invoker record them.
func TestCLIActivationTree(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	id := func(c byte) string { return strings.Repeat("0", 31) + string(c) }
	start := time.Now().UnixMilli()
	line, _ := json.Marshal(map[string]any{"statusCode": 0, "success": true, "activationId": id('b'), "rule": "guest/r", "action": "guest/seq"})
	act := func(c byte, name, kind string, code int, logs ...string) *actions.Activation {
		ann := actions.KeyValues{}.Set("path", "guest/"+name).Set("kind", kind)
		if c == '1' {
			ann = ann.Set("initTime", 30)
		}
		return &actions.Activation{Namespace: "guest", Name: name, Version: "0.0.1", Subject: "guest", ActivationID: id(c),
			Start: start, End: start + 40, Duration: 40, Logs: logs, Annotations: ann, Response: actions.Response{StatusCode: code}}
	}
	for _, a := range []*actions.Activation{
		{Namespace: "guest", Name: "tick", Version: "0.0.1", Subject: "guest", ActivationID: id('a'), Start: start,
			Logs: []string{string(line)}, Annotations: actions.KeyValues{}.Set("path", "guest/tick")},
		act('b', "seq", actions.KindSequence, actions.StatusApplicationError, id('1'), id('2')),
		act('1', "one", "nodejs:20", actions.StatusSuccess, "stdout: one"),
		act('2', "two", "nodejs:20", actions.StatusApplicationError, "stderr: two failed"),
	} {
		if err := ts.activations.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	runSteps(t, ts.env(), []step{
		{name: "get --tree", args: []string{"activation", "get", id('a'), "--tree"}, stdout: `✓ trigger tick ` + id('a') + `
└─ ✓ rule guest/r → guest/seq
   └─ ✗ sequence seq ` + id('b') + ` 40ms application error
      ├─ ✓ action one ` + id('1') + ` 40ms cold
      │    stdout: one
      └─ ✗ action two ` + id('2') + ` 40ms warm application error
           stderr: two failed
`},
		{name: "get --tree --json", args: []string{"activation", "get", id('b'), "--tree", "--json"}, prefix: true, stdout: `{"kind":"sequence"`},
		{name: "get --tree of nothing", args: []string{"activation", "get", id('f'), "--tree"}, errMsg: "Unable to get the tree of activation '" + id('f') + "': The requested resource does not exist.", code: 148},
	})
}

// ansi matches the color sequences a painter adds.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestActivationRowColors(t *testing.T) {
	for _, a := range []actions.Activation{
		{Namespace: "guest", Name: "hello", Version: "0.0.1", ActivationID: strings.Repeat("a", 32), Duration: 12,
			Annotations: actions.KeyValues{}.Set("kind", "nodejs:20").Set("initTime", 3)},
		{Namespace: "guest", Name: "slow", Version: "0.0.1", ActivationID: strings.Repeat("b", 32), Duration: 12_000,
			StatusCode: actions.StatusApplicationError, Annotations: actions.KeyValues{}.Set("kind", "python:3")},
		{Namespace: "guest", Name: "hello", Version: "0.0.1", ActivationID: strings.Repeat("c", 32), Duration: 140,
			StatusCode: actions.StatusInternalError, Annotations: actions.KeyValues{}.Set("kind", "nodejs:20").Set(actions.NoContainerAnnotation, true)},
	} {
		plain, colored := activationRow(a, painter{}), activationRow(a, painter{on: true})
		if strings.Contains(plain, "\x1b") {
			t.Errorf("plain row has colors: %q", plain)
		}
		if got := ansi.ReplaceAllString(colored, ""); got != plain {
			t.Errorf("colored row without its colors\n%q\nis not the plain row\n%q", got, plain)
		}
		cold, none := a.Annotations.Has("initTime"), a.Annotations.IsTrue(actions.NoContainerAnnotation)
		if none && (strings.Contains(plain, "warm") || strings.Contains(plain, "cold") || !strings.Contains(plain, " -     140ms")) {
			t.Errorf("row of an activation without a container %q: want - for its start", plain)
		}
		for _, want := range []struct {
			on   bool
			part string
		}{
			{cold, colorYellow + "cold "}, {!cold && !none, colorGreen + "warm "},
			{a.StatusCode == 0, colorGreen + "success"}, {a.StatusCode != 0, colorRed + activationStatus[a.StatusCode]},
			{a.Duration < 100, colorDim + "12ms"}, {a.Duration >= 10_000, colorRed + "12s"},
		} {
			if want.on && !strings.Contains(colored, want.part) {
				t.Errorf("colored row %q lacks %q", colored, want.part)
			}
		}
	}
}

func TestWriteTree(t *testing.T) {
	tree := &actions.TreeNode{Kind: actions.NodeTrigger, Name: "tick", ActivationID: "t1", Success: true, Children: []*actions.TreeNode{
		{Kind: actions.NodeRule, Name: "r1", Action: "hello", Success: true, Children: []*actions.TreeNode{
			{Kind: actions.NodeAction, Name: "hello", ActivationID: "a1", Success: true, End: 1, Duration: 12, Cold: true, Logs: []string{"stdout: hi"}},
		}},
		{Kind: actions.NodeRule, Name: "r2", Action: "gone", Status: "application error", Error: "The requested resource does not exist."},
		{Kind: actions.NodeRule, Name: "r3", Action: "flaky", Success: true, Children: []*actions.TreeNode{
			{Kind: actions.NodeAction, Name: "flaky", ActivationID: "f1", Attempt: 1, Status: "action developer error", End: 1, Duration: 3},
			{Kind: actions.NodeAction, Name: "flaky", ActivationID: "f2", Attempt: 2, Success: true, End: 1, Duration: 4, Cold: true},
		}},
		{Kind: actions.NodeRule, Name: "r4", Action: "hello", Success: true, Children: []*actions.TreeNode{
			{Kind: actions.NodeAction, Name: "hello", ActivationID: "n1", Status: "whisk internal error", End: 1, Duration: 140, NoContainer: true},
		}},
	}}
	var b bytes.Buffer
	writeTree(&b, tree, painter{})
	want := `✓ trigger tick t1
├─ ✓ rule r1 → hello
│  └─ ✓ action hello a1 12ms cold
│       stdout: hi
├─ ✗ rule r2 → gone application error
│    The requested resource does not exist.
├─ ✓ rule r3 → flaky
│  ├─ ✗ action flaky attempt 1 f1 3ms warm action developer error
│  └─ ✓ action flaky attempt 2 f2 4ms cold
└─ ✓ rule r4 → hello
   └─ ✗ action hello n1 140ms whisk internal error
`
	if b.String() != want {
		t.Errorf("tree:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeTree(&b, tree, painter{on: true})
	if !strings.Contains(b.String(), colorRed+"✗"+colorReset) || !strings.Contains(b.String(), colorYellow+"cold"+colorReset) {
		t.Errorf("colored tree has no colors: %q", b.String())
	}
}

func TestUseColor(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	none := func(string) string { return "" }
	if useColor(w, none) {
		t.Error("a pipe is colored")
	}
	if useColor(&bytes.Buffer{}, none) {
		t.Error("a buffer is colored")
	}
	if f, err := os.Open(os.DevNull); err == nil {
		defer f.Close()
		if useColor(f, none) {
			t.Error("/dev/null is colored")
		}
	}
}
