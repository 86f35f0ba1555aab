package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionConn is one client connection sending raw Fetch requests at a
// fixed version, so a test controls the session id, epoch, partitions and
// forgotten topics of each request exactly (kgo's own fetch sessions are
// what these tests stand in for).
type sessionConn struct {
	t       testing.TB
	c       net.Conn
	version int16
	corr    int32
	topicID [16]byte
	topic   string

	maxBytes int32 // the request's max bytes; 0 means 1 MiB
	maxWait  int32 // the request's max wait in ms
}

func newSessionConn(t testing.TB, n *testNode, topic string, version int16) *sessionConn {
	t.Helper()
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tp := n.b.meta.Image().Topic(topic)
	if tp == nil {
		t.Fatalf("topic %s does not exist", topic)
	}
	return &sessionConn{t: t, c: c, version: version, topicID: tp.ID, topic: topic}
}

// part is one partition of a request: its index and fetch offset.
type part struct {
	p      int32
	offset int64
}

// fetch sends one request and returns the decoded response.
func (s *sessionConn) fetch(id, epoch int32, parts []part, forget []int32) *kmsg.FetchResponse {
	s.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(s.version)
	req.ReplicaID = -1
	req.MaxWaitMillis = s.maxWait // 0 by default: answer at once
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	if s.maxBytes > 0 {
		req.MaxBytes = s.maxBytes
	}
	req.SessionID, req.SessionEpoch = id, epoch
	if len(parts) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = s.topic, s.topicID
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p.p, p.offset, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(forget) > 0 {
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic, ft.TopicID, ft.Partitions = s.topic, s.topicID, forget
		req.ForgottenTopics = append(req.ForgottenTopics, ft)
	}
	return s.send(req)
}

func (s *sessionConn) send(req *kmsg.FetchRequest) *kmsg.FetchResponse {
	s.t.Helper()
	s.corr++
	wire := kmsg.NewRequestFormatter(kmsg.FormatterClientID("session-test")).AppendRequest(nil, req, s.corr)
	if err := s.c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.c.Write(wire); err != nil {
		s.t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(s.c, size[:]); err != nil {
		s.t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(s.c, body); err != nil {
		s.t.Fatal(err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != s.corr {
		s.t.Fatalf("correlation id %d, want %d", corr, s.corr)
	}
	body = body[4:]
	if req.IsFlexible() {
		body = body[1:] // empty header tags
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(req.Version)
	if err := resp.ReadFrom(body); err != nil {
		s.t.Fatalf("decode fetch response: %v", err)
	}
	return resp
}

// parts of a response by partition index.
func respParts(resp *kmsg.FetchResponse) map[int32]kmsg.FetchResponseTopicPartition {
	out := map[int32]kmsg.FetchResponseTopicPartition{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p
		}
	}
	return out
}

func wantCode(t *testing.T, what string, resp *kmsg.FetchResponse, want *kerr.Error) {
	t.Helper()
	got := kerr.ErrorForCode(resp.ErrorCode)
	if want == nil && got != nil || want != nil && got != want {
		t.Fatalf("%s: top-level error %v, want %v", what, got, want)
	}
	if want != nil && (len(resp.Topics) != 0 || resp.SessionID != 0) {
		t.Fatalf("%s: a session error carries no partitions and session id 0: %+v", what, resp)
	}
}

// sessionNode starts a broker with a topic of n partitions and produces
// perPartition records to each, one batch per record.
func sessionNode(t *testing.T, topic string, partitions int32, perPartition int, props ...string) (*testNode, *kgo.Client) {
	t.Helper()
	pm := map[string]string{}
	for i := 0; i+1 < len(props); i += 2 {
		pm[props[i]] = props[i+1]
	}
	n := startNode(t, pm)
	cl := n.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < partitions; p++ {
		produceN(t, cl, p, perPartition)
	}
	return n, cl
}

func produceN(t *testing.T, cl *kgo.Client, p int32, count int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < count; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// nextOffset is the offset after the last record of a partition's batches.
func nextOffset(t *testing.T, p kmsg.FetchResponseTopicPartition) int64 {
	t.Helper()
	next := int64(-1)
	b := p.RecordBatches
	for len(b) >= 61 {
		var batch kmsg.RecordBatch
		l := int(int32(binary.BigEndian.Uint32(b[8:12]))) + 12
		if l > len(b) {
			break
		}
		if err := batch.ReadFrom(b[:l]); err != nil {
			t.Fatalf("batch: %v", err)
		}
		next = batch.FirstOffset + int64(batch.LastOffsetDelta) + 1
		b = b[l:]
	}
	return next
}

// The client's view of a session drifts from the broker's when the broker
// processes a request whose response the client never reads (kgo abandons
// an in-flight fetch when a rebalance revokes its partitions). The client
// then sends the old epoch again, is told INVALID_FETCH_SESSION_EPOCH,
// and re-establishes the session with a full fetch that names its session
// id with epoch 0. Kafka closes that session and opens a new one; the
// partitions of the full fetch, including ones added since, deliver.
func TestFetchSessionRecoversFromLostResponse(t *testing.T) {
	for _, version := range []int16{12, 18} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			n, _ := sessionNode(t, "drift", 3, 2)
			c := newSessionConn(t, n, "drift", version)

			full := c.fetch(0, 0, []part{{0, 0}}, nil)
			wantCode(t, "open", full, nil)
			id := full.SessionID
			if id == 0 {
				t.Fatal("no session was created")
			}
			if got := nextOffset(t, respParts(full)[0]); got != 2 {
				t.Fatalf("partition 0 fetched up to %d, want 2", got)
			}

			// Epoch 1: the partitions change (0 revoked, 1 assigned). The
			// broker processes it; the client never sees the response.
			_ = c.fetch(id, 1, []part{{1, 0}}, []int32{0})

			// The client still thinks epoch 1 is next and adds partition 2.
			again := c.fetch(id, 1, []part{{1, 0}, {2, 0}}, []int32{0})
			wantCode(t, "reused epoch", again, kerr.InvalidFetchSessionEpoch)

			// It resets: a full fetch with its session id and epoch 0.
			reset := c.fetch(id, 0, []part{{1, 0}, {2, 0}}, nil)
			wantCode(t, "full fetch closing the old session", reset, nil)
			if reset.SessionID == 0 || reset.SessionID == id {
				t.Fatalf("full fetch got session id %d, want a new one (old %d)", reset.SessionID, id)
			}
			got := respParts(reset)
			for _, p := range []int32{1, 2} {
				if next := nextOffset(t, got[p]); next != 2 {
					t.Fatalf("partition %d after the reset fetched up to %d, want 2 (%+v)", p, next, got[p])
				}
			}
			if _, ok := got[0]; ok {
				t.Fatal("the full fetch answered partition 0, which it did not name")
			}

			// The old session is closed; the new one continues at epoch 1.
			wantCode(t, "old session", c.fetch(id, 1, nil, nil), kerr.FetchSessionIDNotFound)
			inc := c.fetch(reset.SessionID, 1, []part{{1, 2}, {2, 2}}, nil)
			wantCode(t, "incremental on the new session", inc, nil)
			if len(inc.Topics) != 0 {
				t.Fatalf("nothing changed, yet the incremental response lists %+v", inc.Topics)
			}
			if n.b.sessions.len() != 1 {
				t.Fatalf("%d sessions cached, want 1", n.b.sessions.len())
			}
		})
	}
}

func TestFetchSessionForgottenPartitions(t *testing.T) {
	n, cl := sessionNode(t, "forget", 3, 2)
	c := newSessionConn(t, n, "forget", 18)
	full := c.fetch(0, 0, []part{{0, 0}, {1, 0}, {2, 0}}, nil)
	wantCode(t, "open", full, nil)
	id := full.SessionID
	if len(respParts(full)) != 3 {
		t.Fatalf("full fetch answered %d partitions, want 3", len(respParts(full)))
	}
	inc := c.fetch(id, 1, []part{{0, 2}, {1, 2}, {2, 2}}, nil)
	wantCode(t, "caught up", inc, nil)
	if len(inc.Topics) != 0 {
		t.Fatalf("caught up, yet the response lists %+v", inc.Topics)
	}

	produceN(t, cl, 0, 1)
	produceN(t, cl, 1, 1)
	// Forget partition 1 (and a partition the session never held).
	inc = c.fetch(id, 2, nil, []int32{1, 7})
	wantCode(t, "forget", inc, nil)
	got := respParts(inc)
	if _, ok := got[1]; ok || len(got) != 1 || nextOffset(t, got[0]) != 3 {
		t.Fatalf("after forgetting partition 1 the response is %+v, want partition 0 up to 3 only", got)
	}

	// A forgotten partition is not read any more, however it changes.
	produceN(t, cl, 1, 1)
	inc = c.fetch(id, 3, []part{{0, 3}}, nil)
	wantCode(t, "after forgetting", inc, nil)
	if len(inc.Topics) != 0 {
		t.Fatalf("the forgotten partition still answers: %+v", inc.Topics)
	}

	// Forgotten and re-added in one request: the partition starts afresh
	// at the request's offset.
	inc = c.fetch(id, 4, []part{{1, 0}}, nil)
	wantCode(t, "re-add", inc, nil)
	if got := respParts(inc); len(got) != 1 || nextOffset(t, got[1]) != 4 {
		t.Fatalf("re-added partition 1: %+v, want records up to 4", got)
	}

	// Forgetting every partition closes the session (Kafka answers
	// sessionless with session id 0).
	inc = c.fetch(id, 5, nil, []int32{0, 1, 2})
	wantCode(t, "forget all", inc, nil)
	if inc.SessionID != 0 || n.b.sessions.len() != 0 {
		t.Fatalf("emptied session: response id %d, %d sessions cached; want 0 and 0", inc.SessionID, n.b.sessions.len())
	}
	wantCode(t, "closed session", c.fetch(id, 6, nil, nil), kerr.FetchSessionIDNotFound)
}

func TestFetchSessionWrongEpoch(t *testing.T) {
	n, _ := sessionNode(t, "epoch", 1, 2)
	c := newSessionConn(t, n, "epoch", 18)
	full := c.fetch(0, 0, []part{{0, 0}}, nil)
	wantCode(t, "open", full, nil)
	id := full.SessionID

	wantCode(t, "epoch from the future", c.fetch(id, 5, []part{{0, 2}}, nil), kerr.InvalidFetchSessionEpoch)
	wantCode(t, "negative epoch", c.fetch(id, -2, []part{{0, 2}}, nil), kerr.InvalidFetchSessionEpoch)
	// An epoch error changes nothing: epoch 1 is still next, and the
	// partition still fetches from 0 (the rejected requests' offsets were
	// not applied).
	inc := c.fetch(id, 1, nil, nil)
	wantCode(t, "epoch 1", inc, nil)
	if got := respParts(inc); nextOffset(t, got[0]) != 2 {
		t.Fatalf("epoch 1 answered %+v, want the records from 0 again", got)
	}
	// The same epoch twice: the second is a duplicate.
	wantCode(t, "epoch 1 again", c.fetch(id, 1, []part{{0, 2}}, nil), kerr.InvalidFetchSessionEpoch)
	wantCode(t, "epoch 2", c.fetch(id, 2, []part{{0, 2}}, nil), nil)

	// A session opened by names cannot continue by topic ids.
	old := newSessionConn(t, n, "epoch", 12)
	byName := old.fetch(0, 0, []part{{0, 2}}, nil)
	wantCode(t, "open by name", byName, nil)
	wantCode(t, "continue by id", c.fetch(byName.SessionID, 1, nil, nil), kerr.FetchSessionTopicIDError)
	wantCode(t, "continue by name", old.fetch(byName.SessionID, 1, nil, nil), nil)
}

func TestFetchSessionUnknownID(t *testing.T) {
	n, _ := sessionNode(t, "unknown", 1, 2)
	c := newSessionConn(t, n, "unknown", 18)
	wantCode(t, "unknown id", c.fetch(424242, 1, []part{{0, 0}}, nil), kerr.FetchSessionIDNotFound)
	// An incremental fetch needs a session id; Kafka looks 0 up like any id.
	wantCode(t, "id 0 at epoch 3", c.fetch(0, 3, []part{{0, 0}}, nil), kerr.FetchSessionIDNotFound)

	// A full fetch naming an unknown id still opens a session.
	full := c.fetch(424242, 0, []part{{0, 0}}, nil)
	wantCode(t, "full fetch naming an unknown id", full, nil)
	if full.SessionID == 0 || nextOffset(t, respParts(full)[0]) != 2 {
		t.Fatalf("full fetch: session %d, partitions %+v", full.SessionID, respParts(full))
	}
	// Epoch -1 closes the named session and fetches without one.
	final := c.fetch(full.SessionID, -1, []part{{0, 0}}, nil)
	wantCode(t, "final epoch", final, nil)
	if final.SessionID != 0 || nextOffset(t, respParts(final)[0]) != 2 {
		t.Fatalf("sessionless fetch: session %d, partitions %+v", final.SessionID, respParts(final))
	}
	wantCode(t, "closed by epoch -1", c.fetch(full.SessionID, 1, nil, nil), kerr.FetchSessionIDNotFound)
	if n.b.sessions.len() != 0 {
		t.Fatalf("%d sessions cached, want 0", n.b.sessions.len())
	}
}

func TestFetchSessionPartitionsAddedMidSession(t *testing.T) {
	n, _ := sessionNode(t, "added", 3, 2)
	c := newSessionConn(t, n, "added", 12)
	full := c.fetch(0, 0, []part{{0, 0}}, nil)
	wantCode(t, "open", full, nil)
	id := full.SessionID
	inc := c.fetch(id, 1, []part{{0, 2}, {1, 0}}, nil)
	wantCode(t, "add partition 1", inc, nil)
	got := respParts(inc)
	if _, ok := got[0]; ok || len(got) != 1 || nextOffset(t, got[1]) != 2 {
		t.Fatalf("added partition 1: %+v, want partition 1 up to 2 only", got)
	}
	// Added at its end offset, a partition is still answered once: the
	// client has not seen its high watermark.
	inc = c.fetch(id, 2, []part{{1, 2}, {2, 2}}, nil)
	wantCode(t, "add partition 2 at its end", inc, nil)
	got = respParts(inc)
	if p, ok := got[2]; !ok || len(got) != 1 || p.HighWatermark != 2 || len(p.RecordBatches) != 0 {
		t.Fatalf("added partition 2 at its end: %+v, want it alone with high watermark 2", got)
	}
	inc = c.fetch(id, 3, nil, nil)
	wantCode(t, "all caught up", inc, nil)
	if len(inc.Topics) != 0 {
		t.Fatalf("nothing changed, yet the response lists %+v", inc.Topics)
	}
}

func TestFetchSessionAnswersChangedOffsetsWithoutRecords(t *testing.T) {
	n, cl := sessionNode(t, "offsets", 2, 2)
	c := newSessionConn(t, n, "offsets", 18)
	full := c.fetch(0, 0, []part{{0, 2}, {1, 2}}, nil)
	wantCode(t, "open at the end", full, nil)
	id := full.SessionID

	// The log start offset moves (DeleteRecords); no records to send.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	del, err := kadm.NewClient(cl).DeleteRecords(ctx, kadm.Offsets{"offsets": {0: {At: 1}}})
	if err != nil || del.Error() != nil {
		t.Fatalf("delete records: %v %v", err, del.Error())
	}
	inc := c.fetch(id, 1, nil, nil)
	wantCode(t, "log start moved", inc, nil)
	got := respParts(inc)
	if p, ok := got[0]; !ok || len(got) != 1 || p.LogStartOffset != 1 || p.HighWatermark != 2 || len(p.RecordBatches) != 0 {
		t.Fatalf("after the log start moved: %+v, want partition 0 alone, log start 1, no records", got)
	}

	// Both high watermarks move, but the request's max bytes leave room
	// for one partition's records only: the other is answered with its
	// new high watermark and no records.
	produceN(t, cl, 0, 1)
	produceN(t, cl, 1, 1)
	c.maxBytes = 1
	inc = c.fetch(id, 2, nil, nil)
	wantCode(t, "high watermarks moved", inc, nil)
	got = respParts(inc)
	withRecords := -1
	for p, rp := range got {
		if rp.HighWatermark != 3 {
			t.Fatalf("partition %d high watermark %d, want 3", p, rp.HighWatermark)
		}
		if len(rp.RecordBatches) > 0 {
			withRecords = int(p)
		}
	}
	if len(got) != 2 || withRecords < 0 || len(got[int32(1-withRecords)].RecordBatches) != 0 {
		t.Fatalf("high watermarks moved: %+v, want both partitions, one with records", got)
	}
	// The partition that had records moved to the end of the session, so
	// the other one gets the (small) budget next.
	other := int32(1 - withRecords)
	inc = c.fetch(id, 3, []part{{int32(withRecords), 3}}, nil)
	wantCode(t, "next round", inc, nil)
	got = respParts(inc)
	if len(got) != 1 || nextOffset(t, got[other]) != 3 {
		t.Fatalf("next round: %+v, want partition %d's record", got, other)
	}

	// An error is always answered, and once it clears the partition is
	// answered again even though its offsets did not change.
	c.maxBytes = 0
	inc = c.fetch(id, 4, []part{{other, 99}}, nil)
	if p := respParts(inc)[other]; p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch beyond the end: %+v, want OFFSET_OUT_OF_RANGE", p)
	}
	inc = c.fetch(id, 5, []part{{other, 3}}, nil)
	wantCode(t, "error cleared", inc, nil)
	if p, ok := respParts(inc)[other]; !ok || p.ErrorCode != 0 || p.HighWatermark != 3 {
		t.Fatalf("error cleared: %+v, want partition %d answered with high watermark 3", respParts(inc), other)
	}
	inc = c.fetch(id, 6, nil, nil)
	if len(inc.Topics) != 0 {
		t.Fatalf("nothing changed, yet the response lists %+v", inc.Topics)
	}
}

// A request parked in a long poll does not hold its session: a duplicate
// of it is refused at once, and the parked one still answers.
func TestFetchSessionLongPollDoesNotBlockSession(t *testing.T) {
	n, cl := sessionNode(t, "poll", 1, 1)
	c := newSessionConn(t, n, "poll", 18)
	full := c.fetch(0, 0, []part{{0, 1}}, nil)
	wantCode(t, "open", full, nil)
	id := full.SessionID

	parked := newSessionConn(t, n, "poll", 18)
	parked.maxWait = 20000
	done := make(chan *kmsg.FetchResponse, 1)
	go func() { done <- parked.fetch(id, 1, nil, nil) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := n.b.sessions.get(id)
		s.mu.Lock()
		epoch := s.epoch
		s.mu.Unlock()
		if epoch == 2 {
			break // the parked request has been applied
		}
		if time.Now().After(deadline) {
			t.Fatal("the long poll never reached the session")
		}
		time.Sleep(time.Millisecond) // polling a real condition with a deadline
	}
	wantCode(t, "duplicate of the parked request", c.fetch(id, 1, nil, nil), kerr.InvalidFetchSessionEpoch)
	select {
	case r := <-done:
		t.Fatalf("the long poll answered before any append: %+v", r)
	default:
	}
	produceN(t, cl, 0, 1)
	r := <-done
	wantCode(t, "parked request", r, nil)
	if got := respParts(r); nextOffset(t, got[0]) != 2 {
		t.Fatalf("parked request woke with %+v, want the new record", got)
	}
}

// With every session slot taken by a recent session, a full fetch is
// answered without a session.
func TestFetchSessionCacheFull(t *testing.T) {
	n, _ := sessionNode(t, "full", 1, 1, "max.incremental.fetch.session.cache.slots", "1")
	c := newSessionConn(t, n, "full", 18)
	first := c.fetch(0, 0, []part{{0, 0}}, nil)
	wantCode(t, "first", first, nil)
	second := c.fetch(0, 0, []part{{0, 0}}, nil)
	wantCode(t, "second", second, nil)
	if first.SessionID == 0 || second.SessionID != 0 || nextOffset(t, respParts(second)[0]) != 1 {
		t.Fatalf("sessions %d and %d (want one and none); second answered %+v", first.SessionID, second.SessionID, respParts(second))
	}
}

// A request whose session was used by another request between reading and
// answering (its epoch moved on) is answered INVALID_FETCH_SESSION_EPOCH,
// and records nothing in the session.
func TestFetchSessionDuplicateAnsweredAtResponse(t *testing.T) {
	c := newFetchSessionCache(10, nil)
	k := fetchKey{topic: "t"}
	open := c.newContext(12, 0, 0, false, []fetchPartition{{key: k}}, nil)
	id := open.session.id
	keep := make([]bool, 1)
	if sid, code := open.respond([]fetchOutcome{{hw: 5, lso: 5}}, keep); sid != id || code != nil || !keep[0] {
		t.Fatalf("open: session %d code %v keep %v", sid, code, keep)
	}
	first := c.newContext(12, id, 1, false, nil, nil)
	second := c.newContext(12, id, 2, false, nil, nil)
	if first.code != nil || second.code != nil {
		t.Fatalf("codes %v %v", first.code, second.code)
	}
	if sid, code := first.respond([]fetchOutcome{{hw: 9, lso: 9}}, keep); code != kerr.InvalidFetchSessionEpoch || sid != id {
		t.Fatalf("first: session %d code %v, want %d and INVALID_FETCH_SESSION_EPOCH", sid, code, id)
	}
	if _, code := second.respond([]fetchOutcome{{hw: 9, lso: 9}}, keep); code != nil || !keep[0] {
		t.Fatalf("second: code %v keep %v, want the changed high watermark answered", code, keep)
	}
}

// FuzzFetchSession drives the session cache with sequences of requests
// (ids, epochs, versions, added and forgotten partitions, read outcomes)
// and checks it against a model of Kafka's rules.
func FuzzFetchSession(f *testing.F) {
	f.Add([]byte{0x00, 0x03, 0x00, 0x09, 0x31, 0x07, 0x09, 0x00, 0x01})
	f.Add([]byte{0x20, 0x0f, 0x05, 0x29, 0x10, 0x03, 0x0d, 0x00, 0x00, 0x25, 0x01, 0x02, 0x29, 0xf0, 0x00})
	f.Add([]byte{0x00, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x06, 0x00, 0x00, 0x09, 0x00, 0x00})
	f.Fuzz(checkFetchSessionOps)
}

// checkFetchSessionOps is FuzzFetchSession's body.
func checkFetchSessionOps(t *testing.T, ops []byte) {
	type modelPart struct {
		offset             int64
		sentHW, sentLSO    int64
		sentLogStartOffset int64
	}
	type modelSession struct {
		epoch   int32
		usesIDs bool
		parts   map[fetchKey]*modelPart
	}
	const slots = 3
	now := time.Unix(1000, 0)
	c := newFetchSessionCache(slots, func() time.Time { return now })
	model := map[int32]*modelSession{}
	var known []int32 // ids handed out, in order (some closed since)
	key := func(usesIDs bool, p int) fetchKey {
		if usesIDs {
			return fetchKey{topicID: [16]byte{1}, partition: int32(p)}
		}
		return fetchKey{topic: "t", partition: int32(p)}
	}
	for len(ops) >= 3 {
		b0, b1, b2 := ops[0], ops[1], ops[2]
		ops = ops[3:]
		usesIDs := b0&0x20 != 0
		version := int16(12)
		if usesIDs {
			version = 18
		}
		var id int32
		switch b0 & 3 {
		case 1, 3:
			if len(known) > 0 {
				id = known[int(b1)%len(known)]
			}
		case 2:
			id = 0x7eadbeef
		}
		ms := model[id]
		expect := int32(1)
		if ms != nil {
			expect = ms.epoch
		}
		epoch := [...]int32{0, -1, expect, expect + 1, expect - 1, 7, expect, -5}[b0>>2&7]
		var reqParts []fetchPartition
		var forgotten []fetchKey
		for p := 0; p < 4; p++ {
			if b1&(1<<p) != 0 {
				reqParts = append(reqParts, fetchPartition{key: key(usesIDs, p), fetchOffset: int64(b2)})
			}
			if b1&(0x10<<p) != 0 {
				forgotten = append(forgotten, key(usesIDs, p))
			}
		}

		fc := c.newContext(version, id, epoch, usesIDs, reqParts, forgotten)

		// What Kafka would do.
		var wantCode *kerr.Error
		wantParts := map[fetchKey]int64{}
		for _, p := range reqParts {
			wantParts[p.key] = p.fetchOffset
		}
		var wantSession *modelSession
		incremental := false
		switch {
		case epoch == 0 || epoch == -1:
			delete(model, id)
			if epoch == 0 && len(model) < slots {
				wantSession = &modelSession{epoch: 1, usesIDs: usesIDs, parts: map[fetchKey]*modelPart{}}
				for k, off := range wantParts {
					wantSession.parts[k] = &modelPart{offset: off, sentHW: -2, sentLSO: -2, sentLogStartOffset: -2}
				}
			}
		case ms == nil:
			wantCode = kerr.FetchSessionIDNotFound
		case epoch != ms.epoch:
			wantCode = kerr.InvalidFetchSessionEpoch
		case ms.usesIDs != usesIDs:
			wantCode = kerr.FetchSessionTopicIDError
		default:
			for _, p := range reqParts {
				if mp := ms.parts[p.key]; mp != nil {
					mp.offset = p.fetchOffset
				} else {
					ms.parts[p.key] = &modelPart{offset: p.fetchOffset, sentHW: -2, sentLSO: -2, sentLogStartOffset: -2}
				}
			}
			for _, k := range forgotten {
				delete(ms.parts, k)
			}
			if len(ms.parts) == 0 {
				delete(model, id)
			} else {
				ms.epoch = nextSessionEpoch(ms.epoch)
				wantSession, incremental = ms, true
				wantParts = map[fetchKey]int64{}
				for k, mp := range ms.parts {
					wantParts[k] = mp.offset
				}
			}
		}

		if fc.code != wantCode {
			t.Fatalf("id %d epoch %d v%d: code %v, want %v", id, epoch, version, fc.code, wantCode)
		}
		if wantCode != nil {
			continue
		}
		if (fc.session != nil) != (wantSession != nil) || fc.incremental != incremental {
			t.Fatalf("id %d epoch %d: session %v incremental %v, want session %v incremental %v",
				id, epoch, fc.session != nil, fc.incremental, wantSession != nil, incremental)
		}
		if wantSession != nil && !incremental {
			model[fc.session.id] = wantSession
			known = append(known, fc.session.id)
		}
		if wantSession == nil && len(fc.parts) != len(reqParts) {
			t.Fatalf("sessionless fetch reads %d partitions, want %d", len(fc.parts), len(reqParts))
		}
		got := map[fetchKey]int64{}
		for _, p := range fc.parts {
			got[p.key] = p.fetchOffset
		}
		if wantSession != nil && len(got) != len(wantParts) {
			t.Fatalf("reads %v, want %v", got, wantParts)
		}
		for k, off := range wantParts {
			if o, ok := got[k]; wantSession != nil && (!ok || o != off) {
				t.Fatalf("reads %v, want %v", got, wantParts)
			}
		}

		// Read outcomes from b2's bits, then the response.
		out := make([]fetchOutcome, len(fc.parts))
		for i := range out {
			bit := byte(1) << (i % 8)
			out[i] = fetchOutcome{hasRecords: b2&bit != 0 && i%2 == 0, failed: b2&bit != 0 && i%2 == 1,
				hw: int64(b2 >> 4), lso: int64(b2 >> 4), logStart: int64(b1 & 1)}
		}
		keep := make([]bool, len(out))
		sid, code := fc.respond(out, keep)
		if code != nil {
			t.Fatalf("respond: %v with no request in between", code)
		}
		if (sid != 0) != (wantSession != nil) {
			t.Fatalf("response session id %d, session expected %v", sid, wantSession != nil)
		}
		for i, p := range fc.parts {
			o := out[i]
			want := true
			if incremental {
				mp := wantSession.parts[p.key]
				want = o.hasRecords || o.failed || mp.sentHW != o.hw || mp.sentLSO != o.lso || mp.sentLogStartOffset != o.logStart
			}
			if keep[i] != want {
				t.Fatalf("partition %+v outcome %+v: answered %v, want %v", p.key, o, keep[i], want)
			}
			if wantSession != nil {
				mp := wantSession.parts[p.key]
				mp.sentHW, mp.sentLSO, mp.sentLogStartOffset = o.hw, o.lso, o.logStart
				if o.failed {
					mp.sentHW = -1
				}
			}
		}

		// The cache holds exactly the model's sessions, each consistent.
		if c.len() != len(model) {
			t.Fatalf("%d sessions cached, model has %d", c.len(), len(model))
		}
		for sid, m := range model {
			s := c.get(sid)
			if s == nil {
				t.Fatalf("session %d missing", sid)
			}
			s.mu.Lock()
			if s.epoch != m.epoch || len(s.parts) != len(m.parts) || len(s.index) != len(m.parts) {
				s.mu.Unlock()
				t.Fatalf("session %d: epoch %d, %d parts, %d indexed; model epoch %d, %d parts",
					sid, s.epoch, len(s.parts), len(s.index), m.epoch, len(m.parts))
			}
			for _, p := range s.parts {
				if s.index[p.key] != p || m.parts[p.key] == nil || m.parts[p.key].offset != p.fetchOffset || p.sentRecords {
					s.mu.Unlock()
					t.Fatalf("session %d: partition %+v does not match the model", sid, p)
				}
			}
			s.mu.Unlock()
		}
	}
}
