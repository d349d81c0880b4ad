// Package dirlock keeps one `gust serve` per data directory: Acquire takes
// an exclusive lock on a file in the directory before anything else opens
// it, and a second process (or a second Acquire in the same process) gets
// an *InUseError that names the holder's pid instead of opening a live
// JetStream store under it.
//
// The lock is the kernel's (flock on Unix), so it goes away with its
// process: a crash leaves no stale lock behind, only a stale pid in the
// file, which the next Acquire overwrites.
package dirlock
