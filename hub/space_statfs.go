//go:build linux || darwin || freebsd

package hub

import "syscall"

// diskSpace returns the bytes free (for unprivileged users) and in all
// on the file system of dir.
func diskSpace(dir string) (free, total int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), true
}
