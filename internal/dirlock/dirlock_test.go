package dirlock_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gusthub/gust/internal/dirlock"
)

func TestAcquireRefusesASecondHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := dirlock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dirlock.Acquire(dir)
	var inUse *dirlock.InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second Acquire: %v, want an *InUseError", err)
	}
	if inUse.PID != os.Getpid() {
		t.Errorf("holder pid = %d, want %d", inUse.PID, os.Getpid())
	}
	want := "data dir " + dir + " is in use by gust serve (pid " + strconv.Itoa(os.Getpid()) + ")"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := dirlock.Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// TestLockDiesWithItsProcess: a holder that ends without Release (a crash)
// leaves its pid in the file but no lock.
func TestLockDiesWithItsProcess(t *testing.T) {
	if os.Getenv("DIRLOCK_HOLD") != "" {
		if _, err := dirlock.Acquire(os.Getenv("DIRLOCK_HOLD")); err != nil {
			t.Fatal(err)
		}
		os.Exit(0) // no Release
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLockDiesWithItsProcess$")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("holder: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, dirlock.FileName))
	if strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("lock file holds %q, want the holder's pid %d", b, cmd.Process.Pid)
	}
	l, err := dirlock.Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	defer l.Release()
	b, _ = os.ReadFile(filepath.Join(dir, dirlock.FileName))
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this pid %d", b, os.Getpid())
	}
}

func TestAcquireNeedsTheDirectory(t *testing.T) {
	_, err := dirlock.Acquire(filepath.Join(t.TempDir(), "missing"))
	var inUse *dirlock.InUseError
	if err == nil || errors.As(err, &inUse) {
		t.Fatalf("Acquire of a missing directory: %v, want an open error", err)
	}
}
