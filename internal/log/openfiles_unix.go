//go:build unix

package log

import "syscall"

// defaultMaxOpenFiles is half the process's open-file limit (which Go
// raises to the hard limit at start-up), leaving the other half to client
// connections, clamped to [1024, 65536]: enough for every active segment of
// a broker with tens of thousands of partitions, so that appends to many
// partitions do not close and reopen files in turn.
func defaultMaxOpenFiles() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return minDefaultOpenFiles
	}
	return clampOpenFiles(lim.Cur / 2)
}
