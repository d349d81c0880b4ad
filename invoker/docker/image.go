package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"

	"github.com/gusthub/gust/actions/runtimes"
)

// Labels that EnsureImage puts on the images it builds.
const (
	LabelImage = "gust.image" // "runtime"
)

// ImageExists reports whether the engine has the image ref. It never pulls.
func (s *Sandbox) ImageExists(ctx context.Context, ref string) (bool, error) {
	if s.closed() {
		return false, ErrClosed
	}
	if _, err := s.cli.ImageInspect(ctx, ref); err != nil {
		if errdefs.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return true, nil
}

// CheckImage returns nil if the engine has the image ref, and an error
// wrapping ErrImageNotFound that names it if not. Use it for blackbox
// images, which Gust does not build and never pulls.
func (s *Sandbox) CheckImage(ctx context.Context, ref string) error {
	ok, err := s.ImageExists(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return imageNotFound(ref)
	}
	return nil
}

// EnsureImage makes sure the engine has the runtime image recipe.Tag. If it
// exists EnsureImage returns at once; otherwise it builds it from the
// recipe through the engine's build API: FROM scratch, the recipe's files
// with their modes, its environment and entrypoint, USER 65534. The tag is
// the cache key: a recipe whose content changes must change its tag.
// Concurrent calls for the same tag build once.
func (s *Sandbox) EnsureImage(ctx context.Context, recipe runtimes.Recipe) error {
	if recipe.Tag == "" {
		return fmt.Errorf("ensure image for kind %s: recipe has no tag", recipe.Kind)
	}
	s.buildMu.Lock()
	if s.recipes == nil {
		s.recipes = map[string]runtimes.Recipe{}
	}
	s.recipes[recipe.Tag] = recipe
	s.buildMu.Unlock()
	ok, err := s.ImageExists(ctx, recipe.Tag)
	if err != nil || ok {
		return err
	}
	return s.builds.do(ctx, recipe.Tag, func(ctx context.Context) error {
		// Another caller may have built it while this one waited.
		if ok, err := s.ImageExists(ctx, recipe.Tag); err != nil || ok {
			return err
		}
		s.buildMu.Lock()
		if s.building == nil {
			s.building = map[string]string{}
		}
		s.building[recipe.Tag] = recipe.Kind
		s.buildMu.Unlock()
		defer func() {
			s.buildMu.Lock()
			delete(s.building, recipe.Tag)
			s.buildMu.Unlock()
		}()
		return s.build(ctx, recipe)
	})
}

// rebuilt builds again the runtime image tag, one EnsureImage made sure
// of that is gone since (a Gust of another build on the same engine
// prunes the runtime images it does not know once they are a day old),
// and reports whether it did.
func (s *Sandbox) rebuilt(ctx context.Context, tag string) bool {
	s.buildMu.Lock()
	recipe, ok := s.recipes[tag]
	s.buildMu.Unlock()
	if !ok {
		return false
	}
	s.log.Warn("runtime image gone from the engine; building it again", "image", tag)
	if err := s.EnsureImage(ctx, recipe); err != nil {
		s.log.Warn("build runtime image again", "image", tag, "err", err)
		return false
	}
	return true
}

// Building returns the runtime kinds whose images EnsureImage is building
// now, sorted: a first activation of such a kind waits for its build.
func (s *Sandbox) Building() []string {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	return slices.Sorted(maps.Values(s.building))
}

// build builds recipe's image.
func (s *Sandbox) build(ctx context.Context, recipe runtimes.Recipe) error {
	dockerfile, err := dockerfile(recipe)
	if err != nil {
		return fmt.Errorf("build image %s: %w", recipe.Tag, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, dockerfile, recipe.Files)) }()
	defer pr.Close()

	log := s.log.With("image", recipe.Tag, "kind", recipe.Kind)
	log.Info("building runtime image", "files", len(recipe.Files))
	start := time.Now()
	resp, err := s.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{recipe.Tag},
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Labels:      map[string]string{LabelImage: "runtime", LabelKind: recipe.Kind},
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", recipe.Tag, err)
	}
	defer resp.Body.Close()
	if err := readBuildOutput(resp.Body, log); err != nil {
		return fmt.Errorf("build image %s: %w", recipe.Tag, err)
	}
	s.nbuilds.Add(1)
	log.Info("built runtime image", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// readBuildOutput reads the engine's JSON build progress to its end and
// returns the error it reports, if any.
func readBuildOutput(r io.Reader, log *slog.Logger) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read build output: %w", err)
		}
		if msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
		if line := strings.TrimSpace(msg.Stream); line != "" {
			log.Debug("build output", "line", line)
		}
	}
}

// contextRoot is the directory of the build context that holds the image's
// files.
const contextRoot = "rootfs"

// dockerfile returns the Dockerfile for recipe.
func dockerfile(recipe runtimes.Recipe) (string, error) {
	if len(recipe.Entrypoint) == 0 {
		return "", errors.New("recipe has no entrypoint")
	}
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	if len(recipe.Files) > 0 {
		fmt.Fprintf(&b, "COPY %s/ /\n", contextRoot)
	}
	for _, k := range slices.Sorted(maps.Keys(recipe.Env)) {
		v := recipe.Env[k]
		if k == "" || strings.ContainsAny(k, "= \t\r\n\"'$\\") {
			return "", fmt.Errorf("bad environment variable name %q", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("environment variable %s: value has a line break", k)
		}
		fmt.Fprintf(&b, "ENV %s=%s\n", k, quoteEnv(v))
	}
	fmt.Fprintf(&b, "USER %s\n", RuntimeUser)
	ep, err := json.Marshal(recipe.Entrypoint)
	if err != nil {
		return "", fmt.Errorf("encode entrypoint: %w", err)
	}
	fmt.Fprintf(&b, "ENTRYPOINT %s\n", ep)
	return b.String(), nil
}

// quoteEnv quotes a value for a Dockerfile ENV instruction, escaping what
// the builder would otherwise interpret.
func quoteEnv(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		if r == '"' || r == '\\' || r == '$' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// writeContext writes the build context as a tar stream: the Dockerfile
// and, under contextRoot, the files with their parent directories.
func writeContext(w io.Writer, dockerfile string, files []runtimes.File) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, dockerfile); err != nil {
		return err
	}
	dirs := map[string]bool{}
	seen := map[string]bool{}
	for _, f := range files {
		name, err := imagePath(f.Path)
		if err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("file /%s listed twice", name)
		}
		seen[name] = true
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if dirs[d] {
				break
			}
			dirs[d] = true
			hdr := &tar.Header{Name: contextRoot + "/" + d + "/", Mode: 0o755, Typeflag: tar.TypeDir}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		if err := writeFile(tw, contextRoot+"/"+name, f); err != nil {
			return fmt.Errorf("add /%s: %w", name, err)
		}
	}
	return tw.Close()
}

// imagePath returns a file's path in the image, relative to its root, and
// rejects paths that do not name a file.
func imagePath(p string) (string, error) {
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" || strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("bad file path %q in recipe", p)
	}
	return name, nil
}

// writeFile adds one file to the tar stream, from the host or from memory.
func writeFile(tw *tar.Writer, name string, f runtimes.File) error {
	var r io.Reader = bytes.NewReader(f.Data)
	size := int64(len(f.Data))
	mode := f.Mode
	if f.HostPath != "" {
		fh, err := os.Open(f.HostPath)
		if err != nil {
			return err
		}
		defer fh.Close()
		fi, err := fh.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", f.HostPath)
		}
		r, size = fh, fi.Size()
		if mode == 0 {
			mode = int64(fi.Mode().Perm())
		}
	}
	if mode == 0 {
		mode = 0o644
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode & 0o7777, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}

// buildTimeout bounds one image build.
const buildTimeout = 10 * time.Minute

// flight runs one function at a time per key; callers that arrive while it
// runs wait for it and share its result.
type flight struct {
	mu      sync.Mutex
	calls   map[string]*flightCall
	wg      sync.WaitGroup
	stopped chan struct{} // closed by stop: the runs in progress are canceled
}

type flightCall struct {
	done chan struct{}
	err  error
}

// stopping returns the channel stop closes. Call with f.mu held.
func (f *flight) stopping() chan struct{} {
	if f.stopped == nil {
		f.stopped = make(chan struct{})
	}
	return f.stopped
}

// do runs fn for key unless a run for key is in progress, in which case it
// waits for that run's result or for ctx to end. fn runs under a context
// that is not canceled when the first caller's ctx is, so that other
// waiters are not failed by it, but is by stop.
func (f *flight) do(ctx context.Context, key string, fn func(context.Context) error) error {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c, ok := f.calls[key]
	if !ok {
		stopped := f.stopping()
		select {
		case <-stopped: // no run starts once stop waits for them
			f.mu.Unlock()
			return errStopped
		default:
		}
		c = &flightCall{done: make(chan struct{})}
		f.calls[key] = c
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), buildTimeout)
			go func() {
				select {
				case <-stopped:
					cancel()
				case <-fctx.Done():
				}
			}()
			c.err = fn(fctx)
			cancel()
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("wait for image build: %w", ctx.Err())
	}
}

// errStopped is the error of a run asked for after stop.
var errStopped = errors.New("image builds stopped: the sandbox is closed")

// stop cancels the runs in progress, refuses those to come, and waits for
// the runs to end.
func (f *flight) stop() {
	f.mu.Lock()
	select {
	case <-f.stopping():
	default:
		close(f.stopped)
	}
	f.mu.Unlock()
	f.wg.Wait()
}
