package controller

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// raftMagic opens every connection of the metadata log's Raft transport.
// A Kafka request frame opens with its size as a big-endian int32, whose
// first byte is 0 for any frame below 16 MiB and never 0xF0 (that would
// be a negative size), so one listener can carry both.
const raftMagic byte = 0xF0

// firstByteTimeout bounds how long an accepted connection may stay silent
// before the mux decides what it is. Kafka clients and Raft peers both
// speak first.
const firstByteTimeout = 30 * time.Second

// Mux splits one listener into the connections of the metadata log's Raft
// transport and Kafka connections: a controller listener serves both, as
// KRaft's controller listener carries both the Raft protocol and the
// controller APIs, and so does a broker-only node's inter-broker listener,
// on which the quorum's leader sends it the log.
type Mux struct {
	ln    net.Listener
	raft  *muxListener
	kafka *muxListener
	once  sync.Once
	done  chan struct{}
}

// NewMux starts splitting ln's connections. Close closes ln.
func NewMux(ln net.Listener) *Mux {
	m := &Mux{ln: ln, done: make(chan struct{})}
	m.raft = newMuxListener(ln.Addr(), m)
	m.kafka = newMuxListener(ln.Addr(), m)
	go m.acceptLoop()
	return m
}

// Kafka is the listener of the Kafka connections.
func (m *Mux) Kafka() net.Listener { return m.kafka }

// Raft is the Raft transport's stream layer over the Raft connections;
// advertised is the address other nodes dial (the configured voter or
// broker address, not necessarily the bound one).
func (m *Mux) Raft(advertised string) raft.StreamLayer {
	return &streamLayer{muxListener: m.raft, advertised: advertised, conns: map[*trackedConn]struct{}{}}
}

// Close stops accepting and closes the listener; connections already
// handed out are their owners'.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	return err
}

func (m *Mux) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			_ = m.Close()
			return
		}
		backoff = 0
		go m.route(c)
	}
}

// route reads the first byte and hands the connection to its side.
func (m *Mux) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(firstByteTimeout))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if b[0] == raftMagic {
		m.raft.deliver(c)
		return
	}
	m.kafka.deliver(&prefixConn{Conn: c, first: b[0], pending: true})
}

// muxListener is one side of a Mux.
type muxListener struct {
	addr  net.Addr
	mux   *Mux
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newMuxListener(addr net.Addr, m *Mux) *muxListener {
	return &muxListener{addr: addr, mux: m, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *muxListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	case <-l.mux.done:
		c.Close()
	}
}

func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.mux.done:
		return nil, net.ErrClosed
	}
}

// Close closes this side only; the other keeps working until the Mux
// closes.
func (l *muxListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *muxListener) Addr() net.Addr { return l.addr }

// prefixConn gives back the byte the mux read.
type prefixConn struct {
	net.Conn
	first   byte
	pending bool
}

// PlainTCP lets the server write responses (sendfile) to the TCP
// connection itself: the prefix only affects reads (server.TCPWrapper).
func (c *prefixConn) PlainTCP() *net.TCPConn {
	tc, _ := c.Conn.(*net.TCPConn)
	return tc
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		p[0] = c.first
		c.pending = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// streamLayer is raft.StreamLayer over the Raft side of a Mux: outgoing
// connections announce themselves with raftMagic. Closing it (Raft's
// transport does when the store closes) closes every connection it made or
// accepted, so none of the transport's goroutines outlives it.
type streamLayer struct {
	*muxListener
	advertised string

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

// trackedConn removes itself from its stream layer when closed.
type trackedConn struct {
	net.Conn
	s    *streamLayer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

func (s *streamLayer) track(c net.Conn) (net.Conn, error) {
	tc := &trackedConn{Conn: c, s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	s.conns[tc] = struct{}{}
	return tc, nil
}

func (s *streamLayer) Accept() (net.Conn, error) {
	c, err := s.muxListener.Accept()
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

func (s *streamLayer) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*trackedConn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return s.muxListener.Close()
}

func (s *streamLayer) Addr() net.Addr { return advertisedAddr(s.advertised) }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if c, err = s.track(c); err != nil {
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{raftMagic}); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// advertisedAddr is a net.Addr for a host:port string.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }
