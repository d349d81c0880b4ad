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
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
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
	w.buf = append(w.buf, p...)
	// Deliver the full chunks of an overlong line, keeping at least a byte
	// so that a newline right after a chunk does not make an empty line.
	if len(w.buf) > maxLine {
		k := (len(w.buf) - 1) / maxLine * maxLine
		w.send(w.buf[:k])
		w.buf = append(w.buf[:0], w.buf[k:]...)
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

// send delivers b as one line, or as several if it is longer than maxLine.
func (w *lineWriter) send(b []byte) {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	for {
		chunk := b[:min(len(b), maxLine)]
		w.emit(invoker.LogLine{Time: time.Now(), Stream: w.stream, Text: string(chunk)})
		b = b[len(chunk):]
		if len(b) == 0 {
			return
		}
	}
}
