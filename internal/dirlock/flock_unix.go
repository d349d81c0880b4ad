//go:build unix

package dirlock

import (
	"errors"
	"os"
	"syscall"
)

// errHeld says that another open file holds the lock.
var errHeld = errors.New("held")

// lockFile takes an exclusive flock on f without waiting. Locks of flock
// belong to the open file, so a second open of the same file in this
// process conflicts too.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errHeld
		}
		return err
	}
}
