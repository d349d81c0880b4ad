package soak_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/internal/exampletest"
	"github.com/gusthub/gust/invoker"
)

// config is the size of a soak.
type config struct {
	fires, invokes, clients, kills int
}

// loadConfig is the CI size (a few hundred events, one kill), the full
// size with GUST_SOAK=1, and the counts GUST_SOAK_* set.
func loadConfig(t *testing.T) config {
	t.Helper()
	c := config{fires: 300, invokes: 100, clients: 8, kills: 1}
	if os.Getenv("GUST_SOAK") == "1" {
		c = config{fires: 10000, invokes: 2000, clients: 8, kills: 3}
	} else if testing.Short() {
		t.Skip("the crash soak runs gust serve with Docker containers: not with -short")
	}
	for _, v := range []struct {
		name string
		p    *int
	}{{"GUST_SOAK_FIRES", &c.fires}, {"GUST_SOAK_INVOKES", &c.invokes}, {"GUST_SOAK_CLIENTS", &c.clients}, {"GUST_SOAK_KILLS", &c.kills}} {
		if s := os.Getenv(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a count", v.name, s)
			}
			*v.p = n
		}
	}
	c.clients = max(c.clients, 1)
	return c
}

// client talks to Gust's API as the guest namespace. It opens a
// connection per request, so that a request Gust refused while down
// (connection refused) is told apart from one whose answer was lost.
type client struct {
	base string
	hc   *http.Client
}

func newClient(addr string) *client {
	return &client{base: "http://" + addr, hc: &http.Client{Timeout: 90 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true}}}
}

// do sends one request; err is set when no HTTP answer came.
func (c *client) do(method, path string, header http.Header, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(exampletest.GuestUUID, exampletest.GuestSecret)
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

func (c *client) must(t *testing.T, method, path, body string) []byte {
	t.Helper()
	status, b, err := c.do(method, path, nil, []byte(body))
	if err != nil || status >= 300 {
		t.Fatalf("%s %s: %d %v %s", method, path, status, err, b)
	}
	return b
}

// tally counts what happened to the events a soak sent.
type tally struct {
	mu       sync.Mutex
	accepted map[int]string // event number → the activation id of its 2xx answer
	unknown  map[int]bool   // invokes whose answer was lost: they may or may not run
	bad      []string       // answers no client should get

	refused    atomic.Int64 // requests refused while Gust was down or starting, sent again
	unanswered atomic.Int64 // requests whose answer was lost in a kill
	finished   atomic.Int64 // events accepted or given up
}

// soak is one run: a Gust, an action and its trigger, and the clients.
type soak struct {
	cfg    config
	g      *exampletest.Gust
	c      *client
	action string
	tally  tally
}

const (
	soakTrigger = "soak-t"
	soakRule    = "soak-r"
	soakSource  = "/soak"
	soakType    = "dev.gust.soak"
)

// setUp creates action (code), its trigger and rule.
func (s *soak) setUp(t *testing.T, code string) {
	body, _ := json.Marshal(map[string]any{"exec": map[string]string{"kind": "nodejs:20", "code": code}})
	s.c.must(t, "PUT", "/api/v1/namespaces/_/actions/"+s.action, string(body))
	s.c.must(t, "PUT", "/api/v1/namespaces/_/triggers/"+soakTrigger, `{}`)
	s.c.must(t, "PUT", "/api/v1/namespaces/_/rules/"+soakRule,
		fmt.Sprintf(`{"trigger":"/_/%s","action":"/_/%s"}`, soakTrigger, s.action))
	// One blocking invoke, so that the runtime image exists and a
	// container is warm before the clients start.
	s.c.must(t, "POST", "/api/v1/namespaces/_/actions/"+s.action+"?blocking=true", `{"n":-1}`)
}

// send sends event n until Gust accepts it. Fires are CloudEvents with
// an id of their own, so a fire whose answer was lost is sent again: a
// second copy runs nothing. An invoke has no such id: one whose answer
// was lost is not sent again (it may have been queued), and counts as
// unknown.
func (s *soak) send(n int) {
	invoke := n >= s.cfg.fires
	body := fmt.Appendf(nil, `{"n":%d}`, n)
	for {
		var (
			status int
			b      []byte
			err    error
		)
		if invoke {
			status, b, err = s.c.do("POST", "/api/v1/namespaces/_/actions/"+s.action+"?blocking=false", nil, body)
		} else {
			h := http.Header{}
			h.Set("Ce-Specversion", "1.0")
			h.Set("Ce-Id", "soak-"+strconv.Itoa(n))
			h.Set("Ce-Source", soakSource)
			h.Set("Ce-Type", soakType)
			status, b, err = s.c.do("POST", "/api/v1/namespaces/_/triggers/"+soakTrigger, h, body)
		}
		switch {
		case err == nil && status == http.StatusAccepted:
			var ans struct {
				ActivationID string `json:"activationId"`
			}
			_ = json.Unmarshal(b, &ans)
			s.tally.mu.Lock()
			s.tally.accepted[n] = ans.ActivationID
			s.tally.mu.Unlock()
			s.tally.finished.Add(1)
			return
		case err == nil && status >= 500:
			// Gust starting or stopping: nothing was taken.
			s.tally.refused.Add(1)
		case err == nil:
			s.tally.mu.Lock()
			s.tally.bad = append(s.tally.bad, fmt.Sprintf("event %d: %d %s", n, status, b))
			s.tally.mu.Unlock()
			s.tally.finished.Add(1)
			return
		case errors.Is(err, syscall.ECONNREFUSED):
			s.tally.refused.Add(1)
		default:
			s.tally.unanswered.Add(1)
			if invoke {
				s.tally.mu.Lock()
				s.tally.unknown[n] = true
				s.tally.mu.Unlock()
				s.tally.finished.Add(1)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run sends every event from the clients while fault(i) runs at cfg.kills
// random moments, and returns when all are sent and the faults are over.
func (s *soak) run(t *testing.T, fault func(i int)) {
	total := s.cfg.fires + s.cfg.invokes
	events := make(chan int)
	go func() {
		defer close(events)
		for _, n := range rand.Perm(total) { // fires and invokes mixed
			events <- n
		}
	}()
	var clients sync.WaitGroup
	for range s.cfg.clients {
		clients.Go(func() {
			for n := range events {
				s.send(n)
			}
		})
	}
	// The faults come at random points of the run, between 10 % and 90 %
	// of the events answered, at a random moment after that point.
	points := make([]float64, s.cfg.kills)
	for i := range points {
		points[i] = 0.1 + 0.8*rand.Float64()
	}
	slices.Sort(points)
	for i, p := range points {
		for s.tally.finished.Load() < int64(p*float64(total)) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(rand.N(300 * time.Millisecond))
		fault(i)
	}
	clients.Wait()
}

// crash kills serve with SIGKILL and starts it again on the same data
// directory after a random pause.
func (s *soak) crash(t *testing.T) {
	s.g.Kill(t)
	time.Sleep(rand.N(time.Second))
	s.g.Start(t)
}

// settle waits until Gust has nothing left to do: the rule engine's and
// the invokers' consumers have nothing pending or unacknowledged (a
// delivery cut by a kill comes back after its ack wait), twice in a row.
func (s *soak) settle(t *testing.T, natsURL string) {
	t.Helper()
	js := hubtest.Connect(t, natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	idle := 0
	for idle < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("Gust still busy after 5 minutes")
		case <-time.After(time.Second):
		}
		busy := false
		for _, c := range []struct{ stream, consumer string }{{hub.EventsStream, hub.RulesConsumer}, {invoker.InvokeStream, "invokers"}} {
			info, err := js.Consumer(ctx, c.stream, c.consumer)
			if err != nil {
				t.Fatalf("consumer %s of %s: %v", c.consumer, c.stream, err)
			}
			ci := info.CachedInfo()
			if ci.NumPending > 0 || ci.NumAckPending > 0 || ci.NumRedelivered > 0 {
				busy = true
			}
		}
		if busy {
			idle = 0
		} else {
			idle++
		}
	}
}

// records lists the records of entity name (all, with their results).
func (s *soak) records(t *testing.T, name string) []actions.Activation {
	t.Helper()
	var count struct {
		Activations int `json:"activations"`
	}
	if err := json.Unmarshal(s.c.must(t, "GET", "/api/v1/namespaces/_/activations?count=true&name="+name, ""), &count); err != nil {
		t.Fatal(err)
	}
	var all []actions.Activation
	for skip := 0; skip < count.Activations; skip += 200 {
		var page []actions.Activation
		b := s.c.must(t, "GET", fmt.Sprintf("/api/v1/namespaces/_/activations?docs=true&limit=200&skip=%d&name=%s", skip, name), "")
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
	}
	return all
}

// eventNumber is the "n" of a record's result, or false.
func eventNumber(a *actions.Activation) (int, bool) {
	var res struct {
		N *int `json:"n"`
	}
	if json.Unmarshal(a.Response.Result, &res) != nil || res.N == nil {
		return 0, false
	}
	return *res.N, true
}

// outcome is what became of the events: the records of the action's runs
// each event caused, by event number, from the 202 answers of invokes and
// the trigger's records of fires.
type outcome struct {
	runs     map[int][]actions.Activation
	triggers map[int]int // records of the trigger by event number: more than one is an event run twice
	orphans  []actions.Activation
}

func (s *soak) outcome(t *testing.T) outcome {
	t.Helper()
	byID := map[string]actions.Activation{}
	for _, a := range s.records(t, s.action) {
		byID[a.ActivationID] = a
	}
	o := outcome{runs: map[int][]actions.Activation{}, triggers: map[int]int{}}
	seen := map[string]bool{}
	take := func(n int, id string) {
		if a, ok := byID[id]; ok && !seen[id] {
			seen[id] = true
			o.runs[n] = append(o.runs[n], a)
		}
	}
	for _, tr := range s.records(t, soakTrigger) {
		n, ok := eventNumber(&tr)
		if !ok {
			t.Errorf("a trigger record without the event's number: %s %s", tr.ActivationID, tr.Response.Result)
			continue
		}
		o.triggers[n]++
		for _, line := range tr.Logs {
			var l struct {
				ActivationID string `json:"activationId"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.ActivationID != "" {
				take(n, l.ActivationID)
			}
		}
	}
	s.tally.mu.Lock()
	for n, id := range s.tally.accepted {
		if n >= s.cfg.fires {
			take(n, id)
		}
	}
	s.tally.mu.Unlock()
	// Runs no answer or trigger record names: invokes whose answer was
	// lost, or events run under another activation id.
	for id, a := range byID {
		if seen[id] {
			continue
		}
		if n, ok := eventNumber(&a); ok && n >= 0 {
			o.runs[n] = append(o.runs[n], a)
			continue
		}
		if n, ok := eventNumber(&a); !ok || n != -1 { // -1: setUp's invoke
			o.orphans = append(o.orphans, a)
		}
	}
	return o
}

// report counts lost and duplicated events, logs the line the issue asks
// for, and returns the records of the runs that failed.
type report struct {
	accepted, lost, duplicated, unknownRan int
	failed                                 []actions.Activation
}

func (s *soak) report(t *testing.T, name string, o outcome) report {
	t.Helper()
	var r report
	s.tally.mu.Lock()
	defer s.tally.mu.Unlock()
	for n := range s.cfg.fires + s.cfg.invokes {
		rs := o.runs[n]
		if len(rs) > 1 || o.triggers[n] > 1 {
			r.duplicated++
			ids := []string{}
			for _, a := range rs {
				ids = append(ids, a.ActivationID)
			}
			t.Errorf("event %d ran %d times (%d trigger records): %v", n, len(rs), o.triggers[n], ids)
		}
		for _, a := range rs {
			if a.Response.StatusCode != actions.StatusSuccess {
				r.failed = append(r.failed, a)
			}
		}
		if id, ok := s.tally.accepted[n]; ok {
			r.accepted++
			if len(rs) == 0 {
				r.lost++
				t.Errorf("event %d was accepted (%s) and never ran", n, id)
			}
		} else if s.tally.unknown[n] && len(rs) > 0 {
			r.unknownRan++
		}
	}
	for _, a := range o.orphans {
		t.Errorf("a run of no event: %s %s", a.ActivationID, a.Response.Result)
	}
	for _, b := range s.tally.bad {
		t.Errorf("unexpected answer: %s", b)
	}
	t.Logf("%s: %d accepted, %d lost, %d duplicated; %d failed; %d requests refused while Gust was down or starting; "+
		"%d requests unanswered (cut by a kill: fires were sent again under their CloudEvents id; %d invokes were not, of which %d ran)",
		name, r.accepted, r.lost, r.duplicated, len(r.failed), s.tally.refused.Load(), s.tally.unanswered.Load(), len(s.tally.unknown), r.unknownRan)
	return r
}

// TestCrashSoak fires triggers and invokes an action from several clients
// while `gust serve` is killed with SIGKILL and restarted on the same
// data directory: every accepted event runs exactly once.
func TestCrashSoak(t *testing.T) {
	cfg := loadConfig(t)
	dockertest.Require(t, nil)
	natsAddr := "127.0.0.1:" + strconv.Itoa(exampletest.FreePort(t))
	g := exampletest.Serve(t, "--sandbox", "docker", "--nats-listen", natsAddr, "--stem-cells", "1")
	s := &soak{cfg: cfg, g: g, c: newClient(g.Addr), action: "soak",
		tally: tally{accepted: map[int]string{}, unknown: map[int]bool{}}}
	s.setUp(t, `function main(p) { return { n: p.n } }`)
	start := time.Now()
	s.run(t, func(i int) {
		t.Logf("SIGKILL %d of %d, %d of %d events answered", i+1, cfg.kills, s.tally.finished.Load(), cfg.fires+cfg.invokes)
		s.crash(t)
	})
	sent := time.Since(start)
	s.settle(t, "nats://"+natsAddr)
	r := s.report(t, fmt.Sprintf("crash soak (%d fires, %d invokes, %d clients, %d SIGKILLs)", cfg.fires, cfg.invokes, cfg.clients, cfg.kills), s.outcome(t))
	for _, a := range r.failed {
		t.Errorf("a run failed: %s %s", a.ActivationID, a.Response.Result)
	}
	t.Logf("sent in %v, settled in %v", sent.Round(time.Second), (time.Since(start) - sent).Round(time.Second))
	// An invocation whose invoker was killed runs again after the restart
	// under its activation id, which keeps one record: its first run may
	// have reached the action before the kill, and that is not seen here.
	t.Logf("invocations taken again after a kill: %d run again (their first run was cut), %d found done",
		strings.Count(g.Logs(), "running an invocation another invoker took and did not finish"),
		strings.Count(g.Logs(), "redelivered invocation ran already"))
	if r.accepted == 0 {
		t.Error("no event was accepted")
	}
	s.g.Stop(t)
	checkNoContainers(t, g.DataDir)
}

// checkNoContainers fails t when a container of the Gust with data
// directory dir is left on the engine.
func checkNoContainers(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=gust.owner="+containerOwner(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers left behind after serve stopped: %s", out)
	}
}

// containerOwner is the owner label serve gives its containers: the
// start of the SHA-256 of its absolute data directory (as cmd does).
func containerOwner(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "gust-" + hex.EncodeToString(sum[:4])
}
