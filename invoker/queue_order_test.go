package invoker_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/invoker"
)

// lateSandbox gives its containers a client that holds a /run whose body
// holds lateMark for lateBy before sending it. When failResume is set, the
// next Resume fails after lateBy, the container left paused.
type lateSandbox struct {
	invoker.Sandbox
	failResume *atomic.Bool
}

const (
	lateMark = `"late":true`
	lateBy   = 1500 * time.Millisecond
)

func (s lateSandbox) Create(ctx context.Context, spec invoker.Spec) (invoker.Container, error) {
	c, err := s.Sandbox.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	base := c.Client()
	client := *base
	client.Transport = lateTransport{base.Transport}
	return lateContainer{c, &client, s.failResume}, nil
}

type lateContainer struct {
	invoker.Container
	client     *http.Client
	failResume *atomic.Bool
}

func (c lateContainer) Client() *http.Client { return c.client }

func (c lateContainer) Resume(ctx context.Context) error {
	if c.failResume == nil || !c.failResume.CompareAndSwap(true, false) {
		return c.Container.Resume(ctx)
	}
	select {
	case <-time.After(lateBy):
	case <-ctx.Done():
	}
	return errors.New("resume failed (test)")
}

type lateTransport struct{ base http.RoundTripper }

func (t lateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.URL.Path != "/run" {
		return t.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	if bytes.Contains(body, []byte(lateMark)) {
		select {
		case <-time.After(lateBy):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return t.base.RoundTrip(r)
}

// TestQueuedRunOvertaken: the activation that got the container (a) sends
// its /run after the one queued behind it (b) reached the proxy, as when
// it was handed the container from the line or resumed it. a then waits
// at the proxy for b, and its time limit and deadline must start when it
// starts, not when it was sent.
func TestQueuedRunOvertaken(t *testing.T) {
	s := newStack(t, stackOptions{
		pool:    invokerPool(actions.DefaultMemoryMB),
		sandbox: func(sb invoker.Sandbox) invoker.Sandbox { return lateSandbox{Sandbox: sb} },
	})
	const timeout = 4000
	act := s.put(t, action{name: "overtaken", code: queuedCode, limits: func(l *actions.Limits) { l.Timeout = timeout }})
	for range 10 { // short runs: the pool queues the next ones
		var r queuedResult
		result(t, s.invoke(t, "", act, `{"id":"w"}`), &r)
	}
	recs := make(chan *actions.Activation, 2)
	start := func(params string) { s.activateAsync(t, act, params, recs) }
	// a reaches the proxy lateBy after it was sent, b at once: b runs
	// first, 3 s; a waits for it, then runs 2.5 s, within its 4 s limit
	// only if that starts when a starts.
	start(`{"id":"a","sleep":2500,` + lateMark + `}`)
	if !eventually(time.Minute, func() bool { return s.pool.Stats().Busy == 1 }) {
		t.Fatal("a did not get the container")
	}
	start(`{"id":"b","sleep":3000}`)
	if !eventually(time.Minute, func() bool { return s.pool.Stats().Queued == 1 }) {
		t.Fatalf("b is not queued: %+v", s.pool.Stats())
	}
	byID := map[string]queuedResult{}
	var recA *actions.Activation
	for range 2 {
		rec := <-recs
		if rec == nil {
			t.FailNow()
		}
		if rec.Response.StatusCode != actions.StatusSuccess || rec.Annotations.IsTrue("timeout") {
			t.Errorf("status %d, timeout %t, result %s: want a success", rec.Response.StatusCode,
				rec.Annotations.IsTrue("timeout"), rec.Response.Result)
			continue
		}
		var r queuedResult
		result(t, rec, &r)
		byID[r.ID] = r
		if r.ID == "a" {
			recA = rec
		}
	}
	a, b := byID["a"], byID["b"]
	if a.ID == "" || b.ID == "" {
		t.Fatalf("results %+v", byID)
	}
	if a.Start < b.End {
		t.Fatalf("a started at %d, before b ended at %d: the late /run did not come late", a.Start, b.End)
	}
	if a.Deadline < b.End+timeout || recA.Start < b.End {
		t.Errorf("a: deadline %d, record starts %d; b ended %d: want both after b's end, the deadline %d ms later",
			a.Deadline, recA.Start, b.End, timeout)
	}
}

// TestQueuedRunResumeFails: an activation (b) that comes while another
// (a) resumes a paused container does not queue behind a at its proxy:
// the container may stay frozen, as here, and b would wait there for
// nothing. Both run elsewhere.
func TestQueuedRunResumeFails(t *testing.T) {
	var failResume atomic.Bool
	po := invokerPool(actions.DefaultMemoryMB)
	po.PauseGrace = 100 * time.Millisecond
	s := newStack(t, stackOptions{
		pool:    po,
		sandbox: func(sb invoker.Sandbox) invoker.Sandbox { return lateSandbox{Sandbox: sb, failResume: &failResume} },
	})
	act := s.put(t, action{name: "resume-fails", code: queuedCode, limits: func(l *actions.Limits) { l.Timeout = 4000 }})
	for range 10 { // short runs: the pool queues the next ones
		var r queuedResult
		result(t, s.invoke(t, "", act, `{"id":"w"}`), &r)
	}
	if !eventually(time.Minute, func() bool { return s.pool.Stats().Paused == 1 }) {
		t.Fatalf("the container is not paused: %+v", s.pool.Stats())
	}
	failResume.Store(true)
	recs := make(chan *actions.Activation, 2)
	s.activateAsync(t, act, `{"id":"a"}`, recs)
	if !eventually(time.Minute, func() bool { st := s.pool.Stats(); return st.Busy == 1 && st.Paused == 0 }) {
		t.Fatal("a is not resuming the container")
	}
	s.activateAsync(t, act, `{"id":"b"}`, recs)
	if !eventually(time.Minute, func() bool { st := s.pool.Stats(); return st.Waiting+st.Queued == 1 }) {
		t.Fatalf("b is neither waiting nor queued: %+v", s.pool.Stats())
	}
	for range 2 {
		rec := <-recs
		if rec == nil {
			t.FailNow()
		}
		if rec.Response.StatusCode != actions.StatusSuccess {
			t.Errorf("status %d, result %s: want a success", rec.Response.StatusCode, rec.Response.Result)
		}
	}
}
