package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
)

// NativeSkeleton is the image wsk's --native names. Gust runs such actions
// with its own native runtime instead of pulling the image.
const NativeSkeleton = "openwhisk/dockerskeleton"

// blackboxSeen is how long a blackbox image found on the engine is taken
// to be there without asking the engine again: the invoker resolves an
// action's image for every activation.
const blackboxSeen = 30 * time.Second

// RuntimeImages returns the invoker's image resolver for this engine:
// runtime kinds map to Gust's own images, built on first need from the
// local toolchain with proxyBinary as the action proxy; blackbox actions
// map to their image, which must already be on the engine (an error
// wrapping invoker.ErrImage otherwise).
func (s *Sandbox) RuntimeImages(proxyBinary string) invoker.ImageFunc {
	var mu sync.Mutex
	built := map[string]string{}
	seen := map[string]time.Time{} // blackbox images found, and when
	return func(ctx context.Context, e actions.Exec) (string, bool, error) {
		kind := e.Kind
		if e.Kind == actions.KindBlackbox {
			if e.Image != NativeSkeleton {
				mu.Lock()
				at, ok := seen[e.Image]
				mu.Unlock()
				if ok && time.Since(at) < blackboxSeen {
					return e.Image, false, nil
				}
				if err := s.CheckImage(ctx, e.Image); err != nil {
					if errors.Is(err, ErrImageNotFound) {
						return "", false, fmt.Errorf("%w: %v", invoker.ErrImage, err)
					}
					// The engine's own text stays in the log: it speaks of
					// its API, not of the action.
					s.log.Warn("blackbox image not usable", "image", e.Image, "err", err)
					return "", false, fmt.Errorf("%w: the Docker engine cannot use the action's image %q: it is not an image reference the engine accepts, or the engine failed", invoker.ErrImage, e.Image)
				}
				mu.Lock()
				if len(seen) >= 1024 {
					clear(seen)
				}
				seen[e.Image] = time.Now()
				mu.Unlock()
				return e.Image, false, nil
			}
			kind = runtimes.Native
		}
		mu.Lock()
		tag, ok := built[kind]
		mu.Unlock()
		if ok {
			return tag, true, nil
		}
		recipe, err := runtimes.RecipeFor(kind, proxyBinary)
		if err != nil {
			return "", false, fmt.Errorf("runtime %s: %w", kind, err)
		}
		if err := s.EnsureImage(ctx, recipe); err != nil { // builds once per tag, even when called concurrently
			return "", false, fmt.Errorf("build runtime image for %s: %w", kind, err)
		}
		mu.Lock()
		built[kind] = recipe.Tag
		mu.Unlock()
		s.pruneRuntimeImages(ctx, recipe.Tag)
		return recipe.Tag, true, nil
	}
}

// pruneAge is how old another build's runtime image must be before it is
// pruned: a younger one may belong to another Gust on the same engine. A
// variable for the tests.
var pruneAge = 24 * time.Hour

// pruneRuntimeImages removes the other tags of keep's repository older
// than pruneAge: images of runtimes built by earlier gust builds, which are
// content-versioned and would otherwise pile up. So go the untagged
// runtime images as old (a tag built again leaves the image it named
// untagged). An image a container still uses stays (the engine refuses to
// remove it without force).
func (s *Sandbox) pruneRuntimeImages(ctx context.Context, keep string) {
	repo, _, ok := strings.Cut(keep, ":")
	if !ok {
		return
	}
	s.pruneUntaggedRuntimeImages(ctx)
	imgs, err := s.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", repo))})
	if err != nil {
		s.log.Debug("list runtime images", "err", err)
		return
	}
	for _, img := range imgs {
		if time.Since(time.Unix(img.Created, 0)) < pruneAge {
			continue
		}
		for _, tag := range img.RepoTags {
			if tag == keep || !strings.HasPrefix(tag, repo+":") {
				continue
			}
			if _, err := s.cli.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil {
				s.log.Debug("keep old runtime image", "image", tag, "err", err)
				continue
			}
			s.log.Info("removed old runtime image", "image", tag)
		}
	}
}

// pruneUntaggedRuntimeImages removes Gust's runtime images that no tag
// names any more and are older than pruneAge.
func (s *Sandbox) pruneUntaggedRuntimeImages(ctx context.Context) {
	imgs, err := s.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("dangling", "true"), filters.Arg("label", LabelImage+"=runtime"))})
	if err != nil {
		s.log.Debug("list untagged runtime images", "err", err)
		return
	}
	for _, img := range imgs {
		if time.Since(time.Unix(img.Created, 0)) < pruneAge {
			continue
		}
		if _, err := s.cli.ImageRemove(ctx, img.ID, image.RemoveOptions{PruneChildren: true}); err != nil {
			s.log.Debug("keep untagged runtime image", "image", img.ID, "err", err)
			continue
		}
		s.log.Info("removed untagged runtime image", "image", img.ID)
	}
}
