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
		name, code, want string
		rt               launcherRuntime
	}{
		{name: "js syntax error", rt: nodeRuntime,
			code: "function main(params) {\n  const x = 1;\n  return { a: x +* 2 };\n}\n",
			want: "SyntaxError: Unexpected token '*' (line 3, column 18)\n  return { a: x +* 2 };\n                 ^"},
		{name: "js syntax error at the end", rt: nodeRuntime,
			code: "function main(params) {\n  return { a: 1 };\n",
			want: "SyntaxError: Unexpected end of input (at the end of the code, line 2: is a bracket or a quote left open?)"},
		{name: "js error at load", rt: nodeRuntime,
			code: "function main() { return {}; }\nconst y = notDefined + 1;\n",
			want: "ReferenceError: notDefined is not defined\n    at Object.<anonymous> (ACTION:2:11)"},
		{name: "js missing main", rt: nodeRuntime,
			code: "function mian() { return {}; }\n",
			want: "Error: Action entrypoint 'main' is not a function."},
		{name: "python syntax error", rt: pythonRuntime,
			code: "def main(args):\n    return {\"a\": 1 +* 2}\n",
			want: "SyntaxError: invalid syntax (line 2, column 21)\n    return {\"a\": 1 +* 2}\n                    ^"},
		{name: "python error at load", rt: pythonRuntime,
			code: "x = undefined_name + 1\ndef main(args):\n    return {}\n",
			want: "NameError: name 'undefined_name' is not defined\n  File \"ACTION\", line 1, in <module>\n    x = undefined_name + 1"},
		{name: "python missing main", rt: pythonRuntime,
			code: "def mian(args):\n    return {}\n",
			want: "Action entrypoint 'main' is not a function."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, launcher, action := launcherFiles(t, tc.rt, tc.code)
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

// launcherRuntime is a runtime's launcher, the interpreter it runs on and
// the file it loads the action's code from.
type launcherRuntime struct {
	interpreter, file string
	launcher          []byte
}

var (
	nodeRuntime   = launcherRuntime{interpreter: "node", file: "index.js", launcher: nodejs.Launcher}
	pythonRuntime = launcherRuntime{interpreter: "python3", file: "__main__.py", launcher: python.Launcher}
)

// launcherFiles finds rt's interpreter (the test is skipped without it,
// and fails in CI) and writes its launcher and the action's code.
func launcherFiles(t *testing.T, rt launcherRuntime, code string) (bin, launcher, action string) {
	t.Helper()
	bin, err := exec.LookPath(rt.interpreter)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed for Gust's runtime images: %v", rt.interpreter, err)
		}
		t.Skipf("no %s on this machine", rt.interpreter)
	}
	dir := t.TempDir()
	launcher, action = filepath.Join(dir, "launcher"), filepath.Join(dir, rt.file)
	if err := os.WriteFile(launcher, rt.launcher, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(action, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, launcher, action
}

// launcherCmd is the launcher on the action's code, as the proxy runs it:
// its answers (descriptor 3) come on answers, which the test closes, and
// its stderr goes to logs. Start it with startLauncher.
func launcherCmd(t *testing.T, bin, launcher, action string) (cmd *exec.Cmd, answers *os.File, logs *strings.Builder) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd = exec.Command(bin, launcher)
	cmd.Env = append(os.Environ(), "GUST_ACTION_PATH="+action, "GUST_ACTION_MAIN=main")
	cmd.ExtraFiles = []*os.File{w}
	logs = &strings.Builder{}
	cmd.Stderr = logs
	return cmd, r, logs
}

// startLauncher starts cmd and closes its copy of the answers' write end.
func startLauncher(cmd *exec.Cmd) error {
	err := cmd.Start()
	cmd.ExtraFiles[0].Close()
	return err
}

// launchOnce starts the launcher on the action's code, as the proxy does
// before /init returns, and returns the error it answers on descriptor 3
// and what it wrote to stderr.
func launchOnce(t *testing.T, bin, launcher, action string) (errText, stderr string) {
	t.Helper()
	cmd, r, logs := launcherCmd(t, bin, launcher, action)
	if err := startLauncher(cmd); err != nil {
		t.Fatal(err)
	}
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

// TestLauncherRunErrorLogs: an error the action throws is logged with the
// frames in the action's code only, none of the launcher's or node's.
func TestLauncherRunErrorLogs(t *testing.T) {
	for _, tc := range []struct {
		name, code, want string
		rt               launcherRuntime
	}{
		{name: "nodejs", rt: nodeRuntime,
			code: "function main(p) {\n  throw new Error('boom');\n}\n",
			want: "Error: boom\n    at main (ACTION:2:9)\n"},
		{name: "python", rt: pythonRuntime,
			code: "def main(args):\n    raise ValueError('boom')\n",
			want: "Traceback (most recent call last):\n  File \"ACTION\", line 2, in main\n    raise ValueError('boom')\nValueError: boom\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, launcher, action := launcherFiles(t, tc.rt, tc.code)
			if got, want := runOnce(t, bin, launcher, action), strings.ReplaceAll(tc.want, "ACTION", action); got != want {
				t.Errorf("logs:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// runOnce starts the launcher on the action's code, runs it once and
// returns what it wrote to stderr.
func runOnce(t *testing.T, bin, launcher, action string) string {
	t.Helper()
	cmd, r, logs := launcherCmd(t, bin, launcher, action)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := startLauncher(cmd); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	replies := json.NewDecoder(r)
	var ready map[string]any
	var reply json.RawMessage
	if err := replies.Decode(&ready); err != nil || ready["ok"] != true {
		t.Fatalf("init answer %v: %v (logs %s)", ready, err, logs.String())
	}
	if _, err := io.WriteString(stdin, `{"__gust_run":"1","value":{}}`+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := replies.Decode(&reply); err != nil {
		t.Fatalf("run answer: %v (logs %s)", err, logs.String())
	}
	stdin.Close()
	_ = cmd.Wait()
	return logs.String()
}
