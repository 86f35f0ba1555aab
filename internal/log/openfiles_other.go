//go:build !unix

package log

// defaultMaxOpenFiles: see openfiles_unix.go; without an open-file limit to
// read, the smallest default.
func defaultMaxOpenFiles() int { return minDefaultOpenFiles }
