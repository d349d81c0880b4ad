package docker

import (
	"bytes"
	"io"
	"time"

	"github.com/docker/docker/pkg/stdcopy"

	"github.com/gusthub/gust/invoker"
)

// maxLine is the longest line delivered whole; longer lines are split.
const maxLine = 64 << 10

// pump demultiplexes the container's attached output into lines on c.logs
// and closes it when the streams end.
func (c *Container) pump(r io.Reader) {
	defer close(c.pumpDone)
	defer close(c.logs)
	stdout := &lineWriter{stream: "stdout", emit: c.emit}
	stderr := &lineWriter{stream: "stderr", emit: c.emit}
	_, err := stdcopy.StdCopy(stdout, stderr, r)
	close(c.streamsDone)
	select {
	case <-c.gone:
	default:
		if err != nil {
			c.s.log.Debug("container output ended", "container", c.id, "err", err)
		}
	}
	stdout.flush()
	stderr.flush()
}

// emit delivers one line, unless the container has been destroyed.
func (c *Container) emit(l invoker.LogLine) {
	select {
	case c.logs <- l:
	case <-c.gone:
	}
}

// lineWriter splits what is written to it into lines, each timestamped when
// its newline arrives.
type lineWriter struct {
	stream string
	buf    []byte
	emit   func(invoker.LogLine)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLine {
				w.send(w.buf[:maxLine])
				w.buf = w.buf[maxLine:]
			}
			break
		}
		if len(w.buf) == 0 {
			w.send(p[:i])
		} else {
			w.buf = append(w.buf, p[:i]...)
			w.send(w.buf)
			w.buf = w.buf[:0]
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush delivers a last line that has no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.send(w.buf)
		w.buf = nil
	}
}

func (w *lineWriter) send(b []byte) {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	w.emit(invoker.LogLine{Time: time.Now(), Stream: w.stream, Text: string(b)})
}
