package feeds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// PackageStore is what Install needs of the action store.
type PackageStore interface {
	GetAction(ctx context.Context, n actions.Name, withCode bool) (*actions.Action, uint64, error)
	PutAction(ctx context.Context, a *actions.Action, rev uint64) (uint64, error)
	GetPackage(ctx context.Context, n actions.Name) (*actions.Package, uint64, error)
	PutPackage(ctx context.Context, p *actions.Package, rev uint64) (uint64, error)
}

// builtinCode is the code of a feed action entity. The API runs feed
// actions itself; this only answers the odd caller that reaches the
// entity another way (a rule pointing at it).
const builtinCode = `// Built into Gust: the API carries out this feed action itself.
function main() {
  return { error: "This feed action is built into Gust. Use it as a trigger's feed: gust trigger create T --feed <package>/<feed> -p ..." };
}
`

// Install puts each provider's package and feed action in the system
// namespace, published so every namespace can use and bind them, with
// OpenWhisk's "feed" and "parameters" annotations. Entities already as
// they should be are left alone.
func Install(ctx context.Context, store PackageStore, reg *Registry, now time.Time) error {
	byPackage := map[string][]Provider{}
	var order []string
	for _, p := range reg.Providers() {
		if _, ok := byPackage[p.Package]; !ok {
			order = append(order, p.Package)
		}
		byPackage[p.Package] = append(byPackage[p.Package], p)
	}
	for _, pkg := range order {
		feeds := byPackage[pkg]
		names := make([]string, len(feeds))
		for i, p := range feeds {
			names[i] = p.Name
		}
		want := actions.Package{Namespace: actions.SystemNamespace, Name: pkg, Version: actions.InitialVersion,
			Publish: true, Updated: now.UnixMilli(),
			Annotations: actions.KeyValues{}.Set("description", fmt.Sprintf("Gust's %s feeds: %v", pkg, names))}
		n := actions.Name{Namespace: actions.SystemNamespace, Name: pkg}
		err := racing(func() error {
			cur, rev, err := store.GetPackage(ctx, n)
			if err != nil && !errors.Is(err, hub.ErrNotFound) {
				return err
			}
			if cur != nil && cur.Publish && sameJSON(cur.Annotations, want.Annotations) {
				return nil
			}
			_, err = store.PutPackage(ctx, &want, rev)
			return err
		})
		if err != nil {
			return fmt.Errorf("install package %s: %w", pkg, err)
		}
		for _, p := range feeds {
			if err := racing(func() error { return installAction(ctx, store, p, now) }); err != nil {
				return fmt.Errorf("install feed %s: %w", p.Path(), err)
			}
		}
	}
	return nil
}

// racing runs an install step again when another process installing at
// the same time got there first (two Gust processes starting together).
func racing(step func() error) error {
	var err error
	for range 5 {
		if err = step(); !errors.Is(err, hub.ErrExists) && !errors.Is(err, hub.ErrConflict) {
			return err
		}
	}
	return err
}

func installAction(ctx context.Context, store PackageStore, p Provider, now time.Time) error {
	n := actions.Name{Namespace: actions.SystemNamespace, Package: p.Package, Name: p.Name}
	want := actions.Action{Namespace: n.Path(), Name: p.Name, Version: actions.InitialVersion,
		Exec:   actions.Exec{Kind: "nodejs:20", Code: builtinCode},
		Limits: actions.DefaultLimits(), Publish: true, Updated: now.UnixMilli(),
		Annotations: actions.KeyValues{}.
			Set("feed", true).
			Set("description", p.Description).
			Set("parameters", p.ParamsAnnotation()).
			Set("exec", "nodejs:20")}
	cur, rev, err := store.GetAction(ctx, n, true)
	if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return err
	}
	if cur != nil && sameJSON(cur.Annotations, want.Annotations) && cur.Exec.Code == want.Exec.Code {
		return nil
	}
	_, err = store.PutAction(ctx, &want, rev)
	return err
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
