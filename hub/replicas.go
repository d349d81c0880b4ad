package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gusthub/gust/internal/backoff"
	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats.go/jetstream"
)

// replicated is the hub's JetStream: every stream, key-value bucket and
// object store created or updated through it that does not name its
// replication gets the hub's, so that no package need know whether Gust
// runs alone or on a cluster. Updating an existing stream to more replicas
// makes JetStream copy it to more servers.
type replicated struct {
	jetstream.JetStream
	replicas int
	servers  int          // what the hub knows of the cluster's size, for errors
	log      *slog.Logger // says what a create or update that is tried again waits for
}

// explain turns JetStream's answer to a replication it cannot give into
// one that says what to change.
func (r replicated) explain(name string, replicas int, err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode {
	case errCodeNoPeers, errCodeInsufficientResources, errCodeReplicasNotSupported:
		return fmt.Errorf("%s needs %d replicas but the NATS cluster cannot place them (it has %d server(s) with JetStream): start more servers or lower --replicas: %w",
			name, replicas, r.servers, err)
	}
	return err
}

// JetStream's answers to a replication larger than its cluster.
const (
	errCodeNoPeers               jetstream.ErrorCode = 10005 // no suitable peers for placement
	errCodeInsufficientResources jetstream.ErrorCode = 10023
	errCodeReplicasNotSupported  jetstream.ErrorCode = 10074 // replicas > 1 on a server that runs alone
	errCodeClusterNotAvailable   jetstream.ErrorCode = 10008 // no meta leader (yet)
)

// place fills in the hub's replication when cfg names none, makes the call
// and explains a replication the cluster cannot give. notFoundAgain says
// that the stream is known to exist or to be under creation, so that a
// "not found" is an answer to try again.
func place[C, R any](ctx context.Context, r replicated, what string, notFoundAgain bool, cfg *C, replicas *int, call func(context.Context, C) (R, error)) (R, error) {
	if *replicas == 0 {
		*replicas = r.replicas
	}
	if r.servers <= 1 {
		res, err := call(ctx, *cfg)
		return res, r.explain(what, *replicas, err)
	}
	// On a cluster, placing a replicated stream takes the meta leader and
	// then a new RAFT group: on a busy machine, or while a leader is being
	// elected, a try may go unanswered. Creating and updating to one
	// config is idempotent, so the hub tries again for a while.
	deadline := time.Now().Add(provisionWait)
	try := backoff.Backoff{Min: provisionFirstTry, Max: provisionLastTry}
	wait := waitReport{log: r.log, what: what, started: time.Now()}
	for {
		tctx, cancel := context.WithTimeout(ctx, try.Next())
		res, err := call(tctx, *cfg)
		cancel()
		again := transient(err) || notFoundAgain && (errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound))
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) || !again {
			return res, r.explain(what, *replicas, err)
		}
		wait.failed(err)
		backoff.Wait(ctx, provisionPause) // an ended ctx ends the loop after the next call
	}
}

// createOrUpdate creates what cfg describes, or updates it to cfg when it
// exists with another config. It creates first, where JetStream's
// CreateOrUpdate asks for an update first: on a cluster, an update that
// reaches the meta leader while another process's creation of the same
// stream is under way (gust serve processes started together, each
// provisioning every store) has both of their answers lost, so each
// waited out a try's time limit, for every stream, bucket and object
// store. Identical creates at once are all answered; a create that finds
// the stream with another config is refused ("already in use") at once,
// and only then is it updated.
func createOrUpdate[C, R any](ctx context.Context, r replicated, what string, cfg *C, replicas *int, create, update func(context.Context, C) (R, error)) (R, error) {
	res, err := place(ctx, r, what, false, cfg, replicas, create)
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return res, err
	}
	return place(ctx, r, what, true, cfg, replicas, update)
}

// waitReport says, while a create or update is tried again, what it
// waits for: once it has waited waitReportFirst, then every
// waitReportEvery.
type waitReport struct {
	log     *slog.Logger
	what    string
	started time.Time
	said    time.Time
}

// When a wait for JetStream is first reported, and how often then: a
// moment's wait is usual on a cluster, and not reported.
const (
	waitReportFirst = 2 * time.Second
	waitReportEvery = 5 * time.Second
)

// failed reports a try that failed with err and is made again, when due.
func (w *waitReport) failed(err error) {
	if w.log == nil {
		return
	}
	if w.said.IsZero() && time.Since(w.started) < waitReportFirst || !w.said.IsZero() && time.Since(w.said) < waitReportEvery {
		return
	}
	w.said = time.Now()
	w.log.Info("waiting for JetStream to create or update a stream (it needs a meta leader, and a leader for the stream's replicas); trying again",
		"what", w.what, "waited", time.Since(w.started).Round(100*time.Millisecond).String(), "err", err)
}

// How long the hub keeps trying to create or update a stream on a
// cluster, the pause between tries, and how long each try may take (twice
// the last one, up to provisionLastTry): short at first, so that an
// answer lost costs seconds, not ten; longer when the cluster is slow to
// answer at all.
const (
	provisionWait     = time.Minute
	provisionPause    = 500 * time.Millisecond
	provisionFirstTry = 2 * time.Second
	provisionLastTry  = 10 * time.Second
)

// Unavailable reports whether err says that JetStream could not answer or
// store: no leader for the stream or for the cluster (this node is on the
// minority side of a partition, or an election is under way), or no
// answer in time. Nothing was stored; a later try may succeed.
func Unavailable(err error) bool { return err != nil && transient(err) }

// Interrupted reports whether err says that the connection to NATS was
// lost while the request was under way (its server went away: the client
// is reconnecting to another): what it asked to store may or may not be
// stored, and a try once the client has reconnected may succeed.
func Interrupted(err error) bool {
	return errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting)
}

// Unconfirmed reports whether err says that the stream's leader took a
// write but could not confirm it: a message with its id is still "in
// process" there (a leader that lost its quorum cannot commit it). It may
// or may not be stored in the end; a try with the same id later is
// dropped as a duplicate if it was.
func Unconfirmed(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMsgIDInProcess
}

// errCodeMsgIDInProcess is JetStream's answer to a publish whose message
// id the stream's leader is still storing (409, "duplicate message id is
// in process").
const errCodeMsgIDInProcess jetstream.ErrorCode = 10158

// transient reports whether a JetStream request failed for want of an
// answer or of a leader, which a later try may get.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == errCodeClusterNotAvailable
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrNoHeartbeat)
}

func (r replicated) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return place(ctx, r, "stream "+cfg.Name, false, &cfg, &cfg.Replicas, r.JetStream.CreateStream)
}

func (r replicated) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return place(ctx, r, "stream "+cfg.Name, false, &cfg, &cfg.Replicas, r.JetStream.UpdateStream)
}

// CreateOrUpdateStream creates the stream, or updates it to cfg when it
// exists with another config (see createOrUpdate).
func (r replicated) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return createOrUpdate(ctx, r, "stream "+cfg.Name, &cfg, &cfg.Replicas, r.JetStream.CreateStream, r.JetStream.UpdateStream)
}

func (r replicated) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return place(ctx, r, "bucket "+cfg.Bucket, false, &cfg, &cfg.Replicas, r.JetStream.CreateKeyValue)
}

func (r replicated) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return place(ctx, r, "bucket "+cfg.Bucket, false, &cfg, &cfg.Replicas, r.JetStream.UpdateKeyValue)
}

// CreateOrUpdateKeyValue creates the bucket, or updates it to cfg when
// it exists with another config (see createOrUpdate).
func (r replicated) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return createOrUpdate(ctx, r, "bucket "+cfg.Bucket, &cfg, &cfg.Replicas, r.JetStream.CreateKeyValue, r.JetStream.UpdateKeyValue)
}

func (r replicated) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return place(ctx, r, "object store "+cfg.Bucket, false, &cfg, &cfg.Replicas, r.JetStream.CreateObjectStore)
}

func (r replicated) UpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return place(ctx, r, "object store "+cfg.Bucket, false, &cfg, &cfg.Replicas, r.JetStream.UpdateObjectStore)
}

// CreateOrUpdateObjectStore creates the object store, or updates it to
// cfg when it exists with another config (see createOrUpdate).
func (r replicated) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return createOrUpdate(ctx, r, "object store "+cfg.Bucket, &cfg, &cfg.Replicas, r.JetStream.CreateObjectStore, r.JetStream.UpdateObjectStore)
}
