package gustcmd

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIsTerminalPTY opens a pseudo-terminal: its end that a program sees
// is a terminal and gets colors, unless NO_COLOR or TERM=dumb says not.
func TestIsTerminalPTY(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		want   bool
	}{
		{"terminal", env("TERM", "xterm-256color"), true},
		{"NO_COLOR", env("NO_COLOR", "1", "TERM", "xterm"), false},
		{"TERM=dumb", env("TERM", "dumb"), false},
	} {
		if got := useColor(pts, tc.getenv); got != tc.want {
			t.Errorf("%s: useColor %v, want %v", tc.name, got, tc.want)
		}
	}
}
