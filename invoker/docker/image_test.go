package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
)

func TestEnsureImage(t *testing.T) {
	s := requireDocker(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	first := echoRecipe(t)
	if err := s.EnsureImage(ctx, first); err != nil {
		t.Fatal(err)
	}
	built := s.nbuilds.Load()
	firstInfo, err := s.cli.ImageInspect(ctx, first.Tag)
	if err != nil {
		t.Fatal(err)
	}
	if firstInfo.Config.User != RuntimeUser {
		t.Errorf("image user %q, want %q", firstInfo.Config.User, RuntimeUser)
	}

	t.Run("cached", func(t *testing.T) {
		if err := s.EnsureImage(ctx, first); err != nil {
			t.Fatal(err)
		}
		if n := s.nbuilds.Load(); n != built {
			t.Errorf("second EnsureImage built again (%d builds, want %d)", n, built)
		}
	})

	t.Run("content changed", func(t *testing.T) {
		changed := echoRecipe(t, runtimes.File{Path: "/etc/version", Data: []byte("2\n")})
		if err := s.EnsureImage(ctx, changed); err != nil {
			t.Fatal(err)
		}
		info, err := s.cli.ImageInspect(ctx, changed.Tag)
		if err != nil {
			t.Fatal(err)
		}
		if info.ID == firstInfo.ID {
			t.Error("changed recipe produced the same image")
		}
	})

	t.Run("concurrent calls build once", func(t *testing.T) {
		r := echoRecipe(t, runtimes.File{Path: "/etc/version", Data: []byte("3\n")})
		before := s.nbuilds.Load()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = s.EnsureImage(ctx, r) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if n := s.nbuilds.Load() - before; n != 1 {
			t.Errorf("%d builds for 4 concurrent calls, want 1", n)
		}
	})

	t.Run("build error", func(t *testing.T) {
		r := echoRecipe(t, runtimes.File{Path: "/x", HostPath: "/nonexistent/file"})
		err := s.EnsureImage(ctx, r)
		if err == nil || !strings.Contains(err.Error(), r.Tag) {
			t.Errorf("EnsureImage with a missing host file: %v", err)
		}
	})
}

func TestDockerfile(t *testing.T) {
	tests := []struct {
		name    string
		recipe  runtimes.Recipe
		want    string
		wantErr bool
	}{
		{
			name: "full",
			recipe: runtimes.Recipe{
				Files:      []runtimes.File{{Path: "/bin/p", Data: []byte("x")}},
				Entrypoint: []string{"/bin/p", "-v"},
				Env:        map[string]string{"B": `say "hi" $HOME \n`, "A": "1"},
			},
			want: "FROM scratch\nCOPY rootfs/ /\nENV A=\"1\"\nENV B=\"say \\\"hi\\\" \\$HOME \\\\n\"\nUSER 65534:65534\nENTRYPOINT [\"/bin/p\",\"-v\"]\n",
		},
		{name: "no entrypoint", recipe: runtimes.Recipe{}, wantErr: true},
		{name: "bad env name", recipe: runtimes.Recipe{Entrypoint: []string{"/p"}, Env: map[string]string{"A B": "1"}}, wantErr: true},
		{name: "line break", recipe: runtimes.Recipe{Entrypoint: []string{"/p"}, Env: map[string]string{"A": "1\n2"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dockerfile(tt.recipe)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestWriteContext(t *testing.T) {
	files := []runtimes.File{
		{Path: "/usr/lib/a.so", Data: []byte("lib"), Mode: 0o644},
		{Path: "usr/bin/tool", Data: []byte("#!"), Mode: 0o755},
		{Path: "/etc/conf", Data: []byte("c")},
	}
	var buf bytes.Buffer
	if err := writeContext(&buf, "FROM scratch\n", files); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Mode
	}
	want := map[string]int64{
		"Dockerfile":          0o644,
		"rootfs/usr/":         0o755,
		"rootfs/usr/lib/":     0o755,
		"rootfs/usr/lib/a.so": 0o644,
		"rootfs/usr/bin/":     0o755,
		"rootfs/usr/bin/tool": 0o755,
		"rootfs/etc/":         0o755,
		"rootfs/etc/conf":     0o644,
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("%s: mode %o, want %o", name, got[name], mode)
		}
	}

	for _, bad := range [][]runtimes.File{
		{{Path: "/"}},
		{{Path: "/dir/"}},
		{{Path: "/a"}, {Path: "a"}},
	} {
		if err := writeContext(io.Discard, "", bad); err == nil {
			t.Errorf("writeContext(%v) succeeded", bad)
		}
	}
}

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split writes", []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"no final newline", []string{"a\nb"}, []string{"a", "b"}},
		{"empty lines", []string{"\n\n"}, []string{"", ""}},
		{"crlf", []string{"a\r\n"}, []string{"a"}},
		{"long line", []string{long + "\n"}, []string{long[:maxLine], long[maxLine:]}},
		{"long line in pieces", []string{long[:100], long[100:], "\n"}, []string{long[:maxLine], long[maxLine:]}},
		{"exactly max", []string{long[:maxLine], "\n"}, []string{long[:maxLine]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := &lineWriter{stream: "stdout", emit: func(l invoker.LogLine) { got = append(got, l.Text) }}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.flush()
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %d lines of lengths %v, want %d of %v", len(got), lengths(got), len(tt.want), lengths(tt.want))
			}
		})
	}
}

func lengths(ss []string) []int {
	var n []int
	for _, s := range ss {
		n = append(n, len(s))
	}
	return n
}

// TestPruneRuntimeImages: once older than pruneAge, another build's tag
// of a runtime's repository goes, and so does an untagged runtime image
// (left so when its tag was built again); the tag kept stays.
func TestPruneRuntimeImages(t *testing.T) {
	s := requireDocker(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo := "gust-test/prune-" + run + "-" + randomID()
	recipe := func(version string) runtimes.Recipe {
		r := echoRecipe(t, runtimes.File{Path: "/etc/version", Data: []byte(version + "\n")})
		r.Tag = repo + ":" + version
		shared.mu.Lock()
		shared.images = append(shared.images, r.Tag)
		shared.mu.Unlock()
		if err := s.EnsureImage(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	old, kept, orphan := recipe("old"), recipe("kept"), recipe("orphan")
	orphanImage, err := s.cli.ImageInspect(ctx, orphan.Tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cli.ImageTag(ctx, kept.Tag, orphan.Tag); err != nil { // orphan's image keeps no tag
		t.Fatal(err)
	}
	defer func(age time.Duration) { pruneAge = age }(pruneAge)
	pruneAge = 0
	s.pruneRuntimeImages(ctx, kept.Tag)
	for ref, want := range map[string]bool{old.Tag: false, kept.Tag: true, orphanImage.ID: false} {
		if have, err := s.ImageExists(ctx, ref); err != nil || have != want {
			t.Errorf("%s: on the engine %v (%v), want %v", ref, have, err, want)
		}
	}
}

// TestCreateBuildsAGoneRuntimeImageAgain: a runtime image removed since
// EnsureImage made sure of it (another Gust's pruning) is built again by
// the next create, which then succeeds; an image the sandbox never built
// is still not found.
func TestCreateBuildsAGoneRuntimeImageAgain(t *testing.T) {
	s := requireDocker(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := echoRecipe(t, runtimes.File{Path: "/etc/version", Data: []byte("gone\n")})
	if err := s.EnsureImage(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cli.ImageRemove(ctx, r.Tag, image.RemoveOptions{PruneChildren: true}); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, s, true)
	spec.Image = r.Tag
	builds := s.nbuilds.Load()
	c := create(t, s, spec)
	if n := s.nbuilds.Load() - builds; n != 1 {
		t.Errorf("%d builds for the create, want 1", n)
	}
	if out := runValue(t, c, map[string]any{"hello": "again"}); out["hello"] != "again" {
		t.Errorf("run echoed %v", out)
	}
	spec = testSpec(t, s, true)
	spec.Image = "gust-test/never-built:" + run
	if _, err := s.Create(ctx, spec); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("create from an image never built: %v, want ErrImageNotFound", err)
	}
}
