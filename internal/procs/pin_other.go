//go:build !linux

package procs

import "errors"

// Pin is Linux's only (sched_setaffinity): elsewhere it fails.
func Pin(n int) (cpus string, restore func(), err error) {
	return "", nil, errors.New("--pin-cpus works on Linux only")
}
