package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gusthub/gust/actions"
)

// Bounds in memory of request bodies.
const (
	// DefaultBodyMemory is how many bytes of large bodies the server takes
	// in at once: one action of the largest code at a time. A body costs
	// several times its size while it is decoded, stored and answered.
	DefaultBodyMemory = 64 << 20
	// largeBody is the size from which a body counts against the budget;
	// smaller ones are bounded by their routes' 1 MB limit.
	largeBody = maxBodyBytes
	// budgetWait is how long a large body waits for room before it is
	// refused with 503 and Retry-After.
	budgetWait = 60 * time.Second
	retryAfter = 5 // seconds
)

// budget admits large request bodies while their bytes fit, so that
// concurrent uploads do not take the server's memory with them. When the
// last one is done it hands the memory back to the system.
type budget struct {
	mu   sync.Mutex
	size int64
	free int64
	wake chan struct{} // closed when bytes are released
}

func newBudget(size int64) *budget {
	return &budget{size: size, free: size, wake: make(chan struct{})}
}

// acquire waits until n bytes (at most the whole budget) are free and
// takes them; it returns how many it took, or false when ctx ended first.
func (b *budget) acquire(ctx context.Context, n int64) (int64, bool) {
	n = min(n, b.size)
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return n, true
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, false
		}
	}
}

// release gives n bytes back; once no large body is in, the garbage they
// left is collected and its memory returned to the system.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.free += n
	close(b.wake)
	b.wake = make(chan struct{})
	idle := b.free == b.size
	b.mu.Unlock()
	if idle {
		go debug.FreeOSMemory()
	}
}

// admitBody takes room in the budget for r's body when it is large (or of
// unknown length, counted as the largest a route takes). It answers 503
// with Retry-After and returns false when no room came within budgetWait;
// otherwise the caller must call done when the request is answered.
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request) (done func(), ok bool) {
	n := r.ContentLength
	if r.Body == nil || r.Body == http.NoBody || s.budget == nil || (n >= 0 && n <= largeBody) {
		return func() {}, true
	}
	if n < 0 {
		n = maxActionBodyBytes
	}
	ctx, cancel := context.WithTimeout(r.Context(), budgetWait)
	defer cancel()
	took, ok := s.budget.acquire(ctx, n)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		w.Header().Set("Connection", "close") // the body is not read
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "Too many large requests at once: retry later."))
		return nil, false
	}
	return func() { s.budget.release(took) }, true
}

// writeAction answers with the action a as JSON. Large code is written in
// pieces rather than encoded into one buffer with the rest: a response
// then costs little memory beside the code the action holds anyway.
func writeAction(w http.ResponseWriter, a *actions.Action) {
	code := a.Exec.Code
	if len(code) <= largeBody {
		writeJSON(w, http.StatusOK, a)
		return
	}
	const mark = "gust-code-placeholder-7c1f"
	c := *a
	c.Exec.Code = mark
	b, err := json.Marshal(&c)
	i := bytes.Index(b, []byte(`"`+mark+`"`))
	if err != nil || i < 0 {
		writeJSON(w, http.StatusOK, a)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b[:i+1])
	for len(code) > 0 {
		n := min(len(code), 64<<10)
		for n < len(code) && !utf8.RuneStart(code[n]) {
			n++ // pieces end between characters
		}
		piece, _ := json.Marshal(code[:n])
		if _, err := w.Write(piece[1 : len(piece)-1]); err != nil {
			return
		}
		code = code[n:]
	}
	_, _ = w.Write(b[i+1+len(mark):])
}
