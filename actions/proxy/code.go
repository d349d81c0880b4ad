package proxy

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
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

// unzip extracts a zip archive into dir. Entries that would land outside
// dir are refused.
func unzip(dir string, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("entry %q leaves the action directory", f.Name)
		}
		dst := filepath.Join(dir, f.Name)
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			if err := extractSymlink(dir, dst, f); err != nil {
				return err
			}
		default:
			if err := extractFile(dst, f, mode.Perm()|0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func extractFile(dst string, f *zip.File, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	return out.Close()
}

func extractSymlink(dir, dst string, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Name, err)
	}
	target, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	rel, err := filepath.Rel(dir, filepath.Join(filepath.Dir(dst), string(target)))
	if err != nil || filepath.IsAbs(string(target)) || !filepath.IsLocal(rel) {
		return fmt.Errorf("symbolic link %q leaves the action directory", f.Name)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Symlink(string(target), dst)
}
