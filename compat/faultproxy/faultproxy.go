// Package faultproxy is a TCP proxy between Kafka clients and a broker that
// loses data on purpose: the negative control of the compatibility suite.
// A scenario whose check still passes through it cannot see lost records.
//
// It reads the Kafka frames in both directions, remembers the API key and
// version of every request by correlation id, and in Fetch responses drops
// record batches: the first data batch of every partition it sees, then every
// Nth distinct batch (control batches, the transaction markers, pass). A
// dropped batch stays dropped on every later fetch, over any connection, so a
// client cannot get it by fetching again. Optionally it also drops Produce
// responses, closing the connection instead, so that a producer must retry a
// batch the broker already wrote.
//
// Fetches by a follower (a replica id or replica state naming a broker)
// pass untouched: in front of a cluster whose nodes advertise the proxy,
// replication goes through it too, and the loss is for clients to see, not
// for the followers' logs.
//
// The broker must advertise the proxy's address, so that clients connect to
// the proxy after the bootstrap too (advertised.listeners). In front of a
// cluster, one Proxy forwards one listener to each broker (Forward), and the
// faults and records are the Proxy's, shared by all its listeners: the
// first Produce response to drop is the first on any of them.
package faultproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config says what the proxy breaks.
type Config struct {
	// DropFetchEvery: drop the first data batch of each partition and then
	// every Nth distinct one; 0 drops none.
	DropFetchEvery int
	// DropProduceResponses: the number of Produce responses to idempotent
	// producers (with acks) to swallow, closing the client's connection
	// instead; each makes the producer retry a batch the broker has written.
	// Arm sets it again.
	DropProduceResponses int
	// Logf, if set, reports each fault.
	Logf func(format string, args ...any)
}

// Proxy forwards its listeners, each to one broker address.
type Proxy struct {
	cfg Config
	lns []net.Listener // guarded by mu

	mu      sync.Mutex
	seen    map[string]int  // topic/partition -> distinct data batches seen
	dropped map[string]bool // topic/partition/baseOffset dropped
	order   map[string]bool // topic/partition/baseOffset already counted
	pids    map[ProducerID]int

	produceLeft atomic.Int64
	// DroppedBatches counts the distinct batches lost (each is left out of
	// every later response too); DroppedProduces the Produce responses.
	DroppedBatches  atomic.Int64
	DroppedProduces atomic.Int64
	wg              sync.WaitGroup
}

// Listen starts a proxy on addr ("127.0.0.1:0" for any port) that forwards
// to target.
func Listen(addr, target string, cfg Config) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, lns: []net.Listener{ln},
		seen: map[string]int{}, dropped: map[string]bool{}, order: map[string]bool{}}
	p.produceLeft.Store(int64(cfg.DropProduceResponses))
	p.wg.Add(1)
	go p.accept(ln, target)
	return p, nil
}

// Forward adds a listener on addr that forwards to target, another broker
// of the same cluster, with this proxy's faults and records; it returns the
// listener's address, which that broker must advertise.
func (p *Proxy) Forward(addr, target string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.lns = append(p.lns, ln)
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln, target)
	return ln.Addr().String(), nil
}

// Addr is the address clients connect to: the first listener's.
func (p *Proxy) Addr() string { return p.Addrs()[0] }

// Addrs are the addresses of every listener, in the order they were added.
func (p *Proxy) Addrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.lns))
	for i, ln := range p.lns {
		out[i] = ln.Addr().String()
	}
	return out
}

// Close stops accepting on every listener; open connections end with their
// peers.
func (p *Proxy) Close() error {
	p.mu.Lock()
	var err error
	for _, ln := range p.lns {
		err = errors.Join(err, ln.Close())
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) logf(format string, args ...any) {
	if p.cfg.Logf != nil {
		p.cfg.Logf(format, args...)
	}
}

func (p *Proxy) accept(ln net.Listener, target string) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c, target)
	}
}

type reqInfo struct {
	key, version int16
	acks         int16 // Produce only
	idempotent   bool  // Produce with a producer id
	replica      bool  // Fetch by a follower
}

// ProducerID is one producer id and epoch seen in a Produce request.
type ProducerID struct {
	ID    int64
	Epoch int16
}

// Arm makes the proxy swallow the next n Produce responses to idempotent
// producers (closing the connection instead) and starts recording the
// producer ids of Produce requests afresh.
func (p *Proxy) Arm(n int) {
	p.mu.Lock()
	p.pids = map[ProducerID]int{}
	p.mu.Unlock()
	p.DroppedProduces.Store(0)
	p.produceLeft.Store(int64(n))
}

// Disarm stops swallowing Produce responses; what was recorded stays.
func (p *Proxy) Disarm() { p.produceLeft.Store(0) }

// ProducerIDs are the producer ids and epochs of the Produce requests since
// Arm, with the number of batches each sent.
func (p *Proxy) ProducerIDs() map[ProducerID]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[ProducerID]int{}
	for k, v := range p.pids {
		out[k] = v
	}
	return out
}

// requestBody is the body of a request frame (after the size): the
// header's API key, version, correlation id and client id skipped, and
// its tagged fields from flexibleFrom (the first version with header v2).
func requestBody(frame []byte, version, flexibleFrom int16) ([]byte, error) {
	b := frame[8:]
	if len(b) < 2 {
		return nil, errors.New("short request header")
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > 0 {
		if len(b) < int(n) {
			return nil, errors.New("short client id")
		}
		b = b[n:]
	}
	if version >= flexibleFrom {
		return skipTags(b)
	}
	return b, nil
}

// replicaFetch reports whether a Fetch request frame (after the size) is a
// follower's: a replica id (before v15) or replica state (v15 and later)
// naming a broker.
func replicaFetch(frame []byte, version int16) bool {
	b, err := requestBody(frame, version, 12)
	if err != nil {
		return false
	}
	req := kmsg.NewFetchRequest()
	req.Version = version
	if err := req.ReadFrom(b); err != nil {
		return false
	}
	return req.ReplicaID >= 0 || req.ReplicaState.ID >= 0
}

// produceInfo reads the acks of a Produce request frame (after the size)
// and records the producer ids of its batches.
func (p *Proxy) produceInfo(frame []byte, version int16) (acks int16, idempotent bool) {
	b, err := requestBody(frame, version, 9)
	if err != nil {
		return -1, false
	}
	req := kmsg.NewProduceRequest()
	req.Version = version
	if err := req.ReadFrom(b); err != nil {
		return -1, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range req.Topics {
		for _, part := range t.Partitions {
			rb := part.Records
			for len(rb) >= 61 && rb[16] == 2 {
				length := int(int32(binary.BigEndian.Uint32(rb[8:])))
				if length < 49 || 12+length > len(rb) {
					break
				}
				id := ProducerID{ID: int64(binary.BigEndian.Uint64(rb[43:])), Epoch: int16(binary.BigEndian.Uint16(rb[51:]))}
				if id.ID >= 0 {
					idempotent = true
					if p.pids != nil {
						p.pids[id]++
					}
				}
				rb = rb[12+length:]
			}
		}
	}
	return req.Acks, idempotent
}

func (p *Proxy) serve(client net.Conn, target string) {
	defer client.Close()
	broker, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer broker.Close()
	var mu sync.Mutex
	inflight := map[int32]reqInfo{}
	done := make(chan struct{}, 2)
	go func() { // client -> broker
		defer func() { done <- struct{}{} }()
		for {
			frame, err := readFrame(client)
			if err != nil {
				return
			}
			if len(frame) >= 8 {
				ri := reqInfo{key: int16(binary.BigEndian.Uint16(frame)), version: int16(binary.BigEndian.Uint16(frame[2:]))}
				corr := int32(binary.BigEndian.Uint32(frame[4:]))
				if ri.key == 0 {
					ri.acks, ri.idempotent = p.produceInfo(frame, ri.version)
				}
				if ri.key == 1 && p.cfg.DropFetchEvery > 0 {
					ri.replica = replicaFetch(frame, ri.version)
				}
				mu.Lock()
				inflight[corr] = ri
				mu.Unlock()
			}
			if err := writeFrame(broker, frame); err != nil {
				return
			}
		}
	}()
	go func() { // broker -> client
		defer func() { done <- struct{}{} }()
		for {
			frame, err := readFrame(broker)
			if err != nil || len(frame) < 4 {
				return
			}
			corr := int32(binary.BigEndian.Uint32(frame))
			mu.Lock()
			ri, ok := inflight[corr]
			delete(inflight, corr)
			mu.Unlock()
			if ok && ri.key == 0 && ri.acks != 0 && ri.idempotent && p.produceLeft.Add(-1) >= 0 {
				p.DroppedProduces.Add(1)
				p.logf("faultproxy: dropped a Produce response (correlation id %d) and closed the connection", corr)
				return
			}
			if ok && ri.key == 1 && p.cfg.DropFetchEvery > 0 && !ri.replica {
				if out, err := p.fetch(frame, ri.version); err == nil {
					frame = out
				} else {
					p.logf("faultproxy: fetch response v%d not rewritten: %v", ri.version, err)
				}
			}
			if err := writeFrame(client, frame); err != nil {
				return
			}
		}
	}()
	<-done // either side ending ends both
}

func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("bad tagged fields")
	}
	b = b[k:]
	for range n {
		_, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[k+int(size):]
	}
	return b, nil
}

// fetch rewrites a Fetch response frame (without its size), dropping batches.
func (p *Proxy) fetch(frame []byte, version int16) ([]byte, error) {
	body := frame[4:]
	if version >= 12 { // response header v1
		rest, err := skipTags(body)
		if err != nil {
			return nil, err
		}
		body = rest
	}
	header := frame[:len(frame)-len(body)]
	resp := kmsg.NewFetchResponse()
	resp.Version = version
	if err := resp.ReadFrom(body); err != nil {
		return nil, err
	}
	changed := false
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		name := t.Topic
		if name == "" {
			name = fmt.Sprintf("%x", t.TopicID)
		}
		for pi := range t.Partitions {
			part := &t.Partitions[pi]
			out, n := p.dropBatches(fmt.Sprintf("%s/%d", name, part.Partition), part.RecordBatches)
			if n > 0 {
				part.RecordBatches = out
				changed = true
			}
		}
	}
	if !changed {
		return frame, nil
	}
	return resp.AppendTo(append([]byte(nil), header...)), nil
}

// dropBatches walks the v2 record batches of one partition and leaves out
// those chosen to be lost.
func (p *Proxy) dropBatches(tp string, batches []byte) ([]byte, int) {
	out := make([]byte, 0, len(batches)) // empty, not null, when all are dropped
	dropped := 0
	b := batches
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(b) >= 23 {
		length := int(int32(binary.BigEndian.Uint32(b[8:])))
		if length < 0 || 12+length > len(b) || b[16] != 2 {
			break // a partial batch at the end, or an old message set: as is
		}
		batch := b[:12+length]
		b = b[12+length:]
		base := int64(binary.BigEndian.Uint64(batch))
		control := binary.BigEndian.Uint16(batch[21:])&0x20 != 0
		id := fmt.Sprintf("%s/%d", tp, base)
		if !control && !p.order[id] {
			p.order[id] = true
			if p.seen[tp]%p.cfg.DropFetchEvery == 0 {
				p.dropped[id] = true
				p.DroppedBatches.Add(1)
				p.logf("faultproxy: dropping the record batch at %s offset %d", tp, base)
			}
			p.seen[tp]++
		}
		if p.dropped[id] {
			dropped++
			continue
		}
		out = append(out, batch...)
	}
	if dropped == 0 {
		return batches, 0
	}
	return append(out, b...), dropped
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > 256<<20 {
		return nil, fmt.Errorf("frame size %d", n)
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(r, buf)
	return buf, err
}

func writeFrame(w io.Writer, frame []byte) error {
	buf := make([]byte, 4+len(frame))
	binary.BigEndian.PutUint32(buf, uint32(len(frame)))
	copy(buf[4:], frame)
	_, err := w.Write(buf)
	return err
}
