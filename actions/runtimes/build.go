package runtimes

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// skipTrees are directories of a python standard library that an action
// does not need in an image.
var skipTrees = map[string]bool{
	"test": true, "tests": true, "idlelib": true, "tkinter": true, "turtledemo": true,
	"ensurepip": true, "lib2to3": true, "site-packages": true, "dist-packages": true,
}

// RecipeFor returns the recipe of kind's image FROM scratch: the proxy
// binary at proxyBinary (the gust executable) as /gust-proxy, the
// launcher, and the host's interpreter with its libraries. Its Tag is
// derived from the content of every file, so a change of any of them
// (a new gust build, an upgraded node) names a new image.
func RecipeFor(kind, proxyBinary string) (Recipe, error) {
	rt, h, err := lookup(kind)
	if err != nil {
		return Recipe{}, err
	}
	files := map[string]File{}
	add := func(f File) { files[f.Path] = f }

	if err := addHostFile(add, ImageProxyPath, proxyBinary); err != nil {
		return Recipe{}, err
	}
	binaries := []string{proxyBinary}
	launcher := ""
	if rt.launcherName != "" {
		launcher = path.Join(ImageLauncherDir, rt.launcherName)
		add(File{Path: launcher, Data: rt.launcher, Mode: 0o644})
		if err := addHostFile(add, h.interpreter, h.interpreter); err != nil {
			return Recipe{}, err
		}
		binaries = append(binaries, h.interpreter)
	}
	for _, tree := range h.trees {
		sos, err := addTree(add, tree)
		if err != nil {
			return Recipe{}, err
		}
		binaries = append(binaries, sos...)
	}
	libs, err := sharedLibraries(binaries)
	if err != nil {
		return Recipe{}, err
	}
	for _, lib := range libs {
		if err := addHostFile(add, lib, lib); err != nil {
			return Recipe{}, err
		}
	}

	r := Recipe{
		Kind:       kind,
		Files:      slices.SortedFunc(maps.Values(files), func(a, b File) int { return strings.Compare(a.Path, b.Path) }),
		Entrypoint: append([]string{ImageProxyPath}, rt.proxyArgs(h.interpreter, launcher)...),
		Env:        maps.Clone(rt.env),
	}
	sum, err := r.digest()
	if err != nil {
		return Recipe{}, err
	}
	r.Tag = "gust/runtime-" + strings.NewReplacer(":", "-", "/", "-").Replace(kind) + ":" + sum[:20]
	return r, nil
}

// addHostFile adds the host file src (following symbolic links) at dst.
func addHostFile(add func(File), dst, src string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("runtimes: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("runtimes: %s is not a regular file", src)
	}
	add(File{Path: dst, HostPath: src, Mode: int64(fi.Mode().Perm())})
	return nil
}

// addTree adds the regular files below dir at their host paths and
// returns the shared objects among them.
func addTree(add func(File), dir string) ([]string, error) {
	var sos []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && skipTrees[d.Name()] {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		if strings.HasSuffix(p, ".so") {
			sos = append(sos, p)
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return nil // a dangling link or a special file: not needed
		}
		add(File{Path: p, HostPath: p, Mode: int64(fi.Mode().Perm())})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("runtimes: walk %s: %w", dir, err)
	}
	return sos, nil
}

// sharedLibraries returns the libraries, the dynamic loader included, that
// ldd lists for the binaries. Static binaries have none.
func sharedLibraries(binaries []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	// ldd exits 1 when one of several files is not dynamic; its output
	// says what it found for each.
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "ldd", binaries...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		if strings.Contains(stderr.String(), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: ldd: %w: %s", ErrUnavailable, err, strings.TrimSpace(stderr.String()))
	}
	return parseLdd(string(out))
}

// parseLdd reads ldd's output for one or several files.
func parseLdd(out string) ([]string, error) {
	seen := map[string]bool{}
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if before, after, ok := strings.Cut(line, "=>"); ok {
			if strings.HasPrefix(strings.TrimSpace(after), "not found") {
				return nil, fmt.Errorf("%w: library %s not found", ErrUnavailable, strings.TrimSpace(before))
			}
			line = strings.TrimSpace(after)
		}
		lib, _, _ := strings.Cut(line, " (0x")
		if !strings.HasPrefix(lib, "/") || strings.HasSuffix(lib, ":") || strings.Contains(lib, " ") {
			continue // vdso, a file header, "statically linked"
		}
		if !seen[lib] {
			seen[lib] = true
			libs = append(libs, lib)
		}
	}
	slices.Sort(libs)
	return libs, nil
}

// digest hashes everything that goes into the image.
func (r Recipe) digest() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "kind %q\nentrypoint %q\n", r.Kind, r.Entrypoint)
	for _, k := range slices.Sorted(maps.Keys(r.Env)) {
		fmt.Fprintf(h, "env %q=%q\n", k, r.Env[k])
	}
	for _, f := range r.Files {
		fmt.Fprintf(h, "file %q %o ", f.Path, f.Mode)
		if err := f.hashContent(h); err != nil {
			return "", err
		}
		io.WriteString(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (f File) hashContent(w io.Writer) error {
	if f.HostPath == "" {
		fmt.Fprintf(w, "%d ", len(f.Data))
		_, err := w.Write(f.Data)
		return err
	}
	src, err := os.Open(f.HostPath)
	if err != nil {
		return fmt.Errorf("runtimes: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("runtimes: %w", err)
	}
	fmt.Fprintf(w, "%d ", fi.Size())
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("runtimes: read %s: %w", f.HostPath, err)
	}
	return nil
}
