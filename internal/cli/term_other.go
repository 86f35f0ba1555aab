//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || zos)

package cli

// isTerminalFd is false where terminals are not detected: hints are then
// never printed.
func isTerminalFd(uintptr) bool { return false }
