//go:build !linux

package server

import (
	"io"
	"net"
	"os"
)

func sendfile(tc *net.TCPConn, f *os.File, offset, size int64) (int64, error) {
	n, err := io.Copy(tc, io.NewSectionReader(f, offset, size))
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
