package proxy

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeCode puts an action's code into dir and returns where the launcher
// finds it: dir itself for a zip, which is extracted there, or the file
// dir/source. Binary code is base64; a binary that is not a zip is written
// as it is (a native executable).
func writeCode(dir, source, code string, binary bool) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create action directory: %w", err)
	}
	data := []byte(code)
	if binary {
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, code)
		var err error
		if data, err = base64.StdEncoding.DecodeString(clean); err != nil {
			return "", fmt.Errorf("decode the action's base64 code: %w", err)
		}
		if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
			if err := unzip(dir, data); err != nil {
				emptyDir(dir) // no half-extracted zip, nor a link that leads out, stays
				return "", fmt.Errorf("extract the action's zip: %w", err)
			}
			// A zipped executable may have lost its mode bits.
			if fi, err := os.Stat(filepath.Join(dir, source)); err == nil && fi.Mode().IsRegular() {
				if err := os.Chmod(filepath.Join(dir, source), fi.Mode().Perm()|0o555); err != nil {
					return "", fmt.Errorf("make %s executable: %w", source, err)
				}
			}
			return dir, nil
		}
	}
	file := filepath.Join(dir, source)
	if err := os.WriteFile(file, data, 0o755); err != nil {
		return "", fmt.Errorf("write the action's code: %w", err)
	}
	return file, nil
}

// emptyDir removes what dir holds (RemoveAll follows no link).
func emptyDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// unzip extracts a zip archive into dir. Entries that would land outside
// dir are refused, and so are symbolic links that lead outside it, also
// through other links of the zip (a/b -> .., then a/b/s -> ../.. looks
// local from a/b): every file is written through an os.Root of dir, which
// follows no link out of it, and every link is checked once all exist.
func unzip(dir string, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var links []string
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("entry %q leaves the action directory", f.Name)
		}
		name := filepath.Clean(f.Name)
		mode := f.Mode()
		switch {
		case mode.IsDir():
			err = root.MkdirAll(name, 0o755)
		case mode&os.ModeSymlink != 0:
			err = extractSymlink(root, name, f)
			links = append(links, name)
		default:
			err = extractFile(root, name, f, mode.Perm()|0o644)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	for _, name := range links {
		// Stat follows the link inside root: a link that leads out of it
		// (or loops) fails with another error than a missing target.
		if _, err := root.Stat(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("symbolic link %q leaves the action directory", name)
		}
	}
	return nil
}

func extractFile(root *os.Root, name string, f *zip.File, perm os.FileMode) error {
	if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("extract: %w", err)
	}
	return out.Close()
}

func extractSymlink(root *os.Root, name string, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	target, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if filepath.IsAbs(string(target)) || !filepath.IsLocal(filepath.Join(filepath.Dir(name), string(target))) {
		return errors.New("symbolic link leaves the action directory")
	}
	if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return root.Symlink(string(target), name)
}
