package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/gusthub/gust/hub"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket and object store names.
const (
	actionsBucket  = "gust_actions"
	packagesBucket = "gust_packages"
	codeStore      = "gust_code"
)

// inlineCodeLimit is the largest code kept inside the action's KV value;
// larger code goes to the object store, since NATS servers commonly limit
// messages to 1 MB.
const inlineCodeLimit = 256 << 10

// Store keeps actions and packages in JetStream.
type Store struct {
	actions  *hub.Collection[storedAction]
	packages *hub.Collection[Package]
	code     jetstream.ObjectStore
	// The revisions of the latest writes through this Store, which its
	// Caches wait for.
	wroteActions, wrotePackages atomic.Uint64
}

// wrote notes that revision rev of a bucket was written through s.
func wrote(w *atomic.Uint64, rev uint64) {
	for {
		old := w.Load()
		if rev <= old || w.CompareAndSwap(old, rev) {
			return
		}
	}
}

// wroteLatest notes a write through s whose revision is unknown (a
// deletion): the bucket's latest revision covers it.
func wroteLatest[T any](ctx context.Context, w *atomic.Uint64, c *hub.Collection[T]) {
	if rev, err := c.Revision(ctx); err == nil {
		wrote(w, rev)
	}
}

// storedAction is an action as kept in its bucket: large code lives in the
// object store under CodeObject.
type storedAction struct {
	Action
	CodeObject string `json:"codeObject,omitempty"`
}

// OpenStore opens (creating them if needed) the buckets behind a Store.
func OpenStore(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	acts, err := hub.OpenCollection[storedAction](ctx, js, actionsBucket)
	if err != nil {
		return nil, err
	}
	pkgs, err := hub.OpenCollection[Package](ctx, js, packagesBucket)
	if err != nil {
		return nil, err
	}
	code, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: codeStore, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", codeStore, err)
	}
	return &Store{actions: acts, packages: pkgs, code: code}, nil
}

func actionKey(n Name) string { return hub.Key(n.Namespace, n.Package, n.Name) }

// GetAction returns the action named n with its revision; withCode false
// leaves Exec.Code empty. It returns hub.ErrNotFound if there is none.
func (s *Store) GetAction(ctx context.Context, n Name, withCode bool) (*Action, uint64, error) {
	sa, rev, err := s.actions.Get(ctx, actionKey(n))
	if err != nil {
		return nil, 0, err
	}
	a := sa.Action
	if !withCode {
		a.Exec.Code = ""
	} else if sa.CodeObject != "" {
		b, err := s.code.GetBytes(ctx, sa.CodeObject)
		if err != nil {
			return nil, 0, fmt.Errorf("read code of %s: %w", n, err)
		}
		a.Exec.Code = string(b)
	}
	return &a, rev, nil
}

// PutAction stores a: created when rev is 0 (hub.ErrExists if present),
// else updated if still at rev (hub.ErrConflict otherwise).
func (s *Store) PutAction(ctx context.Context, a *Action, rev uint64) (uint64, error) {
	n := a.FullName()
	sa := storedAction{Action: *a}
	if len(a.Exec.Code) > inlineCodeLimit {
		// A unique name per write: two racing creates must not share (and
		// then delete) one object.
		obj := fmt.Sprintf("%s@%s#%s", actionKey(n), a.Version, NewActivationID())
		if _, err := s.code.Put(ctx, jetstream.ObjectMeta{Name: obj}, strings.NewReader(a.Exec.Code)); err != nil {
			return 0, fmt.Errorf("store code of %s: %w", n, err)
		}
		sa.Exec.Code, sa.CodeObject = "", obj
	}
	var err error
	if rev == 0 {
		rev, err = s.actions.Create(ctx, actionKey(n), sa)
	} else {
		var old storedAction
		old, _, _ = s.actions.Get(ctx, actionKey(n))
		rev, err = s.actions.Update(ctx, actionKey(n), sa, rev)
		if err == nil && old.CodeObject != "" && old.CodeObject != sa.CodeObject {
			_ = s.code.Delete(ctx, old.CodeObject)
		}
	}
	if err != nil && sa.CodeObject != "" {
		_ = s.code.Delete(ctx, sa.CodeObject)
	}
	if err == nil {
		wrote(&s.wroteActions, rev)
	}
	return rev, err
}

// DeleteAction removes the action named n if still at rev (0: any).
func (s *Store) DeleteAction(ctx context.Context, n Name, rev uint64) error {
	sa, _, err := s.actions.Get(ctx, actionKey(n))
	if err != nil {
		return err
	}
	if err := s.actions.Delete(ctx, actionKey(n), rev); err != nil {
		return err
	}
	wroteLatest(ctx, &s.wroteActions, s.actions)
	if sa.CodeObject != "" {
		if err := s.code.Delete(ctx, sa.CodeObject); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("delete code of %s: %w", n, err)
		}
	}
	return nil
}

// ListActions returns the actions of namespace ns (all of them, packaged ones
// too) or, when pkg is not empty, of that package; newest first, without
// code.
func (s *Store) ListActions(ctx context.Context, ns, pkg string) ([]Action, error) {
	filter := hub.EncodeToken(ns) + ".>"
	if pkg != "" {
		filter = hub.Key(ns, pkg) + ".*"
	}
	stored, err := s.actions.ListNewest(ctx, filter, func(a storedAction) int64 { return a.Updated })
	if err != nil {
		return nil, err
	}
	out := make([]Action, len(stored))
	for i, a := range stored {
		out[i] = a.Action
		out[i].Exec.Code = ""
	}
	return out, nil
}

// WatchActions delivers every action, without its code, and then every
// change, until ctx ends (see hub.Collection.Watch), for readers that keep
// actions in memory.
func (s *Store) WatchActions(ctx context.Context) (<-chan hub.Change[Action], error) {
	in, err := s.actions.Watch(ctx, ">")
	if err != nil {
		return nil, err
	}
	out := make(chan hub.Change[Action], 64)
	go func() {
		defer close(out)
		for ch := range in {
			a := ch.Value.Action
			a.Exec.Code = ""
			select {
			case out <- hub.Change[Action]{Key: ch.Key, Value: a, Revision: ch.Revision, Deleted: ch.Deleted, Ready: ch.Ready}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// WatchPackages delivers every package and then every change, until ctx
// ends (see hub.Collection.Watch).
func (s *Store) WatchPackages(ctx context.Context) (<-chan hub.Change[Package], error) {
	return s.packages.Watch(ctx, ">")
}

// ActionsRevision and PackagesRevision are the latest revisions of the
// actions and of the packages (see hub.Collection.Revision).
func (s *Store) ActionsRevision(ctx context.Context) (uint64, error) { return s.actions.Revision(ctx) }
func (s *Store) PackagesRevision(ctx context.Context) (uint64, error) {
	return s.packages.Revision(ctx)
}

func packageKey(n Name) string { return hub.Key(n.Namespace, n.Name) }

// GetPackage returns the package named n (its Package field is ignored).
func (s *Store) GetPackage(ctx context.Context, n Name) (*Package, uint64, error) {
	p, rev, err := s.packages.Get(ctx, packageKey(n))
	if err != nil {
		return nil, 0, err
	}
	return &p, rev, nil
}

// PutPackage stores p: created when rev is 0, else updated if still at rev.
func (s *Store) PutPackage(ctx context.Context, p *Package, rev uint64) (uint64, error) {
	var err error
	if rev == 0 {
		rev, err = s.packages.Create(ctx, packageKey(p.FullName()), *p)
	} else {
		rev, err = s.packages.Update(ctx, packageKey(p.FullName()), *p, rev)
	}
	if err == nil {
		wrote(&s.wrotePackages, rev)
	}
	return rev, err
}

// DeletePackage removes the package named n if still at rev (0: any).
func (s *Store) DeletePackage(ctx context.Context, n Name, rev uint64) error {
	if err := s.packages.Delete(ctx, packageKey(n), rev); err != nil {
		return err
	}
	wroteLatest(ctx, &s.wrotePackages, s.packages)
	return nil
}

// ListPackages returns the packages of namespace ns, newest first.
func (s *Store) ListPackages(ctx context.Context, ns string) ([]Package, error) {
	return s.packages.ListNewest(ctx, hub.EncodeToken(ns)+".*", packageUpdated)
}

// ListPublicPackages returns the published packages of every namespace but
// ns, newest first.
func (s *Store) ListPublicPackages(ctx context.Context, exclude string) ([]Package, error) {
	all, err := s.packages.ListNewest(ctx, ">", packageUpdated)
	if err != nil {
		return nil, err
	}
	var out []Package
	for _, p := range all {
		if p.Publish && p.Namespace != exclude {
			out = append(out, p)
		}
	}
	return out, nil
}

func packageUpdated(p Package) int64 { return p.Updated }
