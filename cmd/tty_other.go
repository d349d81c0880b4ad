//go:build !linux

package gustcmd

import "os"

// isTerminal reports whether f is a character device, the best guess
// without the platform's terminal ioctl.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
