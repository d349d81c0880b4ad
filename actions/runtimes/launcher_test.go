package runtimes_test

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/runtimes/nodejs"
	"github.com/gusthub/gust/actions/runtimes/python"
)

// TestLauncherInitErrors: code that does not load says why in terms of the
// action's own code (line, column, the line with a caret; the frames in
// that code), with nothing of the launcher's internals.
func TestLauncherInitErrors(t *testing.T) {
	for _, tc := range []struct {
		name, interpreter, file string
		launcher                []byte
		code, want              string
	}{
		{name: "js syntax error", interpreter: "node", file: "index.js", launcher: nodejs.Launcher,
			code: "function main(params) {\n  const x = 1;\n  return { a: x +* 2 };\n}\n",
			want: "SyntaxError: Unexpected token '*' (line 3, column 18)\n  return { a: x +* 2 };\n                 ^"},
		{name: "js syntax error at the end", interpreter: "node", file: "index.js", launcher: nodejs.Launcher,
			code: "function main(params) {\n  return { a: 1 };\n",
			want: "SyntaxError: Unexpected end of input (at the end of the code, line 2: is a bracket or a quote left open?)"},
		{name: "js error at load", interpreter: "node", file: "index.js", launcher: nodejs.Launcher,
			code: "function main() { return {}; }\nconst y = notDefined + 1;\n",
			want: "ReferenceError: notDefined is not defined\n    at Object.<anonymous> (ACTION:2:11)"},
		{name: "js missing main", interpreter: "node", file: "index.js", launcher: nodejs.Launcher,
			code: "function mian() { return {}; }\n",
			want: "Error: Action entrypoint 'main' is not a function."},
		{name: "python syntax error", interpreter: "python3", file: "__main__.py", launcher: python.Launcher,
			code: "def main(args):\n    return {\"a\": 1 +* 2}\n",
			want: "SyntaxError: invalid syntax (line 2, column 21)\n    return {\"a\": 1 +* 2}\n                    ^"},
		{name: "python error at load", interpreter: "python3", file: "__main__.py", launcher: python.Launcher,
			code: "x = undefined_name + 1\ndef main(args):\n    return {}\n",
			want: "NameError: name 'undefined_name' is not defined\n  File \"ACTION\", line 1, in <module>\n    x = undefined_name + 1"},
		{name: "python missing main", interpreter: "python3", file: "__main__.py", launcher: python.Launcher,
			code: "def mian(args):\n    return {}\n",
			want: "Action entrypoint 'main' is not a function."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, err := exec.LookPath(tc.interpreter)
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is needed for Gust's runtime images: %v", tc.interpreter, err)
				}
				t.Skipf("no %s on this machine", tc.interpreter)
			}
			dir := t.TempDir()
			launcher, action := filepath.Join(dir, "launcher"), filepath.Join(dir, tc.file)
			if err := os.WriteFile(launcher, tc.launcher, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(action, []byte(tc.code), 0o644); err != nil {
				t.Fatal(err)
			}
			got, logs := launchOnce(t, bin, launcher, action)
			want := "Initialization has failed due to: " + strings.ReplaceAll(tc.want, "ACTION", action)
			if got != want {
				t.Errorf("init error:\n%s\nwant:\n%s", got, want)
			}
			if !strings.Contains(logs, strings.TrimPrefix(want, "Initialization has failed due to: ")) ||
				strings.Contains(logs, "launcher") || strings.Contains(logs, "node:internal") {
				t.Errorf("logs name the launcher or miss the error:\n%s", logs)
			}
		})
	}
}

// launchOnce starts the launcher on the action's code, as the proxy does
// before /init returns, and returns the error it answers on descriptor 3
// and what it wrote to stderr.
func launchOnce(t *testing.T, bin, launcher, action string) (errText, stderr string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(bin, launcher)
	cmd.Env = append(os.Environ(), "GUST_ACTION_PATH="+action, "GUST_ACTION_MAIN=main")
	cmd.ExtraFiles = []*os.File{w}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	var out []byte
	select {
	case out = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the launcher did not answer within a minute")
	}
	_ = cmd.Wait()
	var answer struct{ Error string }
	if err := json.Unmarshal(out, &answer); err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	return answer.Error, logs.String()
}
