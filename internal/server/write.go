package server

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
)

// FileRange is a range of a file sent as part of a response.
type FileRange struct {
	// OS is the file when it is a real one (for sendfile); nil otherwise.
	OS *os.File
	// ReaderAt reads the file; used when sendfile is not possible.
	ReaderAt io.ReaderAt
	Offset   int64
	Size     int64
}

// writeResponse frames and writes r: size prefix, response header, parts.
func writeResponse(nc net.Conn, r *Response) (int64, error) {
	var written int64
	var hdr [9]byte
	bufs := make(net.Buffers, 0, len(r.Parts)+1)
	bufs = append(bufs, ResponseHeader(hdr[:0], r.CorrelationID, r.FlexibleHeader, r.Len()-int64(headerLen(r.FlexibleHeader))))
	flush := func() error {
		if len(bufs) == 0 {
			return nil
		}
		n, err := bufs.WriteTo(nc)
		written += n
		bufs = bufs[:0]
		return err
	}
	for _, p := range r.Parts {
		if p.File == nil {
			if len(p.Bytes) > 0 {
				bufs = append(bufs, p.Bytes)
			}
			continue
		}
		if err := flush(); err != nil {
			return written, err
		}
		n, err := writeFileRange(nc, p.File)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, flush()
}

// TCPWrapper is a connection that wraps a plain TCP connection without
// changing the bytes written (a listener that reads a connection's first
// byte to route it, say): writes may go to the TCP connection directly, so
// responses keep sendfile. TLS connections must not implement it.
type TCPWrapper interface {
	PlainTCP() *net.TCPConn
}

// plainTCP is the TCP connection bytes can be written to directly, or nil.
func plainTCP(nc net.Conn) *net.TCPConn {
	switch c := nc.(type) {
	case *net.TCPConn:
		return c
	case TCPWrapper:
		return c.PlainTCP()
	}
	return nil
}

// writeFileRange sends a file range, with sendfile when possible.
func writeFileRange(nc net.Conn, fr *FileRange) (int64, error) {
	if fr.Size == 0 {
		return 0, nil
	}
	if tc := plainTCP(nc); tc != nil && fr.OS != nil {
		return sendfile(tc, fr.OS, fr.Offset, fr.Size)
	}
	if fr.ReaderAt == nil {
		return 0, fmt.Errorf("file range without a reader")
	}
	n, err := io.Copy(nc, io.NewSectionReader(fr.ReaderAt, fr.Offset, fr.Size))
	if err == nil && n < fr.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func headerLen(flexible bool) int {
	if flexible {
		return 5
	}
	return 4
}

// ResponseHeader returns the bytes that start a response: the size prefix
// for a body of bodyLen bytes, the correlation id and, for header v1, the
// empty tagged-field section.
func ResponseHeader(dst []byte, correlationID int32, flexible bool, bodyLen int64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(int64(headerLen(flexible))+bodyLen))
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}
