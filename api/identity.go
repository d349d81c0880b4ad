package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/nats-io/nats.go/jetstream"
)

// DevGuestKey is OpenWhisk's well-known key of namespace guest, accepted
// when Gust runs with --dev-guest-key so that wsk habits and scripts work.
const DevGuestKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

// KeyLength is the length of a key's secret part, as OpenWhisk's.
const KeyLength = 64

const identitiesBucket = "gust_identities"

// Identity is one key of a namespace: whoever presents UUID and the secret
// whose hash is KeyHash acts in Namespace. Admin identities may also create
// namespaces.
type Identity struct {
	UUID      string `json:"uuid"`
	Namespace string `json:"namespace"`
	// KeyHash is the hex SHA-256 of the secret. Secrets are 64 random
	// alphanumerics (381 bits), so a fast hash is as safe as a slow one.
	KeyHash string `json:"keyHash"`
	Admin   bool   `json:"admin,omitempty"`
	Created int64  `json:"created"`
}

// Identities keeps namespace keys in JetStream. Identities read for a
// successful authentication are remembered for identityTTL, so that a busy
// API does not read the bucket on every request; a key removed from the
// bucket stops working at most that much later.
type Identities struct {
	c *hub.Collection[Identity]

	mu     sync.Mutex
	cached map[string]cachedIdentity // by uuid
}

type cachedIdentity struct {
	ident Identity
	until time.Time
}

// identityTTL is how long an authenticated identity is remembered.
const identityTTL = 5 * time.Second

// maxCachedIdentities bounds the cache; it is emptied when full.
const maxCachedIdentities = 10000

// OpenIdentities opens (creating it if needed) the identities bucket.
func OpenIdentities(ctx context.Context, js jetstream.JetStream) (*Identities, error) {
	c, err := hub.OpenCollection[Identity](ctx, js, identitiesBucket)
	if err != nil {
		return nil, err
	}
	return &Identities{c: c, cached: map[string]cachedIdentity{}}, nil
}

// ErrBadCredentials means the uuid:key pair matches no identity.
var ErrBadCredentials = errors.New("bad credentials")

// Authenticate returns the identity of uuid:key, or ErrBadCredentials.
func (ids *Identities) Authenticate(ctx context.Context, id, key string) (*Identity, error) {
	if len(id) == 0 || len(id) > 64 || strings.ContainsAny(id, ".*> ") {
		return nil, ErrBadCredentials
	}
	now := time.Now()
	ids.mu.Lock()
	c, hit := ids.cached[id]
	ids.mu.Unlock()
	ident := c.ident
	stale := !hit || now.After(c.until)
	if stale {
		var err error
		ident, _, err = ids.c.Get(ctx, hub.Key(id))
		if errors.Is(err, hub.ErrNotFound) {
			return nil, ErrBadCredentials
		}
		if err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(ident.KeyHash)) != 1 {
		return nil, ErrBadCredentials
	}
	if stale {
		ids.mu.Lock()
		if len(ids.cached) >= maxCachedIdentities {
			clear(ids.cached)
		}
		ids.cached[id] = cachedIdentity{ident: ident, until: now.Add(identityTTL)}
		ids.mu.Unlock()
	}
	return &ident, nil
}

// Create makes a new key for namespace ns and returns it as "uuid:secret";
// only its hash is stored.
func (ids *Identities) Create(ctx context.Context, ns string, admin bool) (string, error) {
	if err := actions.CheckNamespace(ns); err != nil {
		return "", err
	}
	auth := uuid.NewString() + ":" + randomSecret()
	if err := ids.Add(ctx, ns, auth, admin); err != nil {
		return "", err
	}
	return auth, nil
}

// Add registers the given "uuid:secret" key for namespace ns; it is a no-op
// when that key is already registered for ns.
func (ids *Identities) Add(ctx context.Context, ns, auth string, admin bool) error {
	id, secret, ok := strings.Cut(auth, ":")
	if !ok || id == "" || secret == "" {
		return fmt.Errorf("a key has the form uuid:secret")
	}
	if existing, err := ids.Authenticate(ctx, id, secret); err == nil && existing.Namespace == ns {
		return nil
	}
	sum := sha256.Sum256([]byte(secret))
	_, err := ids.c.Put(ctx, hub.Key(id), Identity{
		UUID: id, Namespace: ns, KeyHash: hex.EncodeToString(sum[:]), Admin: admin, Created: time.Now().UnixMilli(),
	})
	ids.mu.Lock()
	delete(ids.cached, id) // this process sees its own change at once
	ids.mu.Unlock()
	return err
}

// Namespaces lists the namespaces that have at least one key.
func (ids *Identities) Namespaces(ctx context.Context) ([]string, error) {
	es, err := ids.c.List(ctx, ">")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range es {
		if !seen[e.Value.Namespace] {
			seen[e.Value.Namespace] = true
			out = append(out, e.Value.Namespace)
		}
	}
	sort.Strings(out)
	return out, nil
}

// HasNamespace reports whether ns has at least one key.
func (ids *Identities) HasNamespace(ctx context.Context, ns string) (bool, error) {
	all, err := ids.Namespaces(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range all {
		if n == ns {
			return true, nil
		}
	}
	return false, nil
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomSecret returns 64 alphanumerics drawn uniformly.
func randomSecret() string {
	out := make([]byte, KeyLength)
	buf := make([]byte, 1)
	for i := 0; i < KeyLength; {
		_, _ = rand.Read(buf)
		if int(buf[0]) >= 256-256%len(secretAlphabet) {
			continue // reject to keep the draw uniform
		}
		out[i] = secretAlphabet[int(buf[0])%len(secretAlphabet)]
		i++
	}
	return string(out)
}
