package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Invocation parameters larger than InlineDataLimit (a 20 MB invoke body,
// a 20 MB GitHub delivery's data) do not travel in the invocation's
// message either: the controller stores them in the object store
// ParamsBucket under the activation's id (StoreParams) and the invoker
// reads them right before the action's /run (LoadParams), then deletes
// them once the activation's record is stored (DropParams). What a dead
// invoker leaves behind expires with ParamsTTL, the invocation queue's own
// retention: an invocation older than that is gone from the queue too.
const (
	// ParamsBucket is the object store of offloaded invocation parameters.
	ParamsBucket = "GUST_INVOCATION_DATA"
	// ParamsTTL bounds how long offloaded parameters are kept.
	ParamsTTL = 24 * time.Hour
)

// ErrParamsGone is LoadParams' error for parameters no longer stored
// (expired, or deleted after an earlier delivery of the invocation ran).
var ErrParamsGone = errors.New("the invocation's parameters are no longer stored")

func paramsStore(ctx context.Context, js jetstream.JetStream) (jetstream.ObjectStore, error) {
	return objectStore(ctx, js, jetstream.ObjectStoreConfig{Bucket: ParamsBucket,
		Description: "invocation parameters too large for a message", Storage: jetstream.FileStorage, TTL: ParamsTTL})
}

// StoreParams stores the parameters b of activation id and returns the
// reference the invocation carries instead of them.
func StoreParams(ctx context.Context, js jetstream.JetStream, id string, b []byte) (ref string, err error) {
	os, err := paramsStore(ctx, js)
	if err != nil {
		return "", err
	}
	if _, err := os.Put(ctx, jetstream.ObjectMeta{Name: id}, bytes.NewReader(b)); err != nil {
		return "", fmt.Errorf("store the parameters of activation %s (%d bytes): %w", id, len(b), err)
	}
	return DataRefScheme + id, nil
}

// LoadParams returns the parameters StoreParams stored under ref.
func LoadParams(ctx context.Context, js jetstream.JetStream, ref string) ([]byte, error) {
	name, err := paramsName(ref)
	if err != nil {
		return nil, err
	}
	os, err := paramsStore(ctx, js)
	if err != nil {
		return nil, err
	}
	b, err := os.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("read %s: %w", ref, ErrParamsGone)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	return b, nil
}

// DropParams deletes the parameters stored under ref; parameters already
// gone are no error.
func DropParams(ctx context.Context, js jetstream.JetStream, ref string) error {
	name, err := paramsName(ref)
	if err != nil {
		return err
	}
	os, err := paramsStore(ctx, js)
	if err != nil {
		return err
	}
	if err := os.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	return nil
}

func paramsName(ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, DataRefScheme)
	if !ok || name == "" {
		return "", fmt.Errorf("%q is not a reference to stored parameters", ref)
	}
	return name, nil
}
