package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// QueueHeader, on a /run request, says the invoker sent it while another
// activation may still run in the container: it waits for its turn at the
// proxy rather than at the invoker, so that the action starts it as soon
// as the one ahead has ended. Its value is the activation's time limit in
// milliseconds.
//
// When its turn comes the proxy answers 102 Processing before it hands the
// request to the action, and sets the request's "deadline" to the time
// limit from then: the activation's time limit starts with that answer.
// An answer with no 102 before it means the action never got the request:
// when the language process is gone by the request's turn (the one ahead
// exhausted its memory, timed out or crashed), the proxy answers 503 with
// QueueHeader set to QueueNotRun, and the invoker may run the activation
// elsewhere. Only a launcher that runs one request at a time waits; to a
// concurrent one requests pass at once, with their 102.
const QueueHeader = "Gust-Queue"

// RunTimeHeader, on the answer to a /run, is how long the action took in
// the container, in microseconds, up to its answer: from the request's
// arrival, or for a queued one (QueueHeader) from its turn. A request
// sent without QueueHeader to a launcher that runs one at a time counts
// its wait for the one ahead: its container's slot is taken meanwhile.
// The invoker's pool scales an action's containers by it: the time the
// invoker holds a container also counts how long the answer waited for
// the invoker, which is no reason to start another container.
const RunTimeHeader = "Gust-Run-Time"

// QueueNotRun is QueueHeader's value on the answer to a queued request
// that the action never got.
const QueueNotRun = "not-run"

// LeadHeader, on a queued /run, says the invoker sent it to a container
// that was idle, ahead of any queued behind it: when its turn is free the
// proxy starts it at once, with no 102 and its "deadline" as sent, so that
// a lone activation pays for no informational answer. One queued behind it
// may still reach the proxy first (another connection) and hold the turn:
// the lead then answers 102 with QueueHeader set to QueueWaiting at once,
// and waits for its turn as any queued request does, with its 102 when the
// turn comes.
const LeadHeader = "Gust-Lead"

// QueueWaiting is QueueHeader's value on the 102 that tells a lead
// request (LeadHeader) it waits for its turn: its time limit starts with
// the 102 that follows.
const QueueWaiting = "waiting"

// queueLimit reads QueueHeader: the time limit, and whether the request
// is queued.
func queueLimit(r *http.Request) (time.Duration, bool) {
	v := r.Header.Get(QueueHeader)
	if v == "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		ms = int64(time.Hour / time.Millisecond)
	}
	return time.Duration(ms) * time.Millisecond, true
}

// deadlinePrefix starts a request line whose first field is its deadline,
// as Gust's invoker sends it.
var deadlinePrefix = []byte(`{"deadline":"`)

// withDeadline returns the compact JSON object line with its "deadline"
// field set to t, in Unix milliseconds as a string.
func withDeadline(line []byte, t time.Time) []byte {
	ms := strconv.AppendInt(nil, t.UnixMilli(), 10)
	if rest, ok := bytes.CutPrefix(line, deadlinePrefix); ok {
		if end := bytes.IndexByte(rest, '"'); end >= 0 {
			out := make([]byte, 0, len(line)+len(ms))
			out = append(out, deadlinePrefix...)
			out = append(out, ms...)
			return append(out, rest[end:]...)
		}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return line // runLine let only JSON objects through
	}
	m["deadline"] = json.RawMessage(`"` + string(ms) + `"`)
	out, err := json.Marshal(m)
	if err != nil {
		return line
	}
	return out
}
