package couchdb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
)

func init() { feeds.Register(provider) }

var provider = feeds.Provider{
	Package:     "couchdb",
	Name:        "changes",
	Description: "Fires the trigger for every change of a CouchDB database's documents (its _changes feed), resuming where it stopped.",
	Params: []feeds.Param{
		{Name: "url", Type: feeds.String, Required: true, Description: "The CouchDB server, e.g. http://127.0.0.1:5984 (http or https; user:password@ may be in it)."},
		{Name: "dbname", Type: feeds.String, Required: true, Description: "The database whose changes fire the trigger."},
		{Name: "username", Type: feeds.String, Description: "User for HTTP basic authentication."},
		{Name: "password", Type: feeds.String, Secret: true, Description: "Password for HTTP basic authentication."},
		{Name: "filter", Type: feeds.String, Description: "A design document filter, ddoc/name, that selects the changes."},
		{Name: "query_params", Description: "A JSON object of parameters for the filter, e.g. {\"status\":\"new\"}."},
		{Name: "include_docs", Type: feeds.Bool, Description: "true: each event carries the changed document as data.doc."},
		{Name: "since", Description: "Where a new feed starts: now (default), 0 (every change the database has) or a sequence."},
	},
	New: New,
}

// The events' types.
const (
	TypeChanged = "org.apache.couchdb.document.changed"
	TypeDeleted = "org.apache.couchdb.document.deleted"
)

// Heartbeat is how often the server is asked to send a newline on an idle
// continuous feed; three missed in a row mean the connection is dead.
var Heartbeat = 10 * time.Second

// longpollTimeout is how long one longpoll request waits for a change.
const longpollTimeout = 60 * time.Second

// maxLine bounds one change line (a change with its document).
const maxLine = 64 << 20

// Changes is one instance of the feed: a follower of one database's
// _changes.
type Changes struct {
	base        *url.URL // the server, without user information
	db          string
	user, pass  string
	filter      string
	query       url.Values
	includeDocs bool
	since       string // for a new feed: "now" or a sequence
	source      string

	cfg    feeds.Config
	log    *slog.Logger
	client *http.Client
}

var _ feeds.Feed = (*Changes)(nil)

// New checks the feed's parameters and builds the instance.
func New(cfg feeds.Config) (feeds.Source, error) {
	v := cfg.Values
	raw := v.String("url")
	u, err := cfg.Egress.CheckURL(strings.TrimSpace(raw))
	if errors.Is(err, egress.ErrRefused) {
		return nil, feeds.Invalid("url", "is refused: %v", err)
	}
	if err != nil {
		return nil, feeds.Invalid("url", "must be an http:// or https:// URL of a CouchDB server, not %q", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, feeds.Invalid("url", "must not have a query or fragment: %q", raw)
	}
	c := &Changes{cfg: cfg, log: cfg.Logger, query: url.Values{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		u.User = nil
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c.base = u
	c.db = v.String("dbname")
	if !validDB(c.db) {
		return nil, feeds.Invalid("dbname", "must be a CouchDB database name (lowercase letter first, then a-z 0-9 _$()+-/), not %q", c.db)
	}
	if v.Has("username") {
		c.user = v.String("username")
	}
	if v.Has("password") {
		c.pass = v.String("password")
	}
	c.filter = v.String("filter")
	if c.filter != "" && c.filter != "_view" && c.filter != "_doc_ids" && c.filter != "_selector" && c.filter != "_design" {
		if ddoc, name, ok := strings.Cut(c.filter, "/"); !ok || ddoc == "" || name == "" || strings.Contains(name, "/") {
			return nil, feeds.Invalid("filter", "must name a design document filter as ddoc/name, not %q", c.filter)
		}
	}
	if qraw := v.JSON("query_params"); qraw != nil {
		var qp map[string]any
		var s string
		if json.Unmarshal(qraw, &s) == nil {
			qraw = []byte(s) // given as a JSON string, as `-p query_params '{...}'` may arrive
		}
		if err := json.Unmarshal(qraw, &qp); err != nil || qp == nil {
			return nil, feeds.Invalid("query_params", "must be a JSON object, not %s", v.JSON("query_params"))
		}
		for k, v := range qp {
			switch k {
			case "feed", "since", "heartbeat", "timeout", "include_docs", "filter", "limit", "descending", "style":
				return nil, feeds.Invalid("query_params", "must not set %q: the feed controls it", k)
			}
			if s, ok := v.(string); ok {
				c.query.Set(k, s)
			} else {
				b, _ := json.Marshal(v)
				c.query.Set(k, string(b))
			}
		}
	}
	c.includeDocs = v.Bool("include_docs")
	c.since = "now"
	if since := v.JSON("since"); since != nil {
		var n json.Number
		var s string
		if json.Unmarshal(since, &s) == nil {
			c.since = strings.TrimSpace(s)
		} else if json.Unmarshal(since, &n) == nil {
			c.since = n.String()
		} else {
			return nil, feeds.Invalid("since", "must be now, 0 or a sequence, not %s", since)
		}
		if c.since == "" {
			return nil, feeds.Invalid("since", "must be now, 0 or a sequence, not empty")
		}
	}
	c.source = "couchdb://" + u.Host + "/" + c.db
	dialer := cfg.Egress.Dialer() // only where the egress policy allows, checked on each dial
	dialer.Timeout = 10 * time.Second
	c.client = &http.Client{Transport: &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: longpollTimeout + 30*time.Second,
		MaxIdleConnsPerHost:   2,
	}}
	return c, nil
}

// validDB is CouchDB's rule for database names.
func validDB(s string) bool {
	if s == "" || len(s) > 238 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_$()+-/", r)) {
			return false
		}
	}
	return true
}

// checkpoint is what the feed saves after each event is stored: the
// change's seq, as the server wrote it (a string in CouchDB 2+, a number
// in PouchDB and CouchDB 1).
type checkpoint struct {
	Seq json.RawMessage `json:"seq"`
}

// change is one line of the feed, or of a longpoll's results.
type change struct {
	Seq     json.RawMessage `json:"seq"`
	ID      string          `json:"id"`
	Deleted bool            `json:"deleted"`
	LastSeq json.RawMessage `json:"last_seq"`
}

// errUnsupported is a server that refused the continuous feed; the
// instance then longpolls.
var errUnsupported = errors.New("the server does not take feed=continuous")

// Run follows the database's changes from the checkpoint (or from since,
// for a new instance) until ctx ends. Each change is emitted, and once it
// is stored its seq is checkpointed, so a restart, or another process
// taking the instance over, goes on with the next change; the one change a
// crash between the two can send again has the same event id and is
// dropped. A connection that breaks is opened again at once; one that
// cannot be opened is an error, and the manager runs the instance again
// after a backoff and shows the error in the feed's status.
func (c *Changes) Run(ctx context.Context, emit feeds.Emit) error {
	seq, err := c.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	continuous := true
	for ctx.Err() == nil {
		var next json.RawMessage
		if continuous {
			next, err = c.follow(ctx, seq, emit)
			if errors.Is(err, errUnsupported) {
				c.log.Warn("couchdb: no continuous feed; longpolling instead")
				continuous = false
				continue
			}
		} else {
			next, err = c.longpoll(ctx, seq, emit)
		}
		progressed := next != nil && !bytes.Equal(next, seq)
		if next != nil {
			seq = next
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if !progressed && continuous {
			// A stream that ended at once, without news: wait a little
			// before asking again.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// start returns the seq to follow from: the checkpoint's, else since, with
// "now" asked of the server and saved at once, so that the changes made
// while the instance is down are not skipped after a restart.
func (c *Changes) start(ctx context.Context) (json.RawMessage, error) {
	b, err := c.cfg.Checkpoint.Load(ctx)
	if err != nil {
		return nil, err
	}
	var cp checkpoint
	if len(b) > 0 && json.Unmarshal(b, &cp) == nil && len(cp.Seq) > 0 {
		return cp.Seq, nil
	}
	seq := json.RawMessage(strconv.Quote(c.since))
	if c.since == "now" {
		// The last seq of the database, as the server names it.
		var res struct {
			LastSeq json.RawMessage `json:"last_seq"`
		}
		q := url.Values{"since": {"now"}, "limit": {"0"}}
		if err := c.getJSON(ctx, q, &res); err != nil {
			return nil, err
		}
		if len(res.LastSeq) == 0 {
			return nil, fmt.Errorf("%s: _changes?since=now answered no last_seq", c.source)
		}
		seq = res.LastSeq
	} else if _, err := strconv.ParseInt(c.since, 10, 64); err == nil {
		seq = json.RawMessage(c.since)
	}
	return seq, c.save(ctx, seq)
}

// sinceParam is seq as a query parameter: a string unquoted, a number as
// written.
func sinceParam(seq json.RawMessage) string {
	var s string
	if json.Unmarshal(seq, &s) == nil {
		return s
	}
	return string(seq)
}

// changesURL is the _changes URL with q and the feed's own parameters.
func (c *Changes) changesURL(q url.Values) string {
	for k, v := range c.query {
		q[k] = v
	}
	if c.filter != "" {
		q.Set("filter", c.filter)
	}
	if c.includeDocs {
		q.Set("include_docs", "true")
	}
	return c.base.String() + "/" + url.PathEscape(c.db) + "/_changes?" + q.Encode()
}

func (c *Changes) request(ctx context.Context, q url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.changesURL(q), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	// Uncompressed: a compressing server (pouchdb-server's express) holds
	// back a continuous feed's lines and heartbeats in its gzip buffer.
	req.Header.Set("Accept-Encoding", "identity")
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.source, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, &statusError{source: c.source, status: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	return resp, nil
}

// statusError is a _changes request the server refused.
type statusError struct {
	source string
	status int
	body   string
}

func (e *statusError) Error() string {
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("%s: the server refused the credentials (HTTP %d): %s", e.source, e.status, e.body)
	case http.StatusNotFound:
		return fmt.Sprintf("%s: no such database, or no such filter (HTTP 404): %s", e.source, e.body)
	}
	return fmt.Sprintf("%s: _changes answered HTTP %d: %s", e.source, e.status, e.body)
}

func (c *Changes) getJSON(ctx context.Context, q url.Values, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.request(ctx, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxLine)).Decode(v); err != nil {
		return fmt.Errorf("%s: unreadable _changes answer: %w", c.source, err)
	}
	return nil
}

// follow reads the continuous feed from seq, emitting each change, until
// the stream ends or breaks; it returns the last seq checkpointed (nil
// when none).
func (c *Changes) follow(ctx context.Context, seq json.RawMessage, emit feeds.Emit) (json.RawMessage, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	q := url.Values{"feed": {"continuous"}, "since": {sinceParam(seq)},
		"heartbeat": {strconv.FormatInt(Heartbeat.Milliseconds(), 10)}}
	resp, err := c.request(ctx, q)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusBadRequest && strings.Contains(se.body, "feed") {
		return nil, errUnsupported
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// The watchdog ends a connection that sent nothing, not even a
	// heartbeat, for three heartbeats.
	silent := time.AfterFunc(3*Heartbeat, func() {
		cancel(fmt.Errorf("%s: no heartbeat for %v", c.source, 3*Heartbeat))
	})
	defer silent.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var last json.RawMessage
	for sc.Scan() {
		silent.Reset(3 * Heartbeat)
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue // a heartbeat
		}
		var ch change
		if err := json.Unmarshal(line, &ch); err != nil {
			return last, fmt.Errorf("%s: unreadable change %.200q: %w", c.source, line, err)
		}
		if len(ch.Seq) == 0 {
			continue // the last_seq line that ends the feed
		}
		if err := c.deliver(ctx, ch, line, emit); err != nil {
			return last, err
		}
		last = ch.Seq
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return last, err
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return last, fmt.Errorf("%s: changes stream broke: %w", c.source, err)
	}
	return last, nil
}

// longpoll asks for the changes after seq, waiting for one when there is
// none, and emits them.
func (c *Changes) longpoll(ctx context.Context, seq json.RawMessage, emit feeds.Emit) (json.RawMessage, error) {
	q := url.Values{"feed": {"longpoll"}, "since": {sinceParam(seq)},
		"timeout": {strconv.FormatInt(longpollTimeout.Milliseconds(), 10)}}
	resp, err := c.request(ctx, q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res struct {
		Results []json.RawMessage `json:"results"`
		LastSeq json.RawMessage   `json:"last_seq"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(&res); err != nil {
		return nil, fmt.Errorf("%s: unreadable longpoll answer: %w", c.source, err)
	}
	var last json.RawMessage
	for _, line := range res.Results {
		var ch change
		if err := json.Unmarshal(line, &ch); err != nil || len(ch.Seq) == 0 {
			return last, fmt.Errorf("%s: unreadable change %.200q", c.source, line)
		}
		if err := c.deliver(ctx, ch, line, emit); err != nil {
			return last, err
		}
		last = ch.Seq
	}
	if len(res.LastSeq) > 0 && !bytes.Equal(res.LastSeq, seq) && !bytes.Equal(res.LastSeq, last) {
		if err := c.save(ctx, res.LastSeq); err != nil {
			return last, err
		}
		last = res.LastSeq
	}
	return last, nil
}

// deliver emits the change and, once it is stored, checkpoints its seq.
func (c *Changes) deliver(ctx context.Context, ch change, raw []byte, emit feeds.Emit) error {
	if err := emit(ctx, c.event(ch, raw)); err != nil {
		return fmt.Errorf("emit change %s of %s: %w", sinceParam(ch.Seq), ch.ID, err)
	}
	return c.save(ctx, ch.Seq)
}

// save checkpoints seq, even when ctx just ended: the change was stored.
func (c *Changes) save(ctx context.Context, seq json.RawMessage) error {
	b, _ := json.Marshal(checkpoint{Seq: seq})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return c.cfg.Checkpoint.Save(ctx, b)
}

// event is the CloudEvent of a change: its id is the database and the seq,
// so that a change sent again after a crash is dropped as a duplicate.
func (c *Changes) event(ch change, raw []byte) event.Event {
	e := event.New()
	e.SetID(c.db + "/" + sinceParam(ch.Seq))
	e.SetSource(c.source)
	e.SetType(TypeChanged)
	if ch.Deleted {
		e.SetType(TypeDeleted)
	}
	if ch.ID != "" {
		e.SetSubject(hub.SafeAttribute(ch.ID))
	}
	e.SetTime(c.cfg.Now())
	_ = e.SetData(event.ApplicationJSON, raw) // bytes are taken as they are
	return e
}
