package actions

import "github.com/nats-io/nats.go/jetstream"

// JetStream is the store's, for tests that batch writes to it.
func (s *ActivationStore) JetStream() jetstream.JetStream { return s.js }
