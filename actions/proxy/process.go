package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// errExited says the language process is gone.
var errExited = errors.New("language process exited")

// exitGrace is how long the result pipe may stay open after the language
// process exited (a child of it may hold it) before the proxy closes it.
const exitGrace = time.Second

// process is the running language process of an initialized action.
type process struct {
	cmd     *exec.Cmd
	stdin   *os.File
	results *os.File // read end of fd 3

	writeMu sync.Mutex // one request line at a time on stdin
	runMu   sync.Mutex // one run at a time unless concurrent (turn)

	ready      chan struct{} // closed at the first line of fd 3 or its end
	readyLine  bool          // the first line was a ready line; set before ready closes
	ack        chan []byte   // the first line of fd 3 (after a ready line)
	lines      chan []byte   // later lines, unless concurrent
	concurrent bool          // set by the reader before it delivers ack
	thrown     bool          // likewise: a JSON string answer is a thrown error's message

	pendingMu sync.Mutex
	pending   map[uint64]chan []byte
	nextID    uint64

	exited   chan struct{} // closed once Wait returned
	dead     chan struct{} // closed once fd 3 ended
	stopping chan struct{} // closed by stop
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// startProcess starts the language process with env, writing to stdout and
// stderr, and the goroutines that watch it. A prestarted process may first
// write a ready line on fd 3.
func startProcess(cfg Config, env []string, stdout, stderr *os.File, prestarted bool) (*process, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("result pipe: %w", err)
	}
	cmd := exec.Command(cfg.Launcher[0], cfg.Launcher[1:]...)
	if cfg.LauncherPath != "" {
		cmd.Path, cmd.Err = cfg.LauncherPath, nil
	}
	cmd.Args = cfg.Launcher
	cmd.Dir = cfg.Dir
	cmd.Env = env
	cmd.Stdin = inR
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{resW}
	err = cmd.Start()
	// The child holds its own copies now.
	inR.Close()
	resW.Close()
	if err != nil {
		inW.Close()
		resR.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.Launcher[0], err)
	}
	sacrifice(cmd.Process.Pid)
	p := &process{
		ready:    make(chan struct{}),
		cmd:      cmd,
		stdin:    inW,
		results:  resR,
		ack:      make(chan []byte, 1),
		lines:    make(chan []byte),
		pending:  make(map[uint64]chan []byte),
		exited:   make(chan struct{}),
		dead:     make(chan struct{}),
		stopping: make(chan struct{}),
	}
	p.wg.Add(2)
	go p.wait()
	go p.read(prestarted)
	return p, nil
}

// wait reaps the process, and closes the result pipe if a grandchild keeps
// it open.
func (p *process) wait() {
	defer p.wg.Done()
	// The exit status says nothing the protocol could use.
	_ = p.cmd.Wait()
	close(p.exited)
	p.stdin.Close()
	select {
	case <-p.dead:
	case <-p.stopping:
	case <-time.After(exitGrace):
	}
	p.results.Close()
}

// read delivers the lines of fd 3: the acknowledgement, then results.
func (p *process) read(prestarted bool) {
	defer p.wg.Done()
	defer close(p.dead)
	r := bufio.NewReaderSize(p.results, 64<<10)
	first, readyOpen := true, true
	defer func() {
		if readyOpen {
			close(p.ready)
		}
	}()
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		line = bytes.TrimRight(line, "\r\n")
		if readyOpen {
			readyOpen = false
			isReady := prestarted && isReadyLine(line)
			p.readyLine = isReady
			close(p.ready)
			if isReady {
				continue
			}
		}
		switch {
		case first:
			first = false
			var ack struct {
				Concurrent bool `json:"concurrent"`
				Thrown     bool `json:"thrown"`
			}
			// A malformed acknowledgement is awaitAck's to report.
			_ = json.Unmarshal(line, &ack)
			p.concurrent, p.thrown = ack.Concurrent, ack.Thrown
			p.ack <- line
		case p.concurrent:
			p.deliver(line)
		default:
			select {
			case p.lines <- line:
			case <-p.stopping:
				return
			}
		}
	}
}

// isReadyLine says whether line is a pre-started launcher's {"ready":true},
// which says it waits for its init line.
func isReadyLine(line []byte) bool {
	var m struct {
		Ready bool `json:"ready"`
	}
	return json.Unmarshal(line, &m) == nil && m.Ready
}

// deliver hands a concurrent answer to the run waiting for it.
func (p *process) deliver(line []byte) {
	var answer struct {
		ID     *uint64         `json:"__gust_run"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(line, &answer); err != nil || answer.ID == nil {
		return
	}
	p.pendingMu.Lock()
	ch := p.pending[*answer.ID]
	delete(p.pending, *answer.ID)
	p.pendingMu.Unlock()
	if ch != nil {
		ch <- answer.Result // buffered
	}
}

// awaitAck waits for the launcher's acknowledgement of the code.
func (p *process) awaitAck(ctx context.Context) error {
	var line []byte
	select {
	case line = <-p.ack:
	case <-p.dead:
		// A launcher that fails writes its error and exits: fd 3 may have
		// ended by now, its acknowledgement still waiting.
		select {
		case line = <-p.ack:
		default:
			return errCommandExited
		}
	case <-ctx.Done():
		return fmt.Errorf("initialization abandoned: %w", ctx.Err())
	}
	var ack struct {
		OK    bool            `json:"ok"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(line, &ack); err != nil {
		return fmt.Errorf("the action's launcher did not acknowledge: %q", line)
	}
	if ack.OK {
		return nil
	}
	var msg string
	if json.Unmarshal(ack.Error, &msg) != nil {
		msg = string(ack.Error)
	}
	return errors.New(msg)
}

// initOnStdinEnv names the environment variable that tells a pre-started
// launcher to wait for its init line on stdin.
const initOnStdinEnv = "GUST_INIT_ON_STDIN"

// initialize sends a pre-started process the init line, which carries the
// environment variables to set before the code is loaded, and waits for
// its acknowledgement.
func (p *process) initialize(ctx context.Context, env map[string]string) error {
	select {
	case <-p.exited:
		return p.exitedBeforeInit()
	default:
	}
	var msg struct {
		Init struct {
			Env map[string]string `json:"env"`
		} `json:"init"`
	}
	msg.Init.Env = env
	line, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode the init line: %w", err)
	}
	if err := p.send(line); err != nil {
		return p.exitedBeforeInit()
	}
	err = p.awaitAck(ctx)
	if errors.Is(err, errCommandExited) {
		<-p.ready // closed, since fd 3 ended
		if !p.readyLine {
			// It never said it was up: it did not get to the code.
			return p.exitedBeforeInit()
		}
	}
	return err
}

// exitedBeforeInit describes a pre-started process that is gone.
func (p *process) exitedBeforeInit() error {
	select {
	case <-p.exited:
		return fmt.Errorf("the language process exited before /init: %s", p.cmd.ProcessState)
	case <-time.After(exitGrace):
		return errors.New("the language process exited before /init")
	}
}

// turn waits for a run's turn: unless the process runs requests
// concurrently, one run at a time, from the moment its line is sent until
// the proxy has ended its logs, so that the next run's output cannot mix
// with them. The caller calls the function returned once done.
func (p *process) turn() (done func()) {
	if p.concurrent {
		return func() {}
	}
	p.runMu.Lock()
	return p.runMu.Unlock
}

// tryTurn is turn when the turn is free now; ok is false, and nothing is
// held, when another request has it.
func (p *process) tryTurn() (done func(), ok bool) {
	if p.concurrent {
		return func() {}, true
	}
	if !p.runMu.TryLock() {
		return nil, false
	}
	return p.runMu.Unlock, true
}

// gone reports whether the process has exited or its result pipe ended: a
// line sent now would not run.
func (p *process) gone() bool {
	select {
	case <-p.dead:
		return true
	case <-p.exited:
		return true
	default:
		return false
	}
}

// run sends one request line and returns the answer; the caller has its
// turn. The line is a compact JSON object.
func (p *process) run(ctx context.Context, line []byte) ([]byte, error) {
	if p.concurrent {
		return p.runConcurrent(ctx, line)
	}
	if err := p.send(line); err != nil {
		return nil, err
	}
	select {
	case result := <-p.lines:
		return result, nil
	case <-p.dead:
		return nil, errExited
	case <-ctx.Done():
		// The answer would come to the next run: give up on the process.
		p.stop()
		return nil, ctx.Err()
	}
}

func (p *process) runConcurrent(ctx context.Context, line []byte) ([]byte, error) {
	ch := make(chan []byte, 1)
	p.pendingMu.Lock()
	id := p.nextID
	p.nextID++
	p.pending[id] = ch
	p.pendingMu.Unlock()
	forget := func() {
		p.pendingMu.Lock()
		delete(p.pending, id)
		p.pendingMu.Unlock()
	}
	tagged := make([]byte, 0, len(line)+32)
	tagged = append(tagged, `{"__gust_run":`...)
	tagged = strconv.AppendUint(tagged, id, 10)
	if rest := line[1:]; !bytes.Equal(rest, []byte("}")) {
		tagged = append(tagged, ',')
	}
	tagged = append(tagged, line[1:]...)
	if err := p.send(tagged); err != nil {
		forget()
		return nil, err
	}
	select {
	case result := <-ch:
		return result, nil
	case <-p.dead:
		forget()
		return nil, errExited
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

func (p *process) send(line []byte) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return errExited
	}
	return nil
}

// stop kills the language process and waits for its goroutines.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		close(p.stopping)
		// It may have exited already.
		_ = p.cmd.Process.Kill()
	})
	<-p.exited
	p.results.Close()
	p.wg.Wait()
}
