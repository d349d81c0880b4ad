package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/internal/backoff"
)

// Errors a Collection returns; callers branch on them with errors.Is.
var (
	// ErrNotFound means no value is stored under the key.
	ErrNotFound = errors.New("not found")
	// ErrExists means Create found a value already stored under the key.
	ErrExists = errors.New("already exists")
	// ErrConflict means the value changed since the revision the caller read.
	ErrConflict = errors.New("concurrent modification")
)

// Collection stores values of one type as JSON in a JetStream key-value
// bucket, with optimistic concurrency by revision. Keys are built with Key.
type Collection[T any] struct {
	kv     jetstream.KeyValue
	stream jetstream.Stream // the bucket's, for Revision
	// leader, set for a replicated bucket, reads from the stream's leader
	// (see readLeader).
	leader *nats.Conn
	bucket string
}

// Entry is a value with the revision it was read at.
type Entry[T any] struct {
	Key      string
	Value    T
	Revision uint64
}

// OpenCollection creates the bucket if it does not exist and returns the
// collection over it.
func OpenCollection[T any](ctx context.Context, js jetstream.JetStream, bucket string) (*Collection[T], error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:  bucket,
		History: 1,
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	st, err := createdStream(ctx, js, "KV_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	c := &Collection[T]{kv: kv, stream: st, bucket: bucket}
	if r, ok := js.(replicated); ok && r.replicas > 1 {
		c.leader = js.Conn()
	}
	return c, nil
}

// createdStream returns stream name, which the caller just created or
// updated: on a cluster, a node that has not yet applied the creation
// answers "not found" for a moment, and a busy one not at all, so those
// answers are tried again for up to createdWait.
func createdStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	deadline := time.Now().Add(createdWait)
	wait := waitReport{what: "stream " + name, started: time.Now()}
	if r, ok := js.(replicated); ok {
		wait.log = r.log
	}
	for {
		// Each try has a limit of its own: under a caller's long
		// deadline, one lost answer would otherwise wait it all out.
		tctx, cancel := context.WithTimeout(ctx, createdTry)
		st, err := js.Stream(tctx, name)
		cancel()
		again := errors.Is(err, jetstream.ErrStreamNotFound) || transient(err)
		if !again || ctx.Err() != nil || time.Now().After(deadline) {
			return st, err
		}
		wait.failed(err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// createdWait bounds createdStream's tries, createdTry each one.
const (
	createdWait = 30 * time.Second
	createdTry  = 5 * time.Second
)

// Get returns the value under key and its revision, or ErrNotFound.
func (c *Collection[T]) Get(ctx context.Context, key string) (T, uint64, error) {
	var v T
	var data []byte
	var rev uint64
	var err error
	// A read that nobody answered (on a cluster, the bucket's leader was
	// lost a moment ago) is made again while another is elected.
	deadline := time.Now().Add(leaderWait)
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for {
		if c.leader != nil {
			data, rev, err = readLeader(ctx, c.leader, c.bucket, key)
		} else {
			var e jetstream.KeyValueEntry
			if e, err = c.kv.Get(ctx, key); err == nil {
				data, rev = e.Value(), e.Revision()
			}
		}
		pause := b.Next()
		if err == nil || !transient(err) || ctx.Err() != nil || time.Now().Add(pause).After(deadline) {
			break
		}
		backoff.Wait(ctx, pause) // an ended ctx ends the loop after the next read
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return v, 0, fmt.Errorf("get %s: %w", key, ErrNotFound)
		}
		return v, 0, fmt.Errorf("get %s: %w", key, err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, rev, nil
}

// readLeader reads the value of key in bucket, and its revision, from the
// leader of the bucket's stream. A key-value Get is a direct get, which
// JetStream lets any replica nearly caught up answer: on a cluster, a read
// right after a write could miss it (a rule PUT right after its trigger's
// was refused, "trigger does not exist"). Turning direct gets off on the
// bucket is no cure: every process's CreateOrUpdateKeyValue turns them on
// again, and handles bound meanwhile get no answer.
func readLeader(ctx context.Context, nc *nats.Conn, bucket, key string) ([]byte, uint64, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderReadTimeout)
		defer cancel()
	}
	req, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	if err != nil {
		return nil, 0, err
	}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, err
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     uint16 `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq     uint64 `json:"seq"`
			Headers []byte `json:"hdrs"`
			Data    []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("read %s from the leader: %w", key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errCodeNoMessageFound:
		return nil, 0, jetstream.ErrKeyNotFound
	case resp.Error != nil:
		return nil, 0, &jetstream.APIError{Code: resp.Error.Code, ErrorCode: jetstream.ErrorCode(resp.Error.ErrCode), Description: resp.Error.Description}
	case resp.Message == nil:
		return nil, 0, fmt.Errorf("read %s from the leader: an answer without a message", key)
	}
	if len(resp.Message.Headers) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Headers)
		if err != nil {
			return nil, 0, fmt.Errorf("read %s from the leader: %w", key, err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil, 0, jetstream.ErrKeyDeleted
		}
	}
	return resp.Message.Data, resp.Message.Seq, nil
}

// readLeader's bound when the caller set none, as JetStream's own API calls.
const leaderReadTimeout = 5 * time.Second

// JetStream's answer to a get of a subject that holds no message.
const errCodeNoMessageFound = 10037

// Create stores v under key unless a value is there already (ErrExists).
func (c *Collection[T]) Create(ctx context.Context, key string, v T) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err := c.kv.Create(ctx, key, b)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("create %s: %w", key, ErrExists)
		}
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	return rev, nil
}

// Update replaces the value under key if it is still at revision rev
// (ErrConflict otherwise).
func (c *Collection[T]) Update(ctx context.Context, key string, v T, rev uint64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	nrev, err := c.kv.Update(ctx, key, b, rev)
	if err != nil {
		if isWrongSequence(err) {
			return 0, fmt.Errorf("update %s: %w", key, ErrConflict)
		}
		return 0, fmt.Errorf("update %s: %w", key, err)
	}
	return nrev, nil
}

// Put stores v under key whatever is there.
func (c *Collection[T]) Put(ctx context.Context, key string, v T) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err := c.kv.Put(ctx, key, b)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return rev, nil
}

// Delete removes the value under key if it is still at revision rev; rev 0
// deletes whatever is there.
func (c *Collection[T]) Delete(ctx context.Context, key string, rev uint64) error {
	var opts []jetstream.KVDeleteOpt
	if rev != 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	if err := c.kv.Delete(ctx, key, opts...); err != nil {
		if isWrongSequence(err) {
			return fmt.Errorf("delete %s: %w", key, ErrConflict)
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List returns every value whose key matches filter (a subject pattern such
// as "guest.>"), in key order of their last update.
func (c *Collection[T]) List(ctx context.Context, filter string) ([]Entry[T], error) {
	w, err := c.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	defer func() { _ = w.Stop() }()
	var out []Entry[T]
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list %s: %w", filter, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return out, nil
			}
			if e == nil { // the watcher has delivered every current value
				return out, nil
			}
			var v T
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
			}
			out = append(out, Entry[T]{Key: e.Key(), Value: v, Revision: e.Revision()})
		}
	}
}

// Watch delivers the current values whose keys match filter and then every
// change, until ctx ends. A Change with Ready set marks the end of the
// initial values.
// Deleted keys arrive with Deleted set.
func (c *Collection[T]) Watch(ctx context.Context, filter string) (<-chan Change[T], error) {
	w, err := c.kv.Watch(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", filter, err)
	}
	out := make(chan Change[T], 64)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				var ch Change[T]
				if e == nil {
					ch.Ready = true
				} else {
					ch.Key, ch.Revision = e.Key(), e.Revision()
					ch.Deleted = e.Operation() != jetstream.KeyValuePut
					if !ch.Deleted && json.Unmarshal(e.Value(), &ch.Value) != nil {
						continue // a value this version cannot read is skipped, not fatal
					}
				}
				select {
				case out <- ch:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// Revision returns the bucket's latest revision: that of its last change,
// to any key. A Watch that has delivered a change of this revision has
// delivered every change made before the call.
func (c *Collection[T]) Revision(ctx context.Context) (uint64, error) {
	// The bucket's last message, by a direct get: cheaper than its stream
	// state, which goes through JetStream's API queue. The subject is ">",
	// which the server answers from its last sequence; any other wildcard
	// would cost in proportion to the keys.
	m, err := c.stream.GetLastMsgForSubject(ctx, ">")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bucket revision: %w", err)
	}
	return m.Sequence, nil
}

// Change is one update delivered by Watch.
type Change[T any] struct {
	Key      string
	Value    T
	Revision uint64
	Deleted  bool
	// Ready marks that every value present when the watch began has been
	// delivered.
	Ready bool
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}

// ListNewest is List's values ordered as SortNewestFirst orders them, by
// the update time updated reads from a value: never nil, so that an empty
// list is [] in JSON.
func (c *Collection[T]) ListNewest(ctx context.Context, filter string, updated func(T) int64) ([]T, error) {
	es, err := c.List(ctx, filter)
	if err != nil {
		return nil, err
	}
	SortNewestFirst(es, updated)
	out := make([]T, len(es))
	for i, e := range es {
		out[i] = e.Value
	}
	return out, nil
}

// SortNewestFirst orders entries by their update time, latest first, and
// entries updated in the same millisecond by revision (write order), so
// that lists page deterministically.
func SortNewestFirst[T any](es []Entry[T], updated func(T) int64) {
	sort.SliceStable(es, func(i, j int) bool {
		ui, uj := updated(es[i].Value), updated(es[j].Value)
		if ui != uj {
			return ui > uj
		}
		return es[i].Revision > es[j].Revision
	})
}

// lazyKV is a key-value bucket opened on its first use, and created as
// cfg says when it does not exist, for keepers that are made before
// JetStream has the bucket. A failed open is tried again on the next use.
type lazyKV struct {
	js  jetstream.JetStream
	cfg jetstream.KeyValueConfig

	mu sync.Mutex
	kv jetstream.KeyValue
}

func (l *lazyKV) open(ctx context.Context) (jetstream.KeyValue, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv != nil {
		return l.kv, nil
	}
	kv, err := l.js.KeyValue(ctx, l.cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = l.js.CreateOrUpdateKeyValue(ctx, l.cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", l.cfg.Bucket, err)
	}
	l.kv = kv
	return kv, nil
}
