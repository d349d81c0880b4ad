package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// ExitError is Main's error when the command it supervises (-supervise)
// does not exit with status 0: the caller exits with Code, as the command
// did (128 + the signal's number when a signal ended it).
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return fmt.Sprintf("proxy: the supervised command exited with status %d", e.Code)
}

// forwardedSignals are passed on to the supervised command.
var forwardedSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// supervise runs command as a blackbox container's main process, with
// Gust's API forwarded as the proxy forwards it for Gust's runtimes: when
// APISocketEnv names the API's socket, it listens on apiAddr (APIAddr in a
// container), joins each connection to that socket, and gives the command
// __OW_API_HOST pointing there. The command keeps the container's standard
// streams; signals are passed on to it. As the container's PID 1 it also
// reaps orphaned processes. It returns once the command exited: nil for status 0, an
// *ExitError otherwise.
func supervise(ctx context.Context, command []string, apiAddr string, getenv func(string) string, logger *slog.Logger) error {
	if len(command) == 0 {
		return errors.New("proxy: -supervise needs the command to run")
	}
	fctx, stop := context.WithCancel(context.WithoutCancel(ctx)) // forward until the command is gone, not until a signal
	defer stop()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = os.Environ()
	if host := startAPIForward(fctx, apiAddr, getenv, logger); host != "" {
		cmd.Env = append(cmd.Env, "__OW_API_HOST="+host) // the last of a key's values wins
	}
	// *os.File streams: the command writes the container's own, and no
	// copying goroutine needs Wait (which PID 1's reaping replaces).
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, len(forwardedSignals))
	signal.Notify(sigs, forwardedSignals...)
	defer func() {
		signal.Stop(sigs)
		close(sigs) // no send can follow Stop
	}()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("proxy: start %s: %w", command[0], err)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	var status syscall.WaitStatus
	if os.Getpid() == 1 {
		status = reapUntil(cmd.Process.Pid)
	} else {
		_ = cmd.Wait()
		status, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
	}
	switch {
	case status.Signaled():
		return &ExitError{Code: 128 + int(status.Signal())}
	case status.ExitStatus() != 0:
		return &ExitError{Code: status.ExitStatus()}
	}
	return nil
}

// reapUntil waits for any child, as PID 1 must so that orphans do not pile
// up as zombies, until pid exited, and returns pid's status.
func reapUntil(pid int) syscall.WaitStatus {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil: // ECHILD: pid is gone and its status with it
			return ws
		case got == pid:
			return ws
		}
	}
}
