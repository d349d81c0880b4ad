package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
)

// Event data larger than a NATS message may carry (GitHub sends up to
// 25 MB) does not travel in the event's message: PublishEvent puts it in
// the object store DataBucket and the event carries the CloudEvents
// "dataref" extension instead, a reference "gust-data:<object>".
// ResolveData puts the data back before the event is used. Every
// publisher (feeds, the API's fires) and every consumer that needs the
// data (the rule engine) go through these two, so a feed needs no code of
// its own for large payloads.
const (
	// DataBucket is the object store of offloaded event data; objects
	// live as long as events in EventsStream (7 days).
	DataBucket = "GUST_EVENT_DATA"
	// DataRefExtension is the CloudEvents extension that names offloaded data.
	DataRefExtension = "dataref"
	// DataRefScheme prefixes the datarefs Gust resolves itself.
	DataRefScheme = "gust-data:"
)

// InlineDataLimit is the largest event data that travels inside the
// event's message; larger data is offloaded to DataBucket. It leaves room
// under NATS's default 1 MB message limit for the headers.
const InlineDataLimit = 768 << 10

var dataStores sync.Map // bucket name + jetstream.JetStream → jetstream.ObjectStore

type storeKey struct {
	bucket string
	js     jetstream.JetStream
}

// dataStore opens (creating it once) the bucket of offloaded event data.
func dataStore(ctx context.Context, js jetstream.JetStream) (jetstream.ObjectStore, error) {
	return objectStore(ctx, js, jetstream.ObjectStoreConfig{Bucket: DataBucket,
		Description: "event data too large for a message", Storage: jetstream.FileStorage, TTL: 7 * 24 * time.Hour})
}

// objectStore opens the object store cfg names, creating it as cfg says
// when it does not exist, once per connection.
func objectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	k := storeKey{cfg.Bucket, js}
	if os, ok := dataStores.Load(k); ok {
		return os.(jetstream.ObjectStore), nil
	}
	os, err := js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		os, err = js.CreateOrUpdateObjectStore(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", cfg.Bucket, err)
	}
	dataStores.Store(k, os)
	return os, nil
}

// offloadData moves e's data to DataBucket when it is larger than
// InlineDataLimit and sets e's dataref; the object's name is derived from
// the trigger and the event's source and id, so a redelivery overwrites
// the same object.
func offloadData(ctx context.Context, js jetstream.JetStream, ns, t string, e *event.Event) error {
	if len(e.Data()) <= InlineDataLimit {
		return nil
	}
	os, err := dataStore(ctx, js)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(e.Source() + "\x00" + e.ID()))
	name := Key(ns, t) + "." + hex.EncodeToString(sum[:16])
	if _, err := os.Put(ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader(e.Data())); err != nil {
		return fmt.Errorf("offload the data of event %s (%d bytes): %w", e.ID(), len(e.Data()), err)
	}
	e.SetExtension(DataRefExtension, DataRefScheme+name)
	e.DataEncoded = nil
	return nil
}

// ResolveData puts back the data of an event whose data PublishEvent
// offloaded, and removes its dataref. Events with their data, or with a
// dataref that is not Gust's, are left as they are. Data no longer in the
// store (older than the events' retention) is an error.
func ResolveData(ctx context.Context, js jetstream.JetStream, e *event.Event) error {
	ref, _ := e.Extensions()[DataRefExtension].(string)
	name, ours := strings.CutPrefix(ref, DataRefScheme)
	if !ours || len(e.Data()) > 0 {
		return nil
	}
	os, err := dataStore(ctx, js)
	if err != nil {
		return err
	}
	b, err := os.GetBytes(ctx, name)
	if err != nil {
		return fmt.Errorf("read the offloaded data of event %s: %w", e.ID(), err)
	}
	e.DataEncoded = b
	e.SetExtension(DataRefExtension, nil)
	return nil
}
