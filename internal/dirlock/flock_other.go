//go:build !unix

package dirlock

import (
	"errors"
	"os"
)

var errHeld = errors.New("held")

// lockFile does not lock where there is no flock: the directory is not
// guarded there.
func lockFile(*os.File) error { return nil }
