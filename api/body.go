package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Bounds in time of a request body.
const (
	// DefaultBodyTimeout is how long a body may send nothing: as nginx's
	// client_body_timeout.
	DefaultBodyTimeout = 60 * time.Second
	// MaxBodyTime is how long a body may take in all.
	MaxBodyTime = 5 * time.Minute
)

// bodyTimeoutError is a body that stalled, or took too long in all: 408.
type bodyTimeoutError struct {
	idle  time.Duration // the stall allowed; 0 when the total time ran out
	total time.Duration
}

func (e *bodyTimeoutError) Error() string {
	if e.idle > 0 {
		return fmt.Sprintf("The request body stalled: no data for %s.", e.idle)
	}
	return fmt.Sprintf("The request body did not arrive within %s.", e.total)
}

// HTTPStatus is 408 Request Timeout.
func (e *bodyTimeoutError) HTTPStatus() int { return http.StatusRequestTimeout }

// timedBody bounds the reads of a request body: each must bring data
// within idle, and all of them end by end. It sets the connection's read
// deadline before each read, and clears it once the body has ended, so
// that the server's own watch of the connection (which cancels the
// request's context) is not cut while a handler answers.
type timedBody struct {
	rc       io.ReadCloser
	ctl      *http.ResponseController
	idle     time.Duration
	total    time.Duration
	end      time.Time
	deadline bool // a deadline of ours is set
}

func (b *timedBody) Read(p []byte) (int, error) {
	now := time.Now()
	d, byTotal := now.Add(b.idle), false
	if b.end.Before(d) {
		d, byTotal = b.end, true
	}
	if err := b.ctl.SetReadDeadline(d); err == nil {
		b.deadline = true
	}
	n, err := b.rc.Read(p)
	switch {
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		if byTotal {
			return n, &bodyTimeoutError{total: b.total}
		}
		return n, &bodyTimeoutError{idle: b.idle}
	case err != nil:
		b.clear()
	}
	return n, err
}

func (b *timedBody) Close() error {
	b.clear()
	return b.rc.Close()
}

func (b *timedBody) clear() {
	if b.deadline {
		_ = b.ctl.SetReadDeadline(time.Time{})
		b.deadline = false
	}
}

// boundBody makes r's body time out as Config.BodyTimeout and MaxBodyTime
// say.
func (s *Server) boundBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || s.cfg.BodyTimeout < 0 {
		return
	}
	idle := s.cfg.BodyTimeout
	if idle == 0 {
		idle = DefaultBodyTimeout
	}
	b := &timedBody{rc: r.Body, ctl: http.NewResponseController(w), idle: idle, total: MaxBodyTime, end: time.Now().Add(MaxBodyTime)}
	// From now: a handler that answers without reading the body leaves it
	// to the server, which reads what is left before it answers.
	if err := b.ctl.SetReadDeadline(time.Now().Add(idle)); err == nil {
		b.deadline = true
	}
	r.Body = b
}
