package interbroker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBroker answers ApiVersions and WriteTxnMarkers (every partition
// with code) on a loopback port, counting the markers requests.
type fakeBroker struct {
	ln       net.Listener
	code     int16
	requests atomic.Int32
	wg       sync.WaitGroup
}

func startFake(t *testing.T, code int16) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{ln: ln, code: code}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(f.stop)
	return f
}

func (f *fakeBroker) addr() string { return f.ln.Addr().String() }

func (f *fakeBroker) stop() {
	f.ln.Close()
	f.wg.Wait()
}

func (f *fakeBroker) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		rd := kbin.Reader{Src: frame}
		key, version, corr := rd.Int16(), rd.Int16(), rd.Int32()
		rd.NullableString() // client id
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		if req.IsFlexible() {
			kmsg.SkipTags(&rd)
		}
		if err := req.ReadFrom(rd.Src); err != nil {
			return
		}
		var resp kmsg.Response
		switch req := req.(type) {
		case *kmsg.ApiVersionsRequest:
			r := req.ResponseKind().(*kmsg.ApiVersionsResponse)
			for _, k := range []int16{int16(kmsg.ApiVersions), int16(kmsg.WriteTxnMarkers)} {
				v := kmsg.NewApiVersionsResponseApiKey()
				v.ApiKey, v.MinVersion, v.MaxVersion = k, 0, kmsg.RequestForKey(k).MaxVersion()
				if k == int16(kmsg.WriteTxnMarkers) {
					v.MinVersion, v.MaxVersion = 1, 1
				}
				r.ApiKeys = append(r.ApiKeys, v)
			}
			resp = r
		case *kmsg.WriteTxnMarkersRequest:
			f.requests.Add(1)
			r := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
			for _, m := range req.Markers {
				rm := kmsg.NewWriteTxnMarkersResponseMarker()
				rm.ProducerID = m.ProducerID
				for _, t := range m.Topics {
					rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
					rt.Topic = t.Topic
					for _, p := range t.Partitions {
						rt.Partitions = append(rt.Partitions, kmsg.WriteTxnMarkersResponseMarkerTopicPartition{Partition: p, ErrorCode: f.code})
					}
					rm.Topics = append(rm.Topics, rt)
				}
				r.Markers = append(r.Markers, rm)
			}
			resp = r
		default:
			return
		}
		resp.SetVersion(version)
		body := binary.BigEndian.AppendUint32(nil, uint32(corr))
		if resp.IsFlexible() && key != int16(kmsg.ApiVersions) {
			body = append(body, 0)
		}
		body = resp.AppendTo(body)
		out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		if _, err := c.Write(append(out, body...)); err != nil {
			return
		}
	}
}

func markersReq() *kmsg.WriteTxnMarkersRequest {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = 7, 1, true
	t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	t.Topic, t.Partitions = "orders", []int32{0, 3}
	m.Topics = append(m.Topics, t)
	req.Markers = append(req.Markers, m)
	return req
}

// TestRequestFollowsTheEndpoint: a request reaches the broker at the
// address the metadata gives, at the version both sides support; a broker
// that moves is reached at its new address; an unregistered broker and a
// closed client fail at once.
func TestRequestFollowsTheEndpoint(t *testing.T) {
	a, b := startFake(t, 0), startFake(t, 0)
	var addr atomic.Pointer[string]
	first := a.addr()
	addr.Store(&first)
	c := New(Config{NodeID: 1, Logger: slog.New(slog.DiscardHandler), Endpoint: func(id int32) (string, bool) {
		if id != 2 {
			return "", false
		}
		return *addr.Load(), true
	}})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	resp, err := c.Request(ctx, 2, markersReq())
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.WriteTxnMarkersResponse)
	if r.Version != 1 || len(r.Markers) != 1 || len(r.Markers[0].Topics[0].Partitions) != 2 || a.requests.Load() != 1 {
		t.Fatalf("response v%d %+v, requests at a: %d", r.Version, r.Markers, a.requests.Load())
	}

	second := b.addr()
	addr.Store(&second)
	if _, err := c.Request(ctx, 2, markersReq()); err != nil {
		t.Fatal(err)
	}
	if a.requests.Load() != 1 || b.requests.Load() != 1 {
		t.Fatalf("after the move: %d requests at a, %d at b", a.requests.Load(), b.requests.Load())
	}

	if _, err := c.Request(ctx, 3, markersReq()); !errors.Is(err, ErrUnknownBroker) {
		t.Fatalf("request to an unregistered broker: %v", err)
	}
	c.Close()
	if _, err := c.Request(ctx, 2, markersReq()); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after Close: %v", err)
	}
}

// TestRequestToADeadBroker fails with the connection's error within the
// context, for the caller to retry.
func TestRequestToADeadBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	c := New(Config{NodeID: 1, Logger: slog.New(slog.DiscardHandler), Endpoint: func(int32) (string, bool) { return dead, true }})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, 2, markersReq()); err == nil {
		t.Fatal("a request to a closed port succeeded")
	}
}
