package gustcmd

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
)

func TestWriteTree(t *testing.T) {
	tree := &actions.TreeNode{Kind: actions.NodeTrigger, Name: "tick", ActivationID: "t1", Success: true, Children: []*actions.TreeNode{
		{Kind: actions.NodeRule, Name: "r1", Action: "hello", Success: true, Children: []*actions.TreeNode{
			{Kind: actions.NodeAction, Name: "hello", ActivationID: "a1", Success: true, End: 1, Duration: 12, Cold: true, Logs: []string{"stdout: hi"}},
		}},
		{Kind: actions.NodeRule, Name: "r2", Action: "gone", Status: "application error", Error: "The requested resource does not exist."},
	}}
	var b bytes.Buffer
	writeTree(&b, tree, painter{})
	want := `✓ trigger tick t1
├─ ✓ rule r1 → hello
│  └─ ✓ action hello a1 12ms cold
│         stdout: hi
└─ ✗ rule r2 → gone application error
       The requested resource does not exist.
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
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !useColor(tty, none) {
			t.Error("a terminal is not colored")
		}
		if useColor(tty, func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] }) {
			t.Error("NO_COLOR is ignored")
		}
	}
}
