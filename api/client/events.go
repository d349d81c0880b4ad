package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxErrorAnswer bounds how much of an error answer to a stream is read.
const maxErrorAnswer = 64 << 10

// ErrServerShutdown is EventStream.Next's error when the server ended the
// stream because it is shutting down.
var ErrServerShutdown = errors.New("the server is shutting down")

// The trailer with which the server ends a stream as it shuts down.
const (
	streamEndTrailer  = "Gust-Stream-End"
	streamEndShutdown = "shutdown"
)

// EventStream is an open stream of the outcomes of trigger events, from
// Events. It is not safe for concurrent use.
type EventStream struct {
	resp *http.Response
	rd   *bufio.Reader
}

// Events opens a stream of the outcomes of the events of the caller's
// triggers (of trigger only, when it is not empty; "/ns/name" names
// namespace ns, which must be the caller's) from now on, a Gust extension.
// The stream lasts until ctx ends or Close is called. The server's refusal
// is an *Error (404: no such trigger; 403: another namespace).
func (c *Client) Events(ctx context.Context, trigger string) (*EventStream, error) {
	ns, name := DefaultNamespace, ""
	q := url.Values{}
	if trigger != "" {
		ns, name = SplitName(trigger)
		q.Set("trigger", name)
	}
	req, err := c.newRequest(ctx, http.MethodGet, namespacePath(ns, "events", ""), q, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorAnswer))
		return nil, answerError(resp.StatusCode, b)
	}
	return &EventStream{resp: resp, rd: bufio.NewReader(resp.Body)}, nil
}

// Next returns the stream's next line, skipping heartbeats: an outcome
// (rules.Outcome as JSON) or a notice {"dropped": N} that the server lost
// N outcomes because the stream fell behind. It returns ErrServerShutdown
// when the server ended the stream because it is shutting down, io.EOF
// when it ended it otherwise, and the context's error once it ended.
func (s *EventStream) Next() ([]byte, error) {
	for {
		line, err := s.rd.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, nil
		}
		switch {
		case errors.Is(err, io.EOF) && s.resp.Trailer.Get(streamEndTrailer) == streamEndShutdown:
			return nil, ErrServerShutdown
		case errors.Is(err, io.EOF):
			return nil, io.EOF
		case err != nil:
			return nil, fmt.Errorf("read the event stream: %w", err)
		}
	}
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.resp.Body.Close() }
