package feeds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// Buckets of the feed manager's state.
const (
	instancesBucket   = "gust_feeds"
	statusBucket      = "gust_feed_status"
	checkpointsBucket = "gust_feed_checkpoints"
	leasesBucket      = "gust_feed_leases"
)

// Instance is a feed bound to a trigger, as stored: what CREATE and UPDATE
// configured.
type Instance struct {
	Namespace string `json:"namespace"`
	Trigger   string `json:"trigger"`
	// Feed is the provider's path, "alarms/alarm".
	Feed   string `json:"feed"`
	Params Params `json:"params"`
	// Paused is set by PAUSE and cleared by UNPAUSE.
	Paused bool `json:"paused,omitempty"`
	// Done is set when the instance finished (Run returned nil) so that no
	// owner runs it again; UPDATE clears it.
	Done    bool  `json:"done,omitempty"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
}

// TriggerName is the instance's trigger.
func (in *Instance) TriggerName() actions.Name {
	return actions.Name{Namespace: in.Namespace, Name: in.Trigger}
}

// runState is what the instance's owner last wrote of it.
type runState struct {
	Owner       string `json:"owner,omitempty"`
	Running     bool   `json:"running"`
	Since       int64  `json:"since,omitempty"`
	Events      int64  `json:"events"`
	LastEvent   int64  `json:"lastEvent,omitempty"`
	LastError   string `json:"lastError,omitempty"`
	LastErrorAt int64  `json:"lastErrorAt,omitempty"`
	Connected   *bool  `json:"connected,omitempty"` // as the instance last reported it (Condition)
	Dropped     int64  `json:"dropped,omitempty"`
}

// state is the manager's view of the buckets.
type state struct {
	instances   *hub.Collection[Instance]
	runs        *hub.Collection[runState]
	checkpoints jetstream.KeyValue
	leases      jetstream.KeyValue
}

func openState(ctx context.Context, js jetstream.JetStream, leaseTTL time.Duration) (*state, error) {
	instances, err := hub.OpenCollection[Instance](ctx, js, instancesBucket)
	if err != nil {
		return nil, err
	}
	runs, err := hub.OpenCollection[runState](ctx, js, statusBucket)
	if err != nil {
		return nil, err
	}
	checkpoints, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: checkpointsBucket, History: 1, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", checkpointsBucket, err)
	}
	// A lease is a key its owner rewrites every leaseTTL/3; the bucket's
	// TTL drops the key of an owner that died, and another takes it.
	leases, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: leasesBucket, History: 1, Storage: jetstream.FileStorage, TTL: leaseTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", leasesBucket, err)
	}
	return &state{instances: instances, runs: runs, checkpoints: checkpoints, leases: leases}, nil
}

// forget removes what the buckets hold of the instance under key, except
// its lease, which its owner releases when it sees the instance go.
func (s *state) forget(ctx context.Context, key string) {
	_ = s.runs.Delete(ctx, key, 0)
	_ = s.runs.Delete(ctx, key+receivedSuffix, 0)
	_ = s.checkpoints.Purge(ctx, key)
}

// kvCheckpoint is a Checkpoint in the checkpoints bucket.
type kvCheckpoint struct {
	kv  jetstream.KeyValue
	key string
}

func (c kvCheckpoint) Load(ctx context.Context) ([]byte, error) {
	e, err := c.kv.Get(ctx, c.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", c.key, err)
	}
	return e.Value(), nil
}

func (c kvCheckpoint) Save(ctx context.Context, b []byte) error {
	if _, err := c.kv.Put(ctx, c.key, b); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", c.key, err)
	}
	return nil
}
