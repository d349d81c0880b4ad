package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrFull is what errors of writes that Gust's storage has no room for
// wrap: the data directory's disk is (nearly) full, or JetStream's
// storage limit is reached. Such errors are *FullError.
var ErrFull = errors.New("storage full")

// FullError says which storage is full. Reads still work; writes work
// again once room is made.
type FullError struct {
	// What is full, and how full, in words: "the disk of its data
	// directory (12 MB free of 64 MB, below the 16 MB Gust keeps free)".
	What string
	// Err is the JetStream error that said so, if any.
	Err error
}

func (e *FullError) Error() string {
	if e.Err != nil {
		return e.What + " is full: " + e.Err.Error()
	}
	return e.What + " is full"
}

// Unwrap returns ErrFull and the JetStream error.
func (e *FullError) Unwrap() []error { return []error{ErrFull, e.Err} }

// Message is the sentence an API caller gets: what is full, that reads
// work, and that writes resume by themselves.
func (e *FullError) Message() string {
	return "Gust cannot store this: " + e.What + " is full. Reads still work; writes work again once room is made, without a restart."
}

// StorageFull returns err as a *FullError when it, or a JetStream error it
// wraps, says that storage is full: JetStream's storage limit or the
// account's is reached, or the store found no space left on its device.
// It returns nil for any other error.
func StorageFull(err error) *FullError {
	if err == nil {
		return nil
	}
	var full *FullError
	if errors.As(err, &full) {
		return full
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return nil
	}
	switch apiErr.ErrorCode {
	case jsErrInsufficientResources, jsErrStorageResourcesExceeded, jsErrAccountResourcesExceeded:
		return &FullError{What: "the event hub's storage (JetStream's store limit)", Err: err}
	case jsErrStreamStoreFailed:
		switch {
		case strings.Contains(apiErr.Description, "no space left"):
			return &FullError{What: "the disk of the data directory", Err: err}
		case strings.Contains(apiErr.Description, "maximum bytes exceeded"), strings.Contains(apiErr.Description, "maximum messages exceeded"):
			return &FullError{What: "a stream (its size limit)", Err: err}
		}
	}
	return nil
}

// JetStream error codes that jetstream does not name.
const (
	jsErrAccountResourcesExceeded jetstream.ErrorCode = 10002
	jsErrInsufficientResources    jetstream.ErrorCode = 10023
	jsErrStorageResourcesExceeded jetstream.ErrorCode = 10047
	jsErrStreamStoreFailed        jetstream.ErrorCode = 10077
)

// DefaultDiskReserve is how much of the data directory's disk Gust keeps
// free by default: below it the API takes no new writes.
const DefaultDiskReserve = 64 << 20

// diskGuard tells whether the disk of a directory has more than reserve
// bytes free. It asks the file system at most every diskCheckEvery.
type diskGuard struct {
	dir     string
	reserve int64

	mu      sync.Mutex
	checked time.Time
	err     error
}

const diskCheckEvery = 250 * time.Millisecond

func (g *diskGuard) check() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); now.Sub(g.checked) >= diskCheckEvery {
		g.checked = now
		g.err = nil
		if free, total, ok := diskSpace(g.dir); ok && free < g.reserve {
			g.err = &FullError{What: fmt.Sprintf("the disk of its data directory (%s free of %s, below the %s Gust keeps free, --disk-reserve)",
				megabytes(free), megabytes(total), megabytes(g.reserve))}
		}
	}
	return g.err
}

func megabytes(n int64) string {
	return fmt.Sprintf("%d MB", n>>20)
}

// CheckSpace returns a *FullError when the disk of the hub's data
// directory has less free space than Options.DiskReserve, and nil
// otherwise (or for a hub without a data directory). Callers refuse new
// writes with it, so that JetStream never runs out of disk: a JetStream
// store that does stops taking writes until the server restarts.
func (h *Hub) CheckSpace() error {
	if h.writeFailed != nil && h.writeFailed.Load() {
		return &FullError{What: "the disk of its data directory (JetStream ran out of space: it restarts its store by itself once there is room)"}
	}
	if h.disk == nil {
		return nil
	}
	return h.disk.check()
}

// isWriteFailure reports whether a NATS server error says that JetStream
// could not write its store: such a store takes no more writes until
// JetStream restarts.
func isWriteFailure(detail string) bool {
	return strings.Contains(detail, "no space left") || strings.Contains(strings.ToLower(detail), "critical write error")
}

// minRestartRoom is the free disk recoverWrites waits for before it
// restarts JetStream when the disk guard is off.
const minRestartRoom = 8 << 20

// recoverWrites restarts the embedded JetStream, in this process, once a
// write of its store failed (its disk ran out of space) and the disk has
// room again: JetStream reads its streams back from disk, with what they
// held, and takes writes again. Consumers pick up again by themselves.
// It runs until Close.
func (h *Hub) recoverWrites(sopts *server.Options, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.stopRecovery:
			return
		case <-t.C:
		}
		if !h.writeFailed.Load() {
			continue
		}
		if h.disk != nil {
			if h.disk.check() != nil {
				continue
			}
		} else if free, _, ok := diskSpace(sopts.StoreDir); ok && free < minRestartRoom {
			continue
		}
		log.Warn("JetStream could not write its store (its disk was full); restarting it now that there is room")
		h.writeFailed.Store(false)
		if err := h.srv.ShutdownJetStream(); err != nil {
			log.Error("stop JetStream", "err", err)
		}
		err := h.srv.EnableJetStream(&server.JetStreamConfig{
			StoreDir: sopts.StoreDir, MaxMemory: sopts.JetStreamMaxMemory, MaxStore: sopts.JetStreamMaxStore,
			SyncInterval: sopts.SyncInterval, SyncAlways: sopts.SyncAlways, Strict: !sopts.NoJetStreamStrict,
		})
		if err != nil {
			log.Error("restart JetStream; trying again", "err", err)
			h.writeFailed.Store(true)
			continue
		}
		log.Info("JetStream restarted: writes work again")
	}
}
