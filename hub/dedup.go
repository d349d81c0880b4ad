package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventIDsStream remembers which events the rule engine has taken, by
// namespace, trigger, source and id, for each event's duplicate window: one
// small message per event on gust.eventids.<hash>, removed by its own TTL
// when the window ends. It is how a redelivery of an event (a GitHub
// redelivery days later, a producer's retry hours later) runs nothing,
// long after the events stream's own duplicate window (dedupWindow) has
// forgotten it.
const EventIDsStream = "GUST_EVENT_IDS"

const eventIDsPrefix = "gust.eventids"

// Duplicate windows.
const (
	// DefaultDedupWindow is how long an event's id is remembered unless
	// its trigger says otherwise: GitHub lets a user redeliver a hook for
	// three days.
	DefaultDedupWindow = 72 * time.Hour
	// MinDedupWindow and MaxDedupWindow bound a window.
	MinDedupWindow = time.Second
	MaxDedupWindow = 30 * 24 * time.Hour
	// DefaultEventIDsBytes bounds the disk the ids take: about 180 bytes
	// each on disk and 270 bytes of the server's memory (BenchmarkDedup),
	// so some 700 thousand ids in 128 MiB of disk and 190 MB of memory.
	// When it is full, the oldest ids go first: their windows end early.
	DefaultEventIDsBytes = 128 << 20
)

// EventIDs is the store of EventIDsStream.
type EventIDs struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// OpenEventIDs creates or updates the event ids stream, keeping at most
// maxBytes (DefaultEventIDsBytes when 0 or less): serve provisions it once
// at start; the rule engine binds it (BindEventIDs).
func OpenEventIDs(ctx context.Context, js jetstream.JetStream, maxBytes int64) (*EventIDs, error) {
	st, err := OpenStream(ctx, js, eventIDsConfig(maxBytes))
	if err != nil {
		return nil, err
	}
	return &EventIDs{js: js, stream: st}, nil
}

// BindEventIDs returns the event ids store as it is, creating its stream as
// OpenEventIDs(ctx, js, 0) would only when it does not exist.
func BindEventIDs(ctx context.Context, js jetstream.JetStream) (*EventIDs, error) {
	st, err := BindStream(ctx, js, eventIDsConfig(0))
	if err != nil {
		return nil, err
	}
	return &EventIDs{js: js, stream: st}, nil
}

func eventIDsConfig(maxBytes int64) jetstream.StreamConfig {
	if maxBytes <= 0 {
		maxBytes = DefaultEventIDsBytes
	}
	return jetstream.StreamConfig{
		Name:              EventIDsStream,
		Subjects:          []string{eventIDsPrefix + ".>"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		MaxAge:            MaxDedupWindow,
		MaxBytes:          maxBytes,
		Discard:           jetstream.DiscardOld,
		AllowMsgTTL:       true,
	}
}

// EventKey names an event of trigger t in namespace ns for Claim:
// CloudEvents are unique by source and id together.
func EventKey(ns, t, source, id string) string {
	h := sha256.New()
	for _, p := range []string{ns, t, source, id} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Claim takes the event named key (EventKey) for owner, an id of the one
// stored message that carries it, for window. It reports true when the
// event is owner's: nobody had taken it within its window, or owner itself
// had (the same message, delivered again). It reports false for a
// duplicate: another message took the event less than its window ago.
func (s *EventIDs) Claim(ctx context.Context, key, owner string, window time.Duration) (bool, error) {
	window = min(max(window, MinDedupWindow), MaxDedupWindow)
	for range 3 {
		m, opts := claimMsg(key, owner, window)
		_, err := Publish(ctx, s.js, m, opts...)
		if mine, done, err := s.settle(ctx, key, owner, err); done {
			return mine, err
		}
	}
	return false, fmt.Errorf("claim event %s: its id keeps appearing and expiring", key)
}

// Claiming is a Claim started in a batch of writes (ClaimIn).
type Claiming struct {
	s          *EventIDs
	w          *Write
	key, owner string
	window     time.Duration
}

// ClaimIn starts Claim(ctx, key, owner, window) as a write of b, so that
// the claims of many events are stored together; once b's Wait returned,
// the Claiming's Result is Claim's answer.
func (s *EventIDs) ClaimIn(b *Batch, key, owner string, window time.Duration) *Claiming {
	window = min(max(window, MinDedupWindow), MaxDedupWindow)
	m, opts := claimMsg(key, owner, window)
	return &Claiming{s: s, w: b.Publish(m, opts...), key: key, owner: owner, window: window}
}

// Result is Claim's answer for the claim, once its batch's Wait returned.
func (c *Claiming) Result(ctx context.Context) (bool, error) {
	if mine, done, err := c.s.settle(ctx, c.key, c.owner, c.w.Err()); done {
		return mine, err
	}
	return c.s.Claim(ctx, c.key, c.owner, c.window) // the other claim's window ended meanwhile
}

// claimMsg is the message that claims the event named key for owner: the
// first on its subject, gone after window.
func claimMsg(key, owner string, window time.Duration) (*nats.Msg, []jetstream.PublishOpt) {
	return &nats.Msg{Subject: eventIDsPrefix + "." + key, Data: []byte(owner)},
		[]jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(0), jetstream.WithMsgTTL(window)}
}

// settle is what a claim's write, which ended with err, says: whether the
// event is owner's, and done unless the claim is to be written again.
func (s *EventIDs) settle(ctx context.Context, key, owner string, err error) (mine, done bool, _ error) {
	if err == nil {
		return true, true, nil
	}
	if !IsWrongLastSequence(err) {
		return false, true, fmt.Errorf("claim event %s: %w", key, err)
	}
	m, err := s.stream.GetLastMsgForSubject(ctx, eventIDsPrefix+"."+key)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, false, nil // its window ended meanwhile
	}
	if err != nil {
		return false, true, fmt.Errorf("claim event %s: %w", key, err)
	}
	return string(m.Data) == owner, true, nil
}

// Owner returns the id of the message that took the event named key
// (EventKey), and whether one did within its window.
func (s *EventIDs) Owner(ctx context.Context, key string) (string, bool, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, eventIDsPrefix+"."+key)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up event %s: %w", key, err)
	}
	return string(m.Data), true, nil
}

// IsWrongLastSequence reports whether err is JetStream's refusal of a
// publish whose expected last sequence per subject did not hold.
func IsWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
