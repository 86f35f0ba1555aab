//go:build linux

package server

import (
	"errors"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// sendfile sends size bytes of f from offset to tc with sendfile(2), at an
// explicit offset so concurrent readers of the same file do not race on the
// file position. It waits for the socket to become writable through the
// runtime's poller, honouring the connection's write deadline.
func sendfile(tc *net.TCPConn, f *os.File, offset, size int64) (int64, error) {
	sc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var written int64
	var opErr, waitErr error
	ctlErr := fc.Control(func(ffd uintptr) {
		waitErr = sc.Write(func(sfd uintptr) bool {
			for written < size {
				chunk := size - written
				if chunk > 1<<30 {
					chunk = 1 << 30
				}
				n, err := unix.Sendfile(int(sfd), int(ffd), &offset, int(chunk))
				if n > 0 {
					written += int64(n)
				}
				switch {
				case errors.Is(err, unix.EAGAIN):
					return false // wait until writable
				case errors.Is(err, unix.EINTR):
					continue
				case err != nil:
					opErr = err
					return true
				case n == 0:
					opErr = io.ErrUnexpectedEOF // the file is shorter than the range
					return true
				}
			}
			return true
		})
	})
	if opErr != nil {
		return written, opErr
	}
	if waitErr != nil {
		return written, waitErr
	}
	return written, ctlErr
}
