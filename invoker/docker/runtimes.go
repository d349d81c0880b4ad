package docker

import (
	"context"
	"fmt"
	"sync"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
)

// NativeSkeleton is the image wsk's --native names. Gust runs such actions
// with its own native runtime instead of pulling the image.
const NativeSkeleton = "openwhisk/dockerskeleton"

// RuntimeImages returns the invoker's image resolver for this engine:
// runtime kinds map to Gust's own images, built on first need from the
// local toolchain with proxyBinary as the action proxy; blackbox actions
// map to their image, which must already be on the engine (an error
// wrapping invoker.ErrImage otherwise).
func (s *Sandbox) RuntimeImages(proxyBinary string) invoker.ImageFunc {
	var mu sync.Mutex
	built := map[string]string{}
	return func(ctx context.Context, e actions.Exec) (string, bool, error) {
		kind := e.Kind
		if e.Kind == actions.KindBlackbox {
			if e.Image != NativeSkeleton {
				if err := s.CheckImage(ctx, e.Image); err != nil {
					return "", false, fmt.Errorf("%w: %v", invoker.ErrImage, err)
				}
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
		return recipe.Tag, true, nil
	}
}
