package cli

import "os"

// IsTerminal reports whether v, a standard stream such as the reader or
// writer a command was given, is a terminal. Hints meant for a person at a
// keyboard (what a command is waiting for, how to finish input) are printed
// only then, never into a script's pipes or files.
func IsTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok || f == nil {
		return false
	}
	// SyscallConn, unlike Fd, leaves the file's blocking mode alone.
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	is := false
	if err := rc.Control(func(fd uintptr) { is = isTerminalFd(fd) }); err != nil {
		return false
	}
	return is
}
