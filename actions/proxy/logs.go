package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// LogsHeader, on an /init or /run request, asks the proxy for the
// activation's logs with its answer instead of on the container's streams;
// its value is how many bytes of log text the activation may keep. An
// answer that ends an activation (every /run answer, a failed /init's)
// then carries LogsHeader too, with the value "inline", and its body is an
// InlineAnswer. From the first such request on, the proxy keeps what the
// action writes (it no longer reaches the container's streams) until an
// answer takes it: an invoker that reads logs this way need not follow the
// container's output, nor wait for sentinels on it. A request without the
// header that ends an activation then has that activation's logs written
// to the container's streams, with the sentinels, as before; so does an
// activation whose client went away.
//
// The value LogsNone says the invoker does not want the logs at all (it
// does not collect them from activations that share a container): from
// then on the proxy drops what the action writes and writes no sentinels,
// and its answers are plain.
const LogsHeader = "Gust-Logs"

// LogsNone is the LogsHeader value of an invoker that wants no logs.
const LogsNone = "none"

// InlineAnswer is the body of an answer to a request with LogsHeader.
type InlineAnswer struct {
	// Body is the answer's body without LogsHeader.
	Body json.RawMessage `json:"body"`
	// Logs are the lines the action wrote since the last activation ended,
	// in the order the proxy read them.
	Logs []LogLine `json:"logs"`
	// Truncated says lines were dropped for want of room (LogsHeader);
	// Incomplete that the action's output could not be read to its end.
	Truncated  bool `json:"truncated,omitempty"`
	Incomplete bool `json:"incomplete,omitempty"`
}

// LogLine is one line of an action's output.
type LogLine struct {
	// Time is when the proxy read the line, in Unix nanoseconds.
	Time int64 `json:"t"`
	// Stream is "stdout" or "stderr".
	Stream string `json:"s"`
	Text   string `json:"l"`
}

// maxLogLine is the longest line kept whole; longer lines are split, as
// the invoker splits them on the container's streams.
const maxLogLine = 64 << 10

// defaultLogLimit bounds the log text kept before a request says how much.
const defaultLogLimit = 10 << 20

// floodAt is how much an activation with a log limit of limit bytes may
// write before the proxy stops it: 64 MiB past its limit. The output past
// the limit is dropped, as OpenWhisk drops it, and an action a little past
// it still succeeds as in OpenWhisk (a 20 MB burst against 1 MB does); but
// an action that kept writing would spend its CPU, and the proxy's, until
// its timeout.
func floodAt(limit int) int { return limit + 64<<20 }

// floodMessage is the error of an activation stopped for its output.
func floodMessage(limit int) string {
	return fmt.Sprintf("The action was stopped because it wrote more than %d bytes of logs; its log limit is %d bytes.", floodAt(limit), limit)
}

// logEndWait bounds how long an answer waits for the action's output
// before the sentinels the proxy wrote to it.
const logEndWait = 2 * time.Second

// inlineLogs keeps the action's output for the answers that take it.
type inlineLogs struct {
	mu         sync.Mutex
	on         bool // the output is kept, not written to the streams
	discard    bool // nor kept (LogsNone)
	lines      []LogLine
	size       int
	limit      int
	truncated  bool
	output     int           // bytes the action wrote since the last activation ended
	flooded    bool          // output passed floodAt(limit)
	onFlood    func()        // called once when flooded is set, without mu held
	marks      [2]int        // sentinels read per stream
	moved      chan struct{} // closed and replaced when a sentinel is read
	written    int           // sentinels written per stream
	writeMu    sync.Mutex    // orders writers of sentinels
	dst        [2]io.Writer  // the container's streams
	streamName [2]string
}

func newInlineLogs(stdout, stderr io.Writer) *inlineLogs {
	return &inlineLogs{limit: defaultLogLimit, moved: make(chan struct{}),
		dst: [2]io.Writer{stdout, stderr}, streamName: [2]string{"stdout", "stderr"}}
}

// requested reads a request's LogsHeader; it turns keeping (or with
// LogsNone discarding) on for good. It reports whether the answer takes
// the logs.
func (l *inlineLogs) requested(r *http.Request) bool {
	v := r.Header.Get(LogsHeader)
	if v == "" {
		return false
	}
	if v == LogsNone {
		l.mu.Lock()
		l.on, l.discard = true, true
		l.mu.Unlock()
		return false
	}
	limit, err := strconv.Atoi(v)
	if err != nil || limit <= 0 {
		limit = defaultLogLimit
	}
	l.mu.Lock()
	l.on, l.limit = true, limit
	l.mu.Unlock()
	return true
}

// mode says whether the output is kept, or dropped.
func (l *inlineLogs) mode() (keeping, discarding bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on && !l.discard, l.discard
}

// copyStream copies the pipe r of stream i (0 stdout, 1 stderr) line by
// line: to the container's stream, or while keeping, into l. It counts the
// sentinels it reads; a sentinel after a partial line ends that line.
func (l *inlineLogs) copyStream(i int, r io.Reader) {
	br := bufio.NewReaderSize(r, maxLogLine)
	sentinel := []byte(Sentinel)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			text := bytes.TrimSuffix(bytes.TrimSuffix(chunk, []byte{'\n'}), []byte{'\r'})
			isMark := bytes.HasSuffix(text, sentinel) && len(chunk) > len(text)
			l.mu.Lock()
			on, flood := l.on, false
			if on {
				if isMark {
					text = text[:len(text)-len(sentinel)]
				}
				if (len(text) > 0 || !isMark) && !l.discard {
					flood = l.addLocked(i, text)
				}
			}
			if isMark {
				l.marks[i]++
				close(l.moved)
				l.moved = make(chan struct{})
			}
			l.mu.Unlock()
			if flood && l.onFlood != nil {
				l.onFlood()
			}
			if !on {
				// The destination failing leaves nothing to do but drain.
				_, _ = l.dst[i].Write(chunk)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// addLocked keeps a line while there is room; it reports true when the
// line makes the activation's output pass floodAt(limit).
func (l *inlineLogs) addLocked(i int, text []byte) bool {
	l.output += len(text) + 1
	if l.truncated {
		if !l.flooded && l.output > floodAt(l.limit) {
			l.flooded = true
			return true
		}
		return false
	}
	if l.size+len(text) > l.limit {
		l.truncated = true
		return false
	}
	l.size += len(text)
	l.lines = append(l.lines, LogLine{Time: time.Now().UnixNano(), Stream: l.streamName[i], Text: string(text)})
	return false
}

// floodLimit returns the log limit when the activation's output passed
// floodAt of it, else 0.
func (l *inlineLogs) floodLimit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.flooded {
		return l.limit
	}
	return 0
}

// end writes the sentinels to the pipes out and errOut, waits until they
// have been read, and takes what the activation wrote before them.
func (l *inlineLogs) end(out, errOut *os.File) InlineAnswer {
	l.writeMu.Lock()
	l.written++
	want := l.written
	line := []byte(Sentinel + "\n")
	_, err1 := out.Write(line)
	_, err2 := errOut.Write(line)
	l.writeMu.Unlock()
	timeout := time.NewTimer(logEndWait)
	defer timeout.Stop()
	complete := err1 == nil && err2 == nil
	l.mu.Lock()
	for complete && (l.marks[0] < want || l.marks[1] < want) {
		moved := l.moved
		l.mu.Unlock()
		select {
		case <-moved:
		case <-timeout.C:
			complete = false
		}
		l.mu.Lock()
	}
	a := InlineAnswer{Logs: l.lines, Truncated: l.truncated, Incomplete: !complete}
	l.lines, l.size, l.truncated, l.output, l.flooded = nil, 0, false, 0, false
	l.mu.Unlock()
	if a.Logs == nil {
		a.Logs = []LogLine{}
	}
	return a
}

// writeOut writes an activation's kept lines and the sentinels to the
// container's streams, for an answer that does not take them.
func (l *inlineLogs) writeOut(a InlineAnswer) {
	var buf [2]bytes.Buffer
	for _, ln := range a.Logs {
		i := 0
		if ln.Stream == "stderr" {
			i = 1
		}
		buf[i].WriteString(ln.Text)
		buf[i].WriteByte('\n')
	}
	for i := range buf {
		buf[i].WriteString(Sentinel + "\n")
		_, _ = l.dst[i].Write(buf[i].Bytes())
	}
}

// writeInline answers with body wrapped in an InlineAnswer.
func writeInline(w http.ResponseWriter, code int, body []byte, a InlineAnswer) {
	a.Body = bytes.TrimSpace(body)
	if len(a.Body) == 0 || !json.Valid(a.Body) {
		b, _ := json.Marshal(string(body))
		a.Body = b
	}
	b, err := json.Marshal(a)
	if err != nil {
		b, _ = json.Marshal(InlineAnswer{Body: a.Body, Logs: []LogLine{}, Incomplete: true})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(LogsHeader, "inline")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
