//go:build unix

package replica

import "golang.org/x/sys/unix"

// DiskSpace returns the total and available bytes of the file system
// holding dir, or -1, -1.
func DiskSpace(dir string) (total, usable int64) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize)
}
