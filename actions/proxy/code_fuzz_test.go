package proxy

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// zipEntry is a file, directory (name ending in /) or symbolic link
// (link set, its target) of a test zip.
type zipEntry struct{ name, body, link string }

// zipCode is the /init "code" of a zip with entries, base64 as wsk sends it.
func zipCode(t testing.TB, entries ...zipEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		body := e.body
		switch {
		case e.link != "":
			h.SetMode(fs.ModeSymlink | 0o777)
			body = e.link
		case strings.HasSuffix(e.name, "/"):
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// FuzzInitCode decodes arbitrary /init bodies as the proxy does and writes
// their code into an action directory: plain text, base64, or a base64 zip
// with directories and symbolic links. The properties: no panic; the code
// lands at the place returned, inside the action directory; nothing is
// created, written or linked outside it, however the zip's links chain.
func FuzzInitCode(f *testing.F) {
	initBody := func(code string, binary bool) []byte {
		var req initRequest
		req.Value.Name, req.Value.Code, req.Value.Binary = "fuzz", code, binary
		b, _ := json.Marshal(req)
		return b
	}
	f.Add(initBody("function main(p) { return p }", false))
	f.Add(initBody("IyEvYmluL3NoCmVjaG8gaGk=", true))
	f.Add(initBody("not base64!", true))
	f.Add([]byte(`{"value":{"code":"x","binary":"yes"}}`))
	f.Add([]byte(`{"value":{"code":"UEsDBA==","binary":true,"main":"m","env":{"A":1,"B":{"c":[1]}}}}`))
	for _, entries := range [][]zipEntry{
		{{name: "index.js", body: "module.exports.main = p => p"}, {name: "lib/", body: ""}, {name: "lib/a.js", body: "x"}},
		{{name: "../escape", body: "x"}},
		{{name: "/abs", body: "x"}},
		{{name: "l", link: "/etc"}},
		{{name: "l", link: "../.."}},
		{{name: "l", link: "sub"}, {name: "sub/", body: ""}, {name: "l/x", body: "through a link"}},
		// a/b points at the action directory itself, so a/b/s's "../.."
		// looks local from a/b but leaves the directory.
		{{name: "a/", body: ""}, {name: "a/b", link: ".."}, {name: "a/b/s", link: "../.."}, {name: "a/b/s/out", body: "escaped"}},
		{{name: "exec", link: "../victim"}},
		{{name: "d/", body: ""}, {name: "d", body: "file over dir"}},
	} {
		f.Add(initBody(zipCode(f, entries...), true))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req initRequest
		if json.Unmarshal(body, &req) != nil {
			return // the proxy answers 400
		}
		base := t.TempDir()
		parent := filepath.Join(base, "p", "q")
		dir := filepath.Join(parent, "action")
		victim := filepath.Join(parent, "victim")
		if err := os.MkdirAll(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(victim, []byte("untouched"), 0o644); err != nil {
			t.Fatal(err)
		}
		where, err := writeCode(dir, "exec", req.Value.Code, req.Value.Binary)
		if err == nil && where != dir && where != filepath.Join(dir, "exec") {
			t.Fatalf("code written to %s, outside %s", where, dir)
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != "untouched" {
			t.Fatalf("a file next to the action directory changed: %q %v", b, err)
		}
		_ = filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
			switch rel, _ := filepath.Rel(dir, path); {
			case err != nil || filepath.IsLocal(rel) || rel == ".":
			case path == base || path == filepath.Dir(parent) || path == parent || path == victim:
			default:
				t.Fatalf("%s created outside the action directory", path)
			}
			return nil
		})
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			if real, err := filepath.EvalSymlinks(path); err == nil {
				if rel, err := filepath.Rel(dir, real); err != nil || !filepath.IsLocal(rel) && rel != "." {
					t.Fatalf("link %s leads to %s, outside the action directory", path, real)
				}
			}
			return nil
		})
	})
}

// TestWrappedZipIsExtracted: a zip's base64 wrapped in lines, as base64(1)
// writes it and the API takes it as binary code, is extracted.
func TestWrappedZipIsExtracted(t *testing.T) {
	code := zipCode(t, zipEntry{name: "index.js", body: "module.exports.main = p => p"})
	var wrapped strings.Builder
	for len(code) > 76 {
		wrapped.WriteString(code[:76] + "\n")
		code = code[76:]
	}
	wrapped.WriteString(code + "\n")
	dir := filepath.Join(t.TempDir(), "action")
	where, err := writeCode(dir, "index.js", wrapped.String(), true)
	if err != nil || where != dir {
		t.Fatalf("writeCode = %q, %v; want the zip extracted into %s", where, err, dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "index.js")); err != nil || string(b) != "module.exports.main = p => p" {
		t.Fatalf("index.js: %q, %v", b, err)
	}
}
