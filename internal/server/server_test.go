package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoHandler answers every request with its correlation id and body; a
// request whose body starts with "file" is answered with a file range.
type echoHandler struct {
	file    *os.File
	release chan struct{}
	block   chan struct{} // if set, Serve waits on it (or ctx) before answering
	entered chan struct{} // if set, Serve sends on it first
}

func (h *echoHandler) Serve(ctx context.Context, req *Request) (*Response, error) {
	if h.entered != nil {
		h.entered <- struct{}{}
	}
	if h.block != nil {
		select {
		case <-h.block:
		case <-ctx.Done():
		}
	}
	if bytes.HasPrefix(req.Body, []byte("file")) && h.file != nil {
		return &Response{CorrelationID: req.CorrelationID, Parts: []Part{
			{Bytes: []byte("<")},
			{File: &FileRange{OS: h.file, ReaderAt: h.file, Offset: 2, Size: 5}},
			{Bytes: []byte(">")},
		}, Release: func() { h.release <- struct{}{} }}, nil
	}
	return &Response{CorrelationID: req.CorrelationID, Parts: []Part{{Bytes: req.Body}}}, nil
}

func startServer(t *testing.T, h Handler, max int32) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{MaxRequestBytes: max}, h)
	if err := s.Serve(l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, l.Addr().String()
}

// frame builds a Metadata v1 request frame (header v1) with body.
func frame(corr int32, body []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint16(b, 3) // Metadata
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 2)
	b = append(b, "id"...)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func readResponse(t *testing.T, r io.Reader) (int32, []byte) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:]
}

func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection not closed: %v", err)
	}
}

func TestPipelinedResponsesInOrder(t *testing.T) {
	_, addr := startServer(t, &echoHandler{}, 1<<20)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var all []byte
	for i := int32(0); i < 100; i++ {
		all = append(all, frame(i, []byte{byte(i)})...)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := int32(0); i < 100; i++ {
		corr, body := readResponse(t, br)
		if corr != i || len(body) != 1 || body[0] != byte(i) {
			t.Fatalf("response %d: corr %d body %v", i, corr, body)
		}
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	_, addr := startServer(t, &echoHandler{}, 1<<10)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Claim 2 GiB and send nothing more: the server must close without
	// waiting for (or allocating) the body.
	if _, err := c.Write([]byte{0x7f, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
}

func TestReadFrameDoesNotAllocateOversized(t *testing.T) {
	hdr := []byte{0x7f, 0xff, 0xff, 0xff}
	scratch := make([]byte, 4)
	_, err := ReadFrame(bytes.NewReader(hdr), scratch, 1<<20)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err %v", err)
	}
	var ms runtimeMem
	ms.check(t, func() { _, _ = ReadFrame(bytes.NewReader(hdr), scratch, 1<<20) })
}

func TestGarbageClosesConnection(t *testing.T) {
	for name, data := range map[string][]byte{
		"negative size":   {0xff, 0xff, 0xff, 0xfe},
		"too small":       {0, 0, 0, 2, 0, 3},
		"unknown api key": {0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0},
		"short client id": {0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0, 9},
	} {
		t.Run(name, func(t *testing.T) {
			_, addr := startServer(t, &echoHandler{}, 1<<10)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(data); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c)
		})
	}
}

func TestFileRangeSent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &echoHandler{file: f, release: make(chan struct{}, 10)}
	_, addr := startServer(t, h, 1<<10)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(append(frame(7, []byte("file")), frame(8, []byte("file"))...)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int32{7, 8} {
		corr, body := readResponse(t, c)
		if corr != want || string(body) != "<23456>" {
			t.Fatalf("corr %d body %q", corr, body)
		}
		<-h.release
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	h := &echoHandler{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	s, addr := startServer(t, h, 1<<10)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(frame(1, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	<-h.entered // the request is in flight, not still in the socket
	// Shutdown cancels the handlers' context; the blocked request then
	// answers, and the connection closes after its response.
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	corr, body := readResponse(t, c)
	if corr != 1 || string(body) != "x" {
		t.Fatalf("corr %d body %q", corr, body)
	}
	expectClosed(t, c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

func TestParseRequestFlexibleHeader(t *testing.T) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	wire := kmsg.NewRequestFormatter(kmsg.FormatterClientID("cid")).AppendRequest(nil, req, 42)
	got, err := ParseRequest(wire[4:])
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != 3 || got.Version != 12 || got.CorrelationID != 42 || got.ClientID == nil || *got.ClientID != "cid" {
		t.Fatalf("%+v", got)
	}
	back := kmsg.NewPtrMetadataRequest()
	back.SetVersion(12)
	if err := back.ReadFrom(got.Body); err != nil {
		t.Fatalf("body after header: %v", err)
	}
}

// FuzzParseRequest checks request header parsing: what parses carries the
// key, version and correlation id of the frame's first 8 bytes, its body
// is the frame's tail, and what lies between is exactly the rest of the
// request header: the client id (a null one is any negative length, as
// Kafka reads it) and, for header v2, tagged fields ending where SkipTags
// says; ControlledShutdown v0 has header v0, which ends there.
func FuzzParseRequest(f *testing.F) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	f.Add(kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)[4:])
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	f.Add(kmsg.NewRequestFormatter(kmsg.FormatterClientID("cid")).AppendRequest(nil, md, 7)[4:])
	f.Add(frame(1, []byte("x"))[4:])
	f.Add([]byte{0, 7, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParsedRequest(t, data)
	})
}

// checkParsedRequest is FuzzParseRequest's check; it returns what
// ParseRequest returned, nil on an error.
func checkParsedRequest(t *testing.T, data []byte) *Request {
	t.Helper()
	req, err := ParseRequest(data)
	if err != nil {
		return nil
	}
	be := binary.BigEndian
	if len(data) < 8 || req.Key != int16(be.Uint16(data)) || req.Version != int16(be.Uint16(data[2:])) ||
		req.CorrelationID != int32(be.Uint32(data[4:])) || req.Size != len(data) || req.Version < 0 {
		t.Fatalf("parsed %+v from %x", req, data)
	}
	if len(req.Body) > len(data)-8 || !bytes.Equal(req.Body, data[len(data)-len(req.Body):]) {
		t.Fatalf("body %x is not the tail of %x", req.Body, data)
	}
	header := data[8 : len(data)-len(req.Body)]
	kreq := kmsg.RequestForKey(req.Key)
	kreq.SetVersion(req.Version)
	switch {
	case req.Key == 7 && req.Version == 0:
		if len(header) != 0 || req.ClientID != nil {
			t.Fatalf("ControlledShutdown v0 with header %x", header)
		}
	default:
		// The client id: a null one is any negative length, as in Kafka.
		n := 2
		if req.ClientID == nil {
			if len(header) < 2 || int16(be.Uint16(header)) >= 0 {
				t.Fatalf("header %x for a null client id", header)
			}
		} else {
			want := be.AppendUint16(nil, uint16(len(*req.ClientID)))
			want = append(want, *req.ClientID...)
			if !bytes.HasPrefix(header, want) {
				t.Fatalf("header %x does not start with the client id %q", header, want)
			}
			n = len(want)
		}
		tags := header[n:]
		if !kreq.IsFlexible() && len(tags) != 0 {
			t.Fatalf("%d bytes after the client id of a header v1", len(tags))
		}
		if kreq.IsFlexible() {
			// The tagged fields must be exactly what SkipTags skips.
			rd := kbin.Reader{Src: tags}
			kmsg.SkipTags(&rd)
			if rd.Complete() != nil || len(tags) == 0 {
				t.Fatalf("tagged fields %x of a header v2", tags)
			}
		}
	}
	return req
}

// FuzzReadRequests reads a byte stream as a connection would, frame after
// frame, with a small socket.request.max.bytes: every request read is the
// next size-prefixed frame of the stream, parsed as ParseRequest parses
// it; oversized or undersized frames are refused before their body is
// read; and recycling every request's frame (as handlers do) never shows
// one request's bytes in another.
func FuzzReadRequests(f *testing.F) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	one := kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)
	f.Add(append(append([]byte(nil), one...), frame(2, bytes.Repeat([]byte("x"), 300))...))
	f.Add(frame(1, nil))
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	const maxSize = 1 << 16
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		var sizeBuf [4]byte
		for pos := 0; ; {
			req, err := ReadRequest(r, sizeBuf[:], maxSize)
			if len(stream)-pos < 4 {
				if err == nil {
					t.Fatalf("request read from %d bytes", len(stream)-pos)
				}
				return
			}
			size := int32(binary.BigEndian.Uint32(stream[pos:]))
			switch {
			case size > maxSize && !errors.Is(err, ErrFrameTooLarge):
				t.Fatalf("frame of %d bytes: %v", size, err)
			case size < 8 && !errors.Is(err, ErrBadFrame):
				t.Fatalf("frame of %d bytes: %v", size, err)
			case size < 8 || size > maxSize:
				if consumed := len(stream) - r.Len(); consumed != pos+4 {
					t.Fatalf("refused frame: read %d bytes past its size", consumed-pos-4)
				}
				return
			case int(size) > len(stream)-pos-4:
				if err == nil {
					t.Fatalf("request from a frame of %d bytes with %d left", size, len(stream)-pos-4)
				}
				return
			}
			fr := stream[pos+4 : pos+4+int(size)]
			pos += 4 + int(size)
			want := checkParsedRequest(t, fr)
			if (want == nil) != (err != nil) {
				t.Fatalf("ReadRequest: %v; ParseRequest of the frame: %v", err, want)
			}
			if err != nil {
				continue // the server closes the connection here; read on anyway
			}
			if req.Key != want.Key || req.Version != want.Version || req.CorrelationID != want.CorrelationID ||
				req.Size != int(size) || !bytes.Equal(req.Body, want.Body) || (req.ClientID == nil) != (want.ClientID == nil) ||
				req.ClientID != nil && *req.ClientID != *want.ClientID {
				t.Fatalf("read %+v, frame parses as %+v", req, want)
			}
			req.Recycle() // the next request may be read into this frame
		}
	})
}
