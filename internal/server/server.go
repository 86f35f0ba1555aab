package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one request read from a connection.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      *string
	// Body is the request body after the header. It stays valid until the
	// handler calls Recycle; a handler that never does owns it for good.
	Body       []byte
	ClientAddr string
	// Size is the frame size in bytes, size prefix excluded.
	Size int

	frame []byte // the buffer ReadRequest read the frame into
}

// Recycle gives the request's frame buffer back to the server, to read a
// later request into. The caller promises that nothing refers to Body, or
// to anything decoded from it without a copy (kmsg aliases byte fields such
// as a produce request's records), any more. Calling it is optional: a
// request that is not recycled is left to the garbage collector. Recycling
// twice, or a request the server did not read, does nothing.
func (r *Request) Recycle() {
	if r.frame == nil {
		return
	}
	putFrame(r.frame)
	r.frame, r.Body = nil, nil
}

// Response is what the server writes back: the response header (correlation
// id, then tagged fields when FlexibleHeader) followed by Parts.
type Response struct {
	CorrelationID  int32
	FlexibleHeader bool // response header v1; ApiVersions always uses v0
	Parts          []Part
	// Release, if set, runs once the response was written or abandoned
	// (to release file handles behind file parts).
	Release func()
	// Observe, if set, runs after the response was written or abandoned,
	// with the bytes written and the write error.
	Observe func(written int64, err error)
	// Await, if set, makes the response deferred: the handler returned
	// before the response's content is final (a produce whose records are
	// written but not yet durable). The connection's writer goroutine calls
	// Await, in request order, just before writing the response; Await may
	// block, while the reader goes on reading and serving the connection's
	// next requests. Await fills in Parts (and may set Release and
	// Observe); an error closes the connection. ctx ends when the
	// connection is closed under it (a failed write, or a shutdown whose
	// deadline passed). Await is not called for a response abandoned
	// because the connection failed; Release and Observe still are.
	Await func(ctx context.Context) error
}

// Part is a byte slice or, when File is non-nil, a file range.
type Part struct {
	Bytes []byte
	File  *FileRange
}

// Size is the part's length on the wire.
func (p Part) Size() int64 {
	if p.File != nil {
		return p.File.Size
	}
	return int64(len(p.Bytes))
}

// Len is the response length on the wire without the size prefix.
func (r *Response) Len() int64 {
	n := int64(4)
	if r.FlexibleHeader {
		n++
	}
	for _, p := range r.Parts {
		n += p.Size()
	}
	return n
}

// Handler serves requests. Serve is called from one goroutine per
// connection, concurrently across connections, one request at a time per
// connection and in the connection's order. It returns the response to
// write, nil for a request that gets none (Produce with acks=0), or an error
// to close the connection. ctx is cancelled when the server shuts down. A
// response that must wait for something (durability) before it is final
// sets Response.Await instead of blocking Serve, so the connection's next
// request is served meanwhile.
type Handler interface {
	Serve(ctx context.Context, req *Request) (*Response, error)
}

// Observer receives connection events for metrics; all methods must be safe
// for concurrent use.
type Observer interface {
	ConnOpened()
	ConnClosed()
	BytesIn(n int)
}

// Config of a Server.
type Config struct {
	// MaxRequestBytes is socket.request.max.bytes: larger frames close the
	// connection before allocation. Zero means 100 MiB.
	MaxRequestBytes int32
	// Logger for connection-level events; nil discards them.
	Logger *slog.Logger
	// Observer, optional.
	Observer Observer
	// WriteTimeout bounds writing one response; zero means 60 s.
	WriteTimeout time.Duration
	// MaxQueuedResponses bounds the responses of one connection that were
	// served but not yet written (most of them deferred, waiting in Await).
	// When it is reached the connection's reader stops reading until the
	// writer catches up: backpressure on a client that pipelines faster
	// than its requests complete. Zero means 16.
	MaxQueuedResponses int
}

// ErrFrameTooLarge reports a size prefix over the maximum.
var ErrFrameTooLarge = errors.New("request frame larger than socket.request.max.bytes")

// ErrBadFrame reports a size prefix too small to hold a request header.
var ErrBadFrame = errors.New("request frame too small for a request header")

// Server accepts connections on listeners and serves them.
type Server struct {
	cfg     Config
	handler Handler
	logger  *slog.Logger

	drainCtx    context.Context // handed to handlers; cancelled at shutdown
	cancelDrain context.CancelFunc

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*conn]struct{}
	closing   bool
	wg        sync.WaitGroup // accept loops and connections
}

// New returns a server for handler.
func New(cfg Config, handler Handler) *Server {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 60 * time.Second
	}
	if cfg.MaxQueuedResponses <= 0 {
		cfg.MaxQueuedResponses = 16
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, handler: handler, logger: logger, drainCtx: ctx, cancelDrain: cancel, conns: map[*conn]struct{}{}}
}

// Serve accepts connections on l until Shutdown; it returns at once, running
// the accept loop in a goroutine.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errors.New("server is shut down")
	}
	s.listeners = append(s.listeners, l)
	s.wg.Add(1)
	go s.acceptLoop(l)
	return nil
}

func (s *Server) acceptLoop(l net.Listener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE...): back off instead of spinning.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			s.logger.Warn("accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if tc := plainTCP(nc); tc != nil {
			_ = tc.SetNoDelay(true)
		}
		c := &conn{srv: s, nc: nc, addr: nc.RemoteAddr().String(), out: make(chan *Response, s.cfg.MaxQueuedResponses), done: make(chan struct{})}
		c.ctx, c.cancel = context.WithCancel(context.Background())
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		if o := s.cfg.Observer; o != nil {
			o.ConnOpened()
		}
		go c.serve()
	}
}

// Shutdown stops accepting, cancels the handlers' context, waits for the
// requests already read to be answered and closes every connection. If ctx
// ends first, connections are closed at once and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancelDrain()
	for _, c := range conns {
		c.stopReading()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.cancel()
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// conn is one client connection.
type conn struct {
	srv  *Server
	nc   net.Conn
	addr string
	out  chan *Response // responses in request order; closed by the reader
	done chan struct{}  // closed when the writer stops

	// ctx is handed to Response.Await; cancelled when the connection is
	// closed under the writer.
	ctx    context.Context
	cancel context.CancelFunc

	stopping atomic.Bool
	// queued counts the responses handed to the writer and not yet written
	// or released. While it is zero the writer is idle, and the reader may
	// write a response itself without breaking request order.
	queued atomic.Int32
}

func (c *conn) stopReading() {
	c.stopping.Store(true)
	_ = c.nc.SetReadDeadline(time.Now())
}

func (c *conn) serve() {
	defer c.srv.wg.Done()
	go c.writeLoop()
	err := c.readLoop()
	close(c.out)
	<-c.done
	c.cancel()
	c.nc.Close()
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
	if o := c.srv.cfg.Observer; o != nil {
		o.ConnClosed()
	}
	if err != nil && !errors.Is(err, io.EOF) && !c.stopping.Load() {
		c.srv.logger.Debug("connection closed", "client", c.addr, "err", err)
	}
}

func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 32<<10)
	var sizeBuf [4]byte
	for {
		if c.stopping.Load() {
			return nil
		}
		req, err := ReadRequest(br, sizeBuf[:], c.srv.cfg.MaxRequestBytes)
		if err != nil {
			return err
		}
		if o := c.srv.cfg.Observer; o != nil {
			o.BytesIn(req.Size + 4)
		}
		req.ClientAddr = c.addr
		resp, err := c.srv.handler.Serve(c.srv.drainCtx, req)
		if err != nil {
			return fmt.Errorf("api %d v%d: %w", req.Key, req.Version, err)
		}
		if resp == nil {
			continue
		}
		if resp.Await == nil && c.queued.Load() == 0 {
			// Nothing is queued or being written: write the response
			// here rather than wake the writer for it. For a lone request
			// (a producer or consumer waiting on each record) that saves a
			// goroutine hand-off per response, which on an idle machine
			// costs more than serving the request.
			if err := c.write(resp); err != nil {
				return err
			}
			continue
		}
		c.queued.Add(1)
		select {
		case c.out <- resp:
		case <-c.done: // the writer failed; the connection is going away
			release(resp, 0, net.ErrClosed)
			return net.ErrClosed
		}
	}
}

// write writes resp and releases it; a failed write closes the connection.
func (c *conn) write(resp *Response) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	n, err := writeResponse(c.nc, resp)
	release(resp, n, err)
	if err != nil {
		// Unblock the reader and the deferred responses: nothing more can
		// be written.
		c.cancel()
		c.nc.Close()
	}
	return err
}

// writeLoop writes the responses in request order, completing deferred
// ones first. After a failure it goes on draining the queue, releasing
// each response unwritten, until the reader (whose reads now fail on the
// closed socket) closes it.
func (c *conn) writeLoop() {
	defer close(c.done)
	var failed error
	for resp := range c.out {
		failed = c.finish(resp, failed)
		c.queued.Add(-1)
	}
}

// finish completes (Await) and writes one queued response, or releases it
// unwritten after an earlier failure. It returns the connection's failure.
func (c *conn) finish(resp *Response, failed error) error {
	if failed != nil {
		release(resp, 0, failed)
		return failed
	}
	if resp.Await != nil {
		if err := resp.Await(c.ctx); err != nil {
			err = fmt.Errorf("complete deferred response: %w", err)
			release(resp, 0, err)
			c.cancel()
			c.nc.Close()
			return err
		}
	}
	return c.write(resp)
}

func release(r *Response, n int64, err error) {
	if r.Release != nil {
		r.Release()
	}
	if r.Observe != nil {
		r.Observe(n, err)
	}
}

// ReadRequest reads one frame with ReadFrame and parses its header with
// ParseRequest. The request's frame buffer may be given back with
// Request.Recycle once the handler is done with it.
func ReadRequest(r io.Reader, sizeBuf []byte, max int32) (*Request, error) {
	frame, err := ReadFrame(r, sizeBuf, max)
	if err != nil {
		return nil, err
	}
	req, err := ParseRequest(frame)
	if err != nil {
		putFrame(frame)
		return nil, err
	}
	req.frame = frame
	return req, nil
}

// ReadFrame reads one size-prefixed frame. sizeBuf is 4 bytes of scratch
// space. The size is checked before the body's buffer is taken, from the
// pool of recycled frames when one of the right size class is free.
func ReadFrame(r io.Reader, sizeBuf []byte, max int32) ([]byte, error) {
	if _, err := io.ReadFull(r, sizeBuf[:4]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf))
	if size > max {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, max)
	}
	if size < 8 { // key, version, correlation id
		return nil, fmt.Errorf("%w: %d bytes", ErrBadFrame, size)
	}
	body := getFrame(int(size))
	if _, err := io.ReadFull(r, body); err != nil {
		putFrame(body)
		return nil, err
	}
	return body, nil
}

// ParseRequest decodes a request header (v0 for ControlledShutdown v0, v1,
// or v2 for flexible versions) from a frame. An API key kmsg does not know
// is an error, since its header version is unknown.
func ParseRequest(frame []byte) (*Request, error) {
	rd := kbin.Reader{Src: frame}
	req := &Request{Size: len(frame)}
	req.Key = rd.Int16()
	req.Version = rd.Int16()
	req.CorrelationID = rd.Int32()
	kreq := kmsg.RequestForKey(req.Key)
	if kreq == nil {
		return nil, fmt.Errorf("unknown api key %d", req.Key)
	}
	if req.Version < 0 {
		return nil, fmt.Errorf("negative api version %d", req.Version)
	}
	if req.Key == 7 && req.Version == 0 { // ControlledShutdown v0: header v0
		req.Body = rd.Src
		return req, rd.Complete()
	}
	req.ClientID = rd.NullableString()
	kreq.SetVersion(req.Version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&rd)
	}
	if err := rd.Complete(); err != nil {
		return nil, fmt.Errorf("request header: %w", err)
	}
	req.Body = rd.Src
	return req, nil
}
