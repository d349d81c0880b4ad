package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Sentinel is the line the proxy writes to stdout and stderr after every
// activation, so that log collectors know where its logs end.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// Error texts of the protocol, as OpenWhisk's runtimes send them.
const (
	msgInitTwice   = "Cannot initialize the action more than once."
	msgNoCode      = "Missing main/no code to execute."
	msgNotDict     = "The action did not return a dictionary or array."
	msgExited      = "command exited"
	msgNotInit     = "no action defined yet"
	msgShuttingOff = "The action proxy is shutting down."
)

// errCommandExited is the launcher having exited before it acknowledged
// the code, with msgExited as its text.
var errCommandExited = errors.New(msgExited)

// maxBody bounds /init and /run bodies; OpenWhisk limits code to 48 MB.
const maxBody = 128 << 20

// Config configures a Server.
type Config struct {
	// Launcher is the argument vector of the language process. Launcher[0]
	// is the program, looked up in $PATH, unless LauncherPath is set.
	Launcher []string
	// LauncherPath, when set, is the program to run, and Launcher[0] is
	// only the process's argv[0].
	LauncherPath string
	// Dir is the action directory, created if missing: /init writes the
	// code there, and the language process runs in it.
	Dir string
	// Source is the file name for code that is not a zip, such as
	// "index.js". Default: "exec".
	Source string
	// Env is the language process's environment before the variables of
	// /init. Nil means an empty environment.
	Env []string
	// APIHost, when set, replaces the __OW_API_HOST an /init gives: the
	// address where this proxy forwards Gust's API (Main's APISocketEnv).
	APIHost string
	// Stdout and Stderr are the container's output streams. When they are
	// *os.File the language process writes to them directly; otherwise
	// through a pipe that the Server copies. Nil discards.
	Stdout, Stderr io.Writer
	// Logger receives the proxy's own diagnostics, which must not go to
	// Stdout or Stderr where they would mix with the action's logs.
	// Nil discards.
	Logger *slog.Logger
	// Prestart starts the language process in New, before /init, with
	// $GUST_INIT_ON_STDIN=true: a launcher that supports it waits for an
	// init line on stdin that carries the code's place and the init's env
	// (see the package documentation), so that a stem cell's /init does
	// not wait for the interpreter to start. Only for launchers that
	// support it; others get their code at start, as in ActionLoop.
	Prestart bool
}

// Server serves the action container protocol. It is an http.Handler; the
// caller owns the listeners. Close stops the language process.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	mu          sync.Mutex
	initialized bool
	closed      bool
	proc        *process // the language process of the initialized action
	pre         *process // with Prestart: the process until /init succeeds
	preErr      error    // with Prestart: why pre did not start
	out, errOut *stream
	logs        *inlineLogs
}

// New returns a Server for cfg. Unless cfg.Prestart is set it starts
// nothing: the language process starts at /init. With Prestart it starts
// the language process; should that fail, /init reports why.
func New(cfg Config) (*Server, error) {
	if len(cfg.Launcher) == 0 {
		return nil, errors.New("proxy: no launcher command")
	}
	if cfg.Dir == "" {
		return nil, errors.New("proxy: no action directory")
	}
	if cfg.Source == "" {
		cfg.Source = "exec"
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	s := &Server{cfg: cfg, log: cfg.Logger, logs: newInlineLogs(cfg.Stdout, cfg.Stderr)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.logs.onFlood = s.stopFlood
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /init", s.handleInit)
	s.mux.HandleFunc("POST /run", s.handleRun)
	if cfg.Prestart {
		s.prestart()
	}
	return s, nil
}

// WaitReady waits until the language process that Config.Prestart started
// says it is ready for /init, has exited, or ctx is done. Without such a
// process it returns at once.
func (s *Server) WaitReady(ctx context.Context) error {
	s.mu.Lock()
	p := s.pre
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prestart starts the language process that /init will hand the code to.
func (s *Server) prestart() {
	err := s.openStreams()
	if err == nil {
		// The process runs in the action directory, which /init fills.
		if err = os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
			err = fmt.Errorf("create action directory: %w", err)
		}
	}
	var p *process
	if err == nil {
		env := append([]string(nil), s.cfg.Env...)
		env = append(env, "__OW_WAIT_FOR_ACK=true", initOnStdinEnv+"=true")
		p, err = startProcess(s.cfg, env, s.out.w, s.errOut.w, true)
	}
	if err != nil {
		s.log.Warn("prestart language process", "err", err)
	}
	s.pre, s.preErr = p, err
}

// ServeHTTP serves POST /init and POST /run.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close kills the language process and waits for it. Requests that arrive
// later are answered 503. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	p, pre, out, errOut := s.proc, s.pre, s.out, s.errOut
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
	if pre != nil {
		pre.stop()
	}
	return errors.Join(out.close(), errOut.close())
}

type initRequest struct {
	Value struct {
		Name   string         `json:"name"`
		Main   string         `json:"main"`
		Binary bool           `json:"binary"`
		Code   string         `json:"code"`
		Env    map[string]any `json:"env"`
	} `json:"value"`
}

func (s *Server) handleInit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var req initRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.failInit(w, r, http.StatusBadRequest, "Error unmarshaling request: "+err.Error())
		return
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		s.failInit(w, r, http.StatusServiceUnavailable, msgShuttingOff)
		return
	case s.initialized:
		s.mu.Unlock()
		s.failInit(w, r, http.StatusForbidden, msgInitTwice)
		return
	case req.Value.Code == "":
		s.mu.Unlock()
		s.failInit(w, r, http.StatusForbidden, msgNoCode)
		return
	}
	s.initialized = true
	err = s.openStreams()
	s.mu.Unlock()
	if err != nil {
		s.failInit(w, r, http.StatusBadGateway, err.Error())
		return
	}
	s.logs.requested(r) // keep the output from the code's loading on

	v := req.Value
	where, err := writeCode(s.cfg.Dir, s.cfg.Source, v.Code, v.Binary)
	if err != nil {
		s.failInit(w, r, http.StatusBadGateway, err.Error())
		return
	}
	main := v.Main
	if main == "" {
		main = "main"
	}
	env := make(map[string]string, len(v.Env)+3)
	for k, val := range v.Env {
		env[k] = envString(val)
	}
	env["GUST_ACTION_PATH"], env["GUST_ACTION_MAIN"] = where, main
	env["__OW_WAIT_FOR_ACK"] = "true"
	if s.cfg.APIHost != "" {
		env["__OW_API_HOST"] = s.cfg.APIHost
	}

	var p *process
	kills, counted := oomKills()
	if s.cfg.Prestart {
		p, err = s.initPrestarted(r.Context(), env)
	} else {
		p, err = s.startInitialized(r.Context(), env)
	}
	if err != nil {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed && s.cfg.Prestart {
			// Close stopped the process: it did not fail by itself.
			s.failInit(w, r, http.StatusServiceUnavailable, msgShuttingOff)
			return
		}
		if now, ok := oomKills(); counted && ok && now > kills {
			s.failInit(w, r, http.StatusBadGateway, msgMemoryExhausted)
			return
		}
		if limit := s.logs.floodLimit(); limit > 0 {
			s.failInit(w, r, http.StatusBadGateway, floodMessage(limit))
			return
		}
		s.failInit(w, r, http.StatusBadGateway, err.Error())
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		p.stop()
		s.failInit(w, r, http.StatusServiceUnavailable, msgShuttingOff)
		return
	}
	s.proc, s.pre = p, nil
	s.mu.Unlock()
	s.log.Debug("action initialized", "name", v.Name, "main", main, "concurrent", p.concurrent)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// startInitialized starts the language process with the code's place and
// the init's env in its environment, and waits for its acknowledgement.
func (s *Server) startInitialized(ctx context.Context, initEnv map[string]string) (*process, error) {
	env := append([]string(nil), s.cfg.Env...)
	for k, v := range initEnv {
		env = append(env, k+"="+v)
	}
	p, err := startProcess(s.cfg, env, s.out.w, s.errOut.w, false)
	if err != nil {
		return nil, err
	}
	if err := p.awaitAck(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// initPrestarted hands the code's place and the init's env to the
// pre-started language process and waits for its acknowledgement. The
// process stays s.pre meanwhile, so that Close stops it.
func (s *Server) initPrestarted(ctx context.Context, env map[string]string) (*process, error) {
	s.mu.Lock()
	p, err := s.pre, s.preErr
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("the language process did not start: %w", err)
	}
	err = p.initialize(ctx, env)
	if err != nil {
		p.stop()
		s.mu.Lock()
		s.pre = nil
		s.mu.Unlock()
		return nil, err
	}
	return p, nil
}

// failInit answers an /init with an error and ends the activation's logs.
func (s *Server) failInit(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.log.Debug("init failed", "status", code, "err", msg)
	body, _ := json.Marshal(map[string]string{"error": msg})
	s.answer(w, r, code, body)
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	line, p, code, body := s.runLine(r)
	if p == nil {
		s.answer(w, r, code, body)
		return
	}
	// A run sent without QueueHeader counts from its arrival, its wait
	// for a launcher that runs one at a time included: the invoker holds
	// its container meanwhile. A queued one counts from its turn.
	started := time.Now()
	limit, queued := queueLimit(r)
	var done func()
	if queued && r.Header.Get(LeadHeader) != "" {
		if d, ok := p.tryTurn(); ok {
			done, queued = d, false // its turn is free: it starts now, as sent
		} else {
			w.Header().Set(QueueHeader, QueueWaiting)
			w.WriteHeader(http.StatusProcessing)
			w.Header().Del(QueueHeader)
		}
	}
	if done == nil {
		done = p.turn()
	}
	if queued {
		if r.Context().Err() != nil || p.gone() {
			// The one ahead left no process to run on: the invoker may run
			// this activation elsewhere.
			done()
			s.log.Debug("queued run not started: the language process is gone")
			w.Header().Set(QueueHeader, QueueNotRun)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": msgExited})
			return
		}
		// Its time limit starts now, not when it was queued.
		started = time.Now()
		line = withDeadline(line, started.Add(limit))
		w.WriteHeader(http.StatusProcessing)
	}
	hits, hitsCounted := pidsHits()
	code, body = s.runOn(r.Context(), p, line)
	w.Header().Set(RunTimeHeader, strconv.FormatInt(time.Since(started).Microseconds(), 10))
	if now, ok := pidsHits(); hitsCounted && ok && now > hits {
		body = withPidsLimit(body, pidsLimit())
	}
	logs := s.endLogs(r, body != nil)
	done()
	write(w, code, body, logs)
}

// answer ends an activation: it answers with body (nil: the client is
// gone) and its logs, inline (LogsHeader) or as lines and sentinels on the
// container's streams.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	write(w, code, body, s.endLogs(r, body != nil))
}

// endLogs ends an activation's logs: it returns them for an answer that
// takes them inline (answering, and asked for with LogsHeader), else
// writes them with the sentinels to the container's streams and returns
// nil.
func (s *Server) endLogs(r *http.Request, answering bool) *InlineAnswer {
	inline := s.logs.requested(r)
	s.mu.Lock()
	out, errOut := s.out, s.errOut
	s.mu.Unlock()
	keeping, discarding := s.logs.mode()
	switch {
	case discarding:
		return nil
	case out == nil || errOut == nil || !keeping:
		s.writeSentinels()
		return nil
	}
	logs := s.logs.end(out.w, errOut.w)
	if answering && inline {
		return &logs
	}
	s.logs.writeOut(logs)
	return nil
}

// write answers with body and, when not nil, the logs inline. A nil body
// writes nothing: the client is gone.
func write(w http.ResponseWriter, code int, body []byte, logs *InlineAnswer) {
	switch {
	case body == nil:
	case logs != nil:
		writeInline(w, code, body, *logs)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		// The client may be gone; there is nobody to tell.
		_, _ = w.Write(append(body, '\n'))
	}
}

// runLine reads a /run's body as a compact JSON line and returns it with
// the process to run it on, or else (p nil) the status and body of the
// answer.
func (s *Server) runLine(r *http.Request) (line []byte, p *process, code int, answer []byte) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var buf bytes.Buffer
	if err == nil {
		err = json.Compact(&buf, body)
	}
	if err == nil && (buf.Len() == 0 || buf.Bytes()[0] != '{') {
		err = errors.New("the request is not a JSON object")
	}
	if err != nil {
		code, answer = errorAnswer(http.StatusBadRequest, "Error unmarshaling request: "+err.Error())
		return nil, nil, code, answer
	}
	s.mu.Lock()
	p, closed := s.proc, s.closed
	s.mu.Unlock()
	switch {
	case closed:
		code, answer = errorAnswer(http.StatusServiceUnavailable, msgShuttingOff)
		return nil, nil, code, answer
	case p == nil:
		code, answer = errorAnswer(http.StatusBadRequest, msgNotInit)
		return nil, nil, code, answer
	}
	return buf.Bytes(), p, 0, nil
}

// runOn runs line on p and returns the status and body of its answer.
func (s *Server) runOn(ctx context.Context, p *process, line []byte) (int, []byte) {
	kills, counted := oomKills()
	result, err := p.run(ctx, line)
	switch {
	case errors.Is(err, errExited):
		if now, ok := oomKills(); counted && ok && now > kills {
			return errorAnswer(http.StatusBadGateway, msgMemoryExhausted)
		}
		if limit := s.logs.floodLimit(); limit > 0 {
			return errorAnswer(http.StatusBadGateway, floodMessage(limit))
		}
		return errorAnswer(http.StatusBadRequest, msgExited)
	case err != nil:
		s.log.Debug("run abandoned", "err", err)
		return 0, nil
	case !isObjectOrArray(result):
		if msg, ok := thrownMessage(p, result); ok {
			return errorAnswer(http.StatusBadGateway, msg)
		}
		return errorAnswer(http.StatusBadGateway, msgNotDict)
	}
	return http.StatusOK, result
}

// stopFlood kills the language process of an activation that wrote too
// much (inlineLogs.onFlood): its /init or /run then fails with
// floodMessage.
func (s *Server) stopFlood() {
	s.mu.Lock()
	p := s.proc
	if p == nil {
		p = s.pre
	}
	s.mu.Unlock()
	if p != nil {
		s.log.Debug("language process stopped: its output passed its log limit")
		go p.stop()
	}
}

// thrownMessage reads an answer of a launcher that acknowledged with
// "thrown": a JSON string is the message of an error the action threw,
// which the proxy answers as OpenWhisk's nodejs runtime does: 502, a
// developer error.
func thrownMessage(p *process, answer []byte) (string, bool) {
	var msg string
	if !p.thrown || len(answer) == 0 || answer[0] != '"' || json.Unmarshal(answer, &msg) != nil {
		return "", false
	}
	return msg, true
}

func (s *Server) openStreams() error {
	if s.out != nil {
		return nil
	}
	out, err := openStream(func(r io.Reader) { s.logs.copyStream(0, r) })
	if err != nil {
		return err
	}
	errOut, err := openStream(func(r io.Reader) { s.logs.copyStream(1, r) })
	if err != nil {
		return errors.Join(err, out.close())
	}
	s.out, s.errOut = out, errOut
	return nil
}

// writeSentinels ends an activation's logs on both streams.
func (s *Server) writeSentinels() {
	s.mu.Lock()
	out, errOut := s.out, s.errOut
	s.mu.Unlock()
	line := []byte(Sentinel + "\n")
	for i, st := range []*stream{out, errOut} {
		var err error
		switch {
		case st != nil:
			_, err = st.w.Write(line)
		case i == 0:
			_, err = s.cfg.Stdout.Write(line)
		default:
			_, err = s.cfg.Stderr.Write(line)
		}
		if err != nil {
			s.log.Warn("write sentinel", "err", err)
		}
	}
}

// stream is where the language process and the sentinels write one of the
// container's output streams: a pipe that copy reads (inlineLogs.copyStream:
// to the stream, or kept for an inline answer).
type stream struct {
	w      *os.File
	copied chan struct{}
}

func openStream(copy func(io.Reader)) (*stream, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("proxy: output pipe: %w", err)
	}
	st := &stream{w: w, copied: make(chan struct{})}
	go func() {
		defer close(st.copied)
		defer r.Close()
		copy(r)
	}()
	return st, nil
}

// close closes the pipe and waits until its output is copied. The
// language process must have exited.
func (st *stream) close() error {
	if st == nil {
		return nil
	}
	err := st.w.Close()
	<-st.copied
	return err
}

func envString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func isObjectOrArray(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[') && json.Valid(b)
}

func errorAnswer(code int, msg string) (int, []byte) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return code, b
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = errorAnswer(http.StatusInternalServerError, err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
