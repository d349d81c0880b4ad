package docker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/gusthub/gust/invoker"
)

// TestEngineErrorOfAFailedAttach: an attach whose dial to the engine's
// socket failed (the engine restarting) is ErrUnavailable, so that the
// activation waits for the engine rather than failing, as a create
// refused for the same reason is. The docker client wraps that dial's
// error in a message of its own (with github.com/pkg/errors), as here.
func TestEngineErrorOfAFailedAttach(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: "/run/docker.sock", Net: "unix"}, Err: syscall.ECONNREFUSED}
	attach := fmt.Errorf("attach to container c1: %w", fmt.Errorf("cannot connect to the Docker daemon. Is 'docker daemon' running on this host?: %w", dial))
	if err := engineError(attach); !errors.Is(err, invoker.ErrUnavailable) {
		t.Errorf("engineError(%v) = %v, want it ErrUnavailable", attach, err)
	}
	reset := fmt.Errorf("attach to container c1: %w", &net.OpError{Op: "read", Net: "unix", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}})
	if err := engineError(reset); !errors.Is(err, invoker.ErrUnavailable) {
		t.Errorf("engineError(%v) = %v, want it ErrUnavailable: the engine went away mid-attach", reset, err)
	}
	for _, eof := range []error{io.ErrUnexpectedEOF, io.EOF} { // CI: the engine closed the attach's connection within or before its answer
		cut := fmt.Errorf("attach to container c1: %w", eof)
		if err := engineError(cut); !errors.Is(err, invoker.ErrUnavailable) {
			t.Errorf("engineError(%v) = %v, want it ErrUnavailable: the engine closed the attach's connection", cut, err)
		}
	}
	other := fmt.Errorf("attach to container c1: %w", errors.New("no such container"))
	if err := engineError(other); errors.Is(err, invoker.ErrUnavailable) {
		t.Errorf("engineError(%v) is ErrUnavailable, want it as it was", other)
	}
}
