//go:build !unix

package replica

// DiskSpace is unknown on this platform.
func DiskSpace(string) (total, usable int64) { return -1, -1 }
