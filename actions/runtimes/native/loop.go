package native

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// SourceName is the file name the action proxy gives to a native action's
// code that is not a zip: the executable itself (or a script with a #! line).
const SourceName = "exec"

// maxLine bounds one request line, the /run body.
const maxLine = 64 << 20

// Loop is the ActionLoop language process of a native action: it writes
// {"ok":true} on results once exe is a runnable file (or {"error":...} and
// returns an error), then for each request line read from in runs exe with
// the request's "value" as its argument and the request's other string
// fields as __OW_<KEY> environment variables over environ, copies all but
// the last line of its stdout to stdout, its stderr to stderr, and writes
// the last line on results. It returns nil when in ends.
func Loop(ctx context.Context, exe string, in io.Reader, results, stdout, stderr io.Writer, environ []string) error {
	if err := checkExecutable(exe); err != nil {
		msg := "Initialization has failed due to: " + err.Error()
		if werr := writeJSON(results, map[string]string{"error": msg}); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	if err := writeJSON(results, map[string]bool{"ok": true}); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		result := runOnce(ctx, exe, sc.Bytes(), stdout, stderr, environ)
		if _, err := results.Write(append(result, '\n')); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	return nil
}

func checkExecutable(exe string) error {
	fi, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("the action has no executable: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", exe)
	}
	return nil
}

// runOnce runs one activation and returns its result line, without newline.
func runOnce(ctx context.Context, exe string, line []byte, stdout, stderr io.Writer, environ []string) []byte {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(line, &req); err != nil {
		return errorLine("The request is not valid JSON: " + err.Error())
	}
	env := append([]string(nil), environ...)
	for k, raw := range req {
		var s string
		if k == "value" || json.Unmarshal(raw, &s) != nil {
			continue
		}
		env = append(env, "__OW_"+strings.ToUpper(k)+"="+s)
	}
	value := req["value"]
	if len(value) == 0 {
		value = json.RawMessage("{}")
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, string(value))
	cmd.Env = env
	cmd.Stdout = &out
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return errorLine("The action could not be started: " + err.Error())
		}
	}
	text := strings.TrimRight(out.String(), "\n")
	logs, last := "", text
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		logs, last = text[:i+1], text[i+1:]
	}
	if logs != "" {
		// A failed write to the container's log stream must not fail
		// the activation.
		_, _ = io.WriteString(stdout, logs)
	}
	return []byte(strings.TrimRight(last, "\r"))
}

func errorLine(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
