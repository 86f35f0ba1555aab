package server

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// deferHandler answers every request with a deferred response that
// completes when the test opens the request's gate (by correlation id);
// a request whose body is "fail" gets an Await that fails.
type deferHandler struct {
	served chan int32 // correlation ids, in the order Serve ran

	mu    sync.Mutex
	gates map[int32]chan struct{}
}

func newDeferHandler() *deferHandler {
	return &deferHandler{served: make(chan int32, 100), gates: map[int32]chan struct{}{}}
}

func (h *deferHandler) gate(corr int32) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	g, ok := h.gates[corr]
	if !ok {
		g = make(chan struct{})
		h.gates[corr] = g
	}
	return g
}

func (h *deferHandler) Serve(ctx context.Context, req *Request) (*Response, error) {
	h.served <- req.CorrelationID
	g := h.gate(req.CorrelationID)
	body := req.Body
	resp := &Response{CorrelationID: req.CorrelationID}
	resp.Await = func(ctx context.Context) error {
		if string(body) == "fail" {
			return errors.New("deferred work failed")
		}
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
		resp.Parts = []Part{{Bytes: body}}
		return nil
	}
	return resp, nil
}

func startConfigured(t *testing.T, cfg Config, h Handler) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, h)
	if err := s.Serve(l); err != nil {
		t.Fatal(err)
	}
	return s, l.Addr().String()
}

func shutdown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestDeferredResponsesDoNotBlockReading: while every response waits in
// Await, the reader serves all the pipelined requests; responses completed
// in reverse order still go out in request order.
func TestDeferredResponsesDoNotBlockReading(t *testing.T) {
	h := newDeferHandler()
	s, addr := startConfigured(t, Config{}, h)
	defer shutdown(t, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 8
	var all []byte
	for i := int32(0); i < n; i++ {
		all = append(all, frame(i, []byte{byte('a' + i)})...)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	// Every request is served although none has completed.
	for i := int32(0); i < n; i++ {
		if got := <-h.served; got != i {
			t.Fatalf("served %d, want %d", got, i)
		}
	}
	for i := int32(n - 1); i >= 0; i-- {
		close(h.gate(i))
	}
	br := bufio.NewReader(c)
	for i := int32(0); i < n; i++ {
		corr, body := readResponse(t, br)
		if corr != i || string(body) != string(rune('a'+i)) {
			t.Fatalf("response %d: correlation %d body %q", i, corr, body)
		}
	}
}

// TestDeferredResponsesBackpressure: with MaxQueuedResponses 2 the reader
// serves at most 2 queued responses plus the one being completed plus the
// one it holds, then stops reading until the oldest completes.
func TestDeferredResponsesBackpressure(t *testing.T) {
	h := newDeferHandler()
	s, addr := startConfigured(t, Config{MaxQueuedResponses: 2}, h)
	defer shutdown(t, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var all []byte
	for i := int32(0); i < 6; i++ {
		all = append(all, frame(i, []byte{byte('a' + i)})...)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for i := int32(0); i < 4; i++ {
		<-h.served
	}
	select {
	case corr := <-h.served:
		t.Fatalf("request %d served with 4 responses outstanding and a queue of 2", corr)
	case <-time.After(50 * time.Millisecond): // checking for absence, not synchronising
	}
	close(h.gate(0))
	if got := <-h.served; got != 4 {
		t.Fatalf("served %d after the first response completed, want 4", got)
	}
	for i := int32(1); i < 6; i++ {
		close(h.gate(i))
	}
	br := bufio.NewReader(c)
	for i := int32(0); i < 6; i++ {
		if corr, _ := readResponse(t, br); corr != i {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
}

// TestDeferredResponseFailureClosesConnection: an Await error closes the
// connection after the responses before it were written.
func TestDeferredResponseFailureClosesConnection(t *testing.T) {
	h := newDeferHandler()
	s, addr := startConfigured(t, Config{}, h)
	defer shutdown(t, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	close(h.gate(0))
	close(h.gate(2))
	req := append(frame(0, []byte("ok")), frame(1, []byte("fail"))...)
	req = append(req, frame(2, []byte("late"))...)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if corr, body := readResponse(t, br); corr != 0 || string(body) != "ok" {
		t.Fatalf("first response: %d %q", corr, body)
	}
	expectClosed(t, c)
}

// TestShutdownCompletesDeferredResponses: a graceful shutdown waits for a
// deferred response and writes it; when the shutdown deadline passes the
// Await context ends.
func TestShutdownCompletesDeferredResponses(t *testing.T) {
	h := newDeferHandler()
	s, addr := startConfigured(t, Config{}, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(append(frame(0, []byte("x")), frame(1, []byte("y"))...)); err != nil {
		t.Fatal(err)
	}
	<-h.served
	<-h.served
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	close(h.gate(0))
	close(h.gate(1))
	br := bufio.NewReader(c)
	for i := int32(0); i < 2; i++ {
		if corr, _ := readResponse(t, br); corr != i {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A response that never completes: the deadline ends its Await.
	h2 := newDeferHandler()
	s2, addr2 := startConfigured(t, Config{}, h2)
	c2, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Write(frame(0, []byte("z"))); err != nil {
		t.Fatal(err)
	}
	<-h2.served
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s2.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown with a stuck deferred response: %v", err)
	}
	expectClosed(t, c2)
}
