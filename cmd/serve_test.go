package gustcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/syncbuf"
)

func TestServeRejectsANegativeProcs(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"gust", "serve", "--data-dir", t.TempDir(), "--procs", "-1"},
		func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--procs -1: use a positive number") {
		t.Fatalf("gust serve --procs -1: %v, want an error naming --procs", err)
	}
}

func TestServeRejectsABadEgressAllow(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{{"--egress-allow", "intranet"}, {}} {
		env := func(k string) string {
			if k == "GUST_EGRESS_ALLOW" {
				return "10.0.0.0/33"
			}
			return ""
		}
		err := run(context.Background(), append([]string{"gust", "serve", "--data-dir", t.TempDir()}, args...), env, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "--egress-allow") {
			t.Errorf("gust serve %v: %v, want an error naming --egress-allow", args, err)
		}
	}
}

// TestServeSetsProcs: serve runs Go code on as many threads as --procs
// says, says so in its ready line, and gives the value back when it stops.
func TestServeSetsProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	want := before + 1
	g := startGust(t, t.TempDir(), "--sandbox", "process", "--procs", strconv.Itoa(want))
	if got := runtime.GOMAXPROCS(0); got != want {
		t.Errorf("GOMAXPROCS while serving = %d, want %d", got, want)
	}
	deadline := time.Now().Add(20 * time.Second) // the API answers before serve logs that it is ready
	for !strings.Contains(g.logs.String(), "gust ready") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if logs := g.logs.String(); !strings.Contains(logs, `procs="`+strconv.Itoa(want)+` (--procs)"`) {
		t.Errorf("ready line does not name the procs:\n%s", logs)
	}
	g.stop(t)
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after serve = %d, want %d again", got, before)
	}
}

// TestServeResolvesARelativeDataDir: a relative --data-dir is made
// absolute before anything uses it. Docker took the relative sockets dir
// for a volume name, and every action failed to start.
func TestServeResolvesARelativeDataDir(t *testing.T) {
	requireEngine(t)
	hello, err := filepath.Abs(filepath.Join("testdata", "cli", "hello.js"))
	if err != nil {
		t.Fatal(err)
	}
	builtGust(t) // built from the module, before the test leaves it
	cwd := t.TempDir()
	t.Chdir(cwd)
	dir := filepath.Join(cwd, "s1")
	g := startGustEnv(t, "s1", map[string]string{"GUST_CONFIG": filepath.Join(dir, dataDirConfig)})
	if props, _ := readProps(filepath.Join(dir, dataDirConfig)); props[propDataDir] != dir {
		t.Errorf("CLI config names data dir %q, want %q", props[propDataDir], dir)
	}
	if logs := g.logs.String(); !strings.Contains(logs, "data_dir="+dir+" ") {
		t.Errorf("ready line does not name data dir %s:\n%s", dir, logs)
	}
	cfg := map[string]string{"GUST_CONFIG": filepath.Join(dir, dataDirConfig)}
	getenv := func(k string) string { return cfg[k] }
	gust(t, getenv, "action", "create", "hello", hello).check(t, "ok: created action hello\n", "", 0)
	r := gust(t, getenv, "action", "invoke", "hello", "-r", "-p", "name", "Ada")
	if r.err != nil || !strings.Contains(r.stdout, "Hello, Ada") {
		t.Errorf("invoke with a relative data dir: %q, %v\n%s", r.stdout, r.err, g.logs.String())
	}
}

// TestServeLeavesTheCLIConfigOfAnotherServer: serve writes the user's CLI
// config only when there is none or it names serve's data dir, so a second
// server never takes the CLI away from the first.
func TestServeLeavesTheCLIConfigOfAnotherServer(t *testing.T) {
	userConfig := filepath.Join(t.TempDir(), "config")
	env := func() map[string]string { return map[string]string{"GUST_CONFIG": userConfig} }
	dirA, dirB := t.TempDir(), t.TempDir()

	// No config yet: the first server writes it, naming its data dir.
	a := startGustEnv(t, dirA, env(), "--sandbox", "process")
	props, err := readProps(userConfig)
	if err != nil {
		t.Fatal(err)
	}
	if props[propAPIHost]+"/api/v1" != a.base || props[propDataDir] != dirA || props[propAuth] == "" {
		t.Fatalf("config after the first server = %v, want its API host %s and data dir %s", props, a.base, dirA)
	}
	written, _ := os.ReadFile(userConfig)

	// A second server on another data dir leaves it, and says how to use it.
	b := startGustEnv(t, dirB, env(), "--sandbox", "process")
	if got, _ := os.ReadFile(userConfig); string(got) != string(written) {
		t.Errorf("the second server rewrote the CLI config:\n%s\nwas:\n%s", got, written)
	}
	hint := `point_cli_here="export GUST_CONFIG=` + filepath.Join(dirB, dataDirConfig) + `"`
	if logs := b.logs.String(); !strings.Contains(logs, hint) || !strings.Contains(logs, "config="+userConfig) {
		t.Errorf("the second server's log does not say how to point the CLI at it (%s):\n%s", hint, logs)
	}
	own := map[string]string{"GUST_CONFIG": filepath.Join(dirB, dataDirConfig)}
	r := gust(t, func(k string) string { return own[k] }, "property", "get", "--apihost")
	if want := "whisk API host\t\t" + strings.TrimSuffix(b.base, "/api/v1") + "\n"; r.stdout != want || r.err != nil {
		t.Errorf("CLI with the hinted config: %q, %v; want %q", r.stdout, r.err, want)
	}
	b.stop(t)
	user := map[string]string{"GUST_CONFIG": userConfig}
	gust(t, func(k string) string { return user[k] }, "namespace", "list").check(t, "namespaces\nguest\n", "", 0)

	// The first server again, on another port: its own config follows it.
	a.stop(t)
	a = startGustEnv(t, dirA, env(), "--sandbox", "process")
	if props, _ := readProps(userConfig); props[propAPIHost]+"/api/v1" != a.base {
		t.Errorf("config after a restart of its server names %s, want %s", props[propAPIHost], a.base)
	}

	// A config the user set by hand is theirs.
	gust(t, func(k string) string { return user[k] }, "property", "set", "--apihost", "http://127.0.0.1:1").check(t,
		"ok: whisk API host set to http://127.0.0.1:1\n", "", 0)
	a.stop(t)
	startGustEnv(t, dirA, env(), "--sandbox", "process")
	if props, _ := readProps(userConfig); props[propAPIHost] != "http://127.0.0.1:1" {
		t.Errorf("serve rewrote a config the user set: API host %s", props[propAPIHost])
	}
}

// TestServeRefusesADataDirInUse: a second serve on a data dir in use
// refuses with the first one's pid before it opens anything in it, and
// the running server's data and socket are untouched.
func TestServeRefusesADataDirInUse(t *testing.T) {
	dir := t.TempDir()
	g := startGust(t, dir, "--sandbox", "process")
	cfg := map[string]string{"GUST_CONFIG": filepath.Join(dir, dataDirConfig)}
	getenv := func(k string) string { return cfg[k] }
	hello := filepath.Join("testdata", "cli", "hello.js")
	gust(t, getenv, "action", "create", "hello", hello).check(t, "ok: created action hello\n", "", 0)
	sock := filepath.Join(dir, "api", "api.sock")
	before := settledDir(t, dir)
	sockBefore, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}

	want := "data dir " + dir + " is in use by gust serve (pid " + strconv.Itoa(os.Getpid()) + ")"
	// In this process, as the tests run serve...
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a serve that does not refuse stops
	defer cancel()
	err = run(ctx, []string{"gust", "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--sandbox", "process"},
		getenv, &out, &out)
	if err == nil || err.Error() != want {
		t.Errorf("second serve in this process: %v, want %q", err, want)
	}
	if out.Len() > 0 {
		t.Errorf("second serve logged before it refused:\n%s", out.String())
	}
	// ... and as a user would, from another process.
	cmd := exec.CommandContext(ctx, builtGust(t), "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--sandbox", "process")
	cmd.Env = append(os.Environ(), "GUST_CONFIG="+filepath.Join(dir, dataDirConfig))
	stdout, err := cmd.CombinedOutput()
	if err == nil || string(stdout) != "error: "+want+"\n" {
		t.Errorf("second gust serve: %v, output %q; want exit 1 with %q", err, stdout, "error: "+want)
	}

	if after := snapshotDir(t, dir); !maps.Equal(after, before) {
		t.Errorf("the data dir changed while the second serve ran:\nbefore %v\nafter  %v", before, after)
	}
	if sockAfter, err := os.Stat(sock); err != nil || !os.SameFile(sockBefore, sockAfter) {
		t.Errorf("the API socket was replaced (%v)", err)
	}
	r := gust(t, getenv, "action", "invoke", "hello", "-r", "-p", "name", "Ada")
	if r.err != nil || !strings.Contains(r.stdout, "Hello, Ada") {
		t.Errorf("invoke on the first server after the refusal: %q, %v", r.stdout, r.err)
	}
	g.stop(t)
	if logs := g.logs.String(); strings.Contains(logs, "outdated") || strings.Contains(logs, "errored") {
		t.Errorf("the first server's log shows its store disturbed:\n%s", logs)
	}
}

// settledDir is snapshotDir once two snapshots half a second apart agree:
// the running server has flushed what it was writing.
func settledDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	last := snapshotDir(t, dir)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		next := snapshotDir(t, dir)
		if maps.Equal(next, last) {
			return next
		}
		last = next
	}
	t.Fatalf("the data dir kept changing for 30s: %v", last)
	return nil
}

// snapshotDir maps each file under dir to its size, modification time and
// mode.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files[path] = fmt.Sprint(info.Size(), info.ModTime().UnixNano(), info.Mode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestServeEndsWhenAComponentFails: when the rule engine's consumer of the
// events stream is deleted under it, the engine stops, and so does
// `gust serve`, with the reason, instead of going on saying it is ready.
func TestServeEndsWhenAComponentFails(t *testing.T) {
	natsAddr := freeAddr(t)
	g := startGust(t, t.TempDir(), "--sandbox", "process", "--nats-listen", natsAddr)
	js := hubtest.Connect(t, "nats://"+natsAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		err := js.DeleteConsumer(ctx, hub.EventsStream, hub.RulesConsumer)
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) || ctx.Err() != nil { // the engine creates it as it starts
			t.Fatalf("delete the rule engine's consumer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-g.done:
		g.done <- nil // for the rig's stop
		if err == nil || !strings.Contains(err.Error(), "rule engine") || !errors.Is(err, jetstream.ErrConsumerDeleted) {
			t.Fatalf("gust serve returned %v, want the rule engine's failure (consumer deleted)\n%s", err, g.logs.String())
		}
		t.Log(err)
	case <-time.After(60 * time.Second):
		t.Fatalf("gust serve still runs 60 s after its rule engine lost its consumer\n%s", g.logs.String())
	}
}

// TestServeRejectsABadEnvironmentValue: a GUST_* variable the flag cannot
// take is an error that names it, not a silent default.
func TestServeRejectsABadEnvironmentValue(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"GUST_INVOKER_MEMORY": "2g", "HOME": t.TempDir()}
	err := run(context.Background(), []string{"gust", "serve", "--data-dir", t.TempDir()},
		func(k string) string { return env[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "GUST_INVOKER_MEMORY=2g") || !strings.Contains(err.Error(), "--invoker-memory") {
		t.Fatalf("gust serve with GUST_INVOKER_MEMORY=2g: %v, want an error naming the variable and its flag", err)
	}
}

// TestServeRejectsBadInvokerFlags: invoker flags out of range are refused
// before anything starts, naming the flag; they used to be taken silently
// (--invoker-memory -5 served with 2048 MB) or, for --sandbox, only once
// the hub had started.
func TestServeRejectsBadInvokerFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--invoker-memory", "-5"}, {"--invoker-memory", "0"}, {"--invoker-cpus", "-1"}, {"--stem-cells", "-1"},
		{"--pause-grace", "-1s"}, {"--idle-ttl", "-1m"}, {"--sandbox", "lxc"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			// A flag taken silently serves until ctx ends: bounded.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, append([]string{"gust", "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--sandbox", "process"}, args...),
				func(string) string { return "" }, &out, &out)
			if err == nil || !strings.Contains(err.Error(), args[0]+" ") || !strings.Contains(err.Error(), ": use ") {
				t.Errorf("gust serve %v: %v, want an error naming %s", args, err, args[0])
			}
			if strings.Contains(out.String(), "gust ready") {
				t.Errorf("gust serve %v started:\n%s", args, out.String())
			}
		})
	}
}

// TestServeEndsEventStreamsAtShutdown: `gust serve` stopping (SIGTERM ends
// its context) ends an open `gust events tail` stream at once, and the
// tail says why. It used to wait out the API's 10 s shutdown deadline
// ("API shutdown" err="context deadline exceeded"), then cut the stream,
// which the tail reported as an unexpected EOF.
func TestServeEndsEventStreamsAtShutdown(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	g := startGust(t, dir, "--sandbox", "process")
	cfg := map[string]string{"GUST_CONFIG": filepath.Join(dir, dataDirConfig), "HOME": dir}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &syncbuf.Buffer{}
	tailed := make(chan error, 1)
	go func() {
		tailed <- run(ctx, []string{"gust", "events", "tail"}, func(k string) string { return cfg[k] }, io.Discard, stderr)
	}()
	eventually(t, "the stream", func() bool { return strings.Contains(stderr.String(), "Waiting for events") })

	began := time.Now()
	g.stop(t)
	if took := time.Since(began); took > 5*time.Second { // 1 s or less, 10 s and more with the stream left open
		t.Errorf("gust serve took %v to stop with an event stream open", took)
	}
	if logs := g.logs.String(); strings.Contains(logs, "API shutdown") {
		t.Errorf("the API's shutdown waited for the stream:\n%s", logs)
	}
	eventually(t, "the tail's notice", func() bool { return strings.Contains(stderr.String(), "the server is shutting down") })
	cancel()
	if err := <-tailed; err != nil {
		t.Errorf("tail: %v\n%s", err, stderr.String())
	}
}

// TestServeStartupEnds: a signal while serve starts (its context ends)
// stops it with no error and a line that says so; it used to fail with
// the error of whichever step the signal cut short ("open bucket
// gust_identities: context canceled"), exit status 1. A step that fails
// on its own still fails serve.
func TestServeStartupEnds(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name     string
		signaled bool
		listen   string
		wantErr  string // "": none
	}{
		{name: "a signal stops it cleanly", signaled: true, listen: "127.0.0.1:0"},
		{name: "a failing step fails it", listen: busy.Addr().String(), wantErr: "listen on " + busy.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := map[string]string{"GUST_CONFIG": filepath.Join(dir, dataDirConfig), "HOME": dir}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a serve that starts stops
			defer cancel()
			if tc.signaled {
				cancel()
			}
			var logs syncbuf.Buffer
			err := run(ctx, []string{"gust", "serve", "--data-dir", dir, "--listen", tc.listen, "--sandbox", "process"},
				func(k string) string { return cfg[k] }, &logs, &logs)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("gust serve: %v, want no error\n%s", err, logs.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("gust serve: %v, want an error with %q\n%s", err, tc.wantErr, logs.String())
			}
			if said := strings.Contains(logs.String(), "gust stopped during startup"); said != tc.signaled {
				t.Errorf("logs say it stopped during startup: %v, want %v\n%s", said, tc.signaled, logs.String())
			}
		})
	}
}
