package hub

import (
	"context"
	"errors"
	"fmt"

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
	servers  int // what the hub knows of the cluster's size, for errors
}

func (r replicated) stream(cfg jetstream.StreamConfig) jetstream.StreamConfig {
	if cfg.Replicas == 0 {
		cfg.Replicas = r.replicas
	}
	return cfg
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
)

func (r replicated) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg = r.stream(cfg)
	st, err := r.JetStream.CreateStream(ctx, cfg)
	return st, r.explain("stream "+cfg.Name, cfg.Replicas, err)
}

func (r replicated) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg = r.stream(cfg)
	st, err := r.JetStream.UpdateStream(ctx, cfg)
	return st, r.explain("stream "+cfg.Name, cfg.Replicas, err)
}

func (r replicated) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg = r.stream(cfg)
	st, err := r.JetStream.CreateOrUpdateStream(ctx, cfg)
	return st, r.explain("stream "+cfg.Name, cfg.Replicas, err)
}

func (r replicated) kv(cfg jetstream.KeyValueConfig) jetstream.KeyValueConfig {
	if cfg.Replicas == 0 {
		cfg.Replicas = r.replicas
	}
	return cfg
}

func (r replicated) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg = r.kv(cfg)
	kv, err := r.JetStream.CreateKeyValue(ctx, cfg)
	return kv, r.explain("bucket "+cfg.Bucket, cfg.Replicas, err)
}

func (r replicated) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg = r.kv(cfg)
	kv, err := r.JetStream.UpdateKeyValue(ctx, cfg)
	return kv, r.explain("bucket "+cfg.Bucket, cfg.Replicas, err)
}

func (r replicated) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg = r.kv(cfg)
	kv, err := r.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
	return kv, r.explain("bucket "+cfg.Bucket, cfg.Replicas, err)
}

func (r replicated) obj(cfg jetstream.ObjectStoreConfig) jetstream.ObjectStoreConfig {
	if cfg.Replicas == 0 {
		cfg.Replicas = r.replicas
	}
	return cfg
}

func (r replicated) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg = r.obj(cfg)
	os, err := r.JetStream.CreateObjectStore(ctx, cfg)
	return os, r.explain("object store "+cfg.Bucket, cfg.Replicas, err)
}

func (r replicated) UpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg = r.obj(cfg)
	os, err := r.JetStream.UpdateObjectStore(ctx, cfg)
	return os, r.explain("object store "+cfg.Bucket, cfg.Replicas, err)
}

func (r replicated) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg = r.obj(cfg)
	os, err := r.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
	return os, r.explain("object store "+cfg.Bucket, cfg.Replicas, err)
}
