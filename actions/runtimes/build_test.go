package runtimes

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLdd(t *testing.T) {
	tests := []struct {
		name, out string
		want      []string
		wantErr   bool
	}{
		{
			name: "node",
			out: `	linux-vdso.so.1 (0x00007ffd)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f5f)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5e)
	/lib64/ld-linux-x86-64.so.2 (0x00007f5f)
`,
			want: []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libdl.so.2", "/lib64/ld-linux-x86-64.so.2"},
		},
		{
			name: "several files, one static, duplicates",
			out: `/usr/lib/a.so:
	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x1)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)
/usr/lib/b.so:
	statically linked
/usr/lib/c.so:
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)
`,
			want: []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libz.so.1"},
		},
		{name: "missing library", out: "\tlibgone.so.1 => not found\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLdd(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRecipeFor(t *testing.T) {
	proxyA := filepath.Join(t.TempDir(), "gust")
	self, err := os.ReadFile(os.Args[0]) // a real executable to stand in for gust
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proxyA, self, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind       string
		entrypoint []string
		files      []string // image paths the recipe must have
	}{
		{NodeJS20, []string{"/gust-proxy", "-source", "index.js", "-prestart", "--"}, []string{"/gust-proxy", "/gust/launcher.js"}},
		{Python3, []string{"/gust-proxy", "-source", "__main__.py", "-prestart", "--"}, []string{"/gust-proxy", "/gust/launcher.py"}},
		{Native, []string{"/gust-proxy", "-source", "exec"}, []string{"/gust-proxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			r, err := RecipeFor(tt.kind, proxyA)
			if errors.Is(err, ErrUnavailable) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != tt.kind || !slices.Equal(r.Entrypoint[:len(tt.entrypoint)], tt.entrypoint) {
				t.Errorf("kind %q entrypoint %q", r.Kind, r.Entrypoint)
			}
			paths := map[string]File{}
			for _, f := range r.Files {
				paths[f.Path] = f
			}
			want := tt.files
			if tt.kind != Native {
				interp := r.Entrypoint[len(r.Entrypoint)-2]
				want = append(want, interp)
				// The interpreter is dynamic: its loader must come along.
				if !slices.ContainsFunc(r.Files, func(f File) bool { return strings.Contains(f.Path, "ld-linux") }) {
					t.Errorf("no dynamic loader among %d files", len(r.Files))
				}
			}
			for _, p := range want {
				if _, ok := paths[p]; !ok {
					t.Errorf("recipe lacks %s", p)
				}
			}
			if tt.kind == Python3 && !slices.ContainsFunc(r.Files, func(f File) bool { return strings.HasSuffix(f.Path, "/encodings/__init__.py") }) {
				t.Error("recipe lacks the python standard library")
			}
			if !strings.HasPrefix(r.Tag, "gust/runtime-") {
				t.Errorf("tag %q", r.Tag)
			}

			again, err := RecipeFor(tt.kind, proxyA)
			if err != nil || again.Tag != r.Tag {
				t.Errorf("same content, tags %q and %q (err %v)", r.Tag, again.Tag, err)
			}
			// One byte more in the proxy binary names another image.
			proxyB := filepath.Join(t.TempDir(), "gust")
			if err := os.WriteFile(proxyB, append(self, 0), 0o755); err != nil {
				t.Fatal(err)
			}
			changed, err := RecipeFor(tt.kind, proxyB)
			if err != nil || changed.Tag == r.Tag {
				t.Errorf("changed proxy, tags %q and %q (err %v)", r.Tag, changed.Tag, err)
			}
		})
	}
}

func TestUnknownKind(t *testing.T) {
	if _, err := RecipeFor("cobol:85", "/bin/true"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("RecipeFor: %v, want ErrUnknownKind", err)
	}
	if _, err := HostArgs("cobol:85", t.TempDir()); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("HostArgs: %v, want ErrUnknownKind", err)
	}
}
