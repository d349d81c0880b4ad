package disktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Small mounts a tmpfs of mb MB on a new directory until the test ends
// and returns the directory. Mounting needs root: without it the test is
// skipped, except in CI (CI set; it runs as root), where it fails.
func Small(tb testing.TB, mb int) string {
	tb.Helper()
	skip := tb.Skipf
	if os.Getenv("CI") != "" {
		skip = tb.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("mounting a small tmpfs for a full-disk test needs root")
	}
	dir := tb.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mb), "tmpfs", dir).CombinedOutput(); err != nil {
		skip("mount a tmpfs for a full-disk test: %v %s", err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// Free is the bytes free on dir's file system.
func Free(tb testing.TB, dir string) int64 {
	tb.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		tb.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// Fill writes a file in dir until its disk has about leave bytes free (0:
// none at all) and returns the file's path: removing it makes room again.
func Fill(tb testing.TB, dir string, leave int64) string {
	tb.Helper()
	free := Free(tb, dir)
	if free < leave {
		tb.Fatalf("only %d bytes free before filling", free)
	}
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for left := free - leave; left > 0; left -= int64(len(chunk)) {
		n := min(left, int64(len(chunk)))
		if _, err := f.Write(chunk[:n]); err != nil {
			if leave == 0 {
				break // full
			}
			tb.Fatal(err)
		}
	}
	return path
}
