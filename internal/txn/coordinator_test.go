package txn

import (
	"context"
	"github.com/samsa-streaming/samsa/internal/coordinator"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestInitProducerIDTimeoutBounds(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		timeout int32
		want    *kerr.Error
	}{
		{0, kerr.InvalidTransactionTimeout},
		{-1, kerr.InvalidTransactionTimeout},
		{900001, kerr.InvalidTransactionTimeout},
		{900000, nil},
		{1, nil},
	} {
		r := e.init("t", 4, tc.timeout, -1, -1)
		wantCode(t, "timeout", r.ErrorCode, tc.want)
	}
	empty := ""
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &empty, 1000
	wantCode(t, "empty id", e.c.InitProducerID(context.Background(), req).ErrorCode, kerr.InvalidRequest)
}

func TestInitProducerIDBumpsEpochAndFences(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	if epoch != 0 {
		t.Fatalf("first epoch %d, want 0", epoch)
	}
	pid2, epoch2 := e.mustInit("t")
	if pid2 != pid || epoch2 != 1 {
		t.Fatalf("second init: %d/%d, want %d/1", pid2, epoch2, pid)
	}
	// The old instance is fenced: PRODUCER_FENCED for new versions,
	// INVALID_PRODUCER_EPOCH for old ones.
	wantCode(t, "zombie add", e.add("t", pid, 0, tpA), kerr.ProducerFenced)
	wantCode(t, "zombie end v1", e.end("t", 1, pid, 0, true), kerr.InvalidProducerEpoch)
	wantCode(t, "zombie end v3", e.end("t", 3, pid, 0, true), kerr.ProducerFenced)
	wantCode(t, "wrong pid", e.add("t", pid+99, 1, tpA), kerr.InvalidProducerIDMapping)
	wantCode(t, "unknown id", e.add("nope", pid, 1, tpA), kerr.InvalidProducerIDMapping)
	wantCode(t, "current add", e.add("t", pid, 1, tpA), nil)
}

func TestInitProducerIDKIP360(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.mustInit("t") // epoch 0
	for _, tc := range []struct {
		name      string
		pid       int64
		epoch     int16
		want      *kerr.Error
		wantEpoch int16
	}{
		{"current producer recovers", pid, 0, nil, 1},
		{"retry of the bump", pid, 0, nil, 1},
		{"stale epoch", pid, 7, kerr.ProducerFenced, -1},
		{"other producer id", pid + 5, 1, kerr.ProducerFenced, -1},
		{"id without epoch", pid, -1, kerr.InvalidRequest, -1},
		{"current again", pid, 1, nil, 2},
	} {
		r := e.init("t", 3, 60000, tc.pid, tc.epoch)
		if tc.want == nil {
			wantCode(t, tc.name, r.ErrorCode, nil)
			if r.ProducerEpoch != tc.wantEpoch {
				t.Fatalf("%s: epoch %d, want %d", tc.name, r.ProducerEpoch, tc.wantEpoch)
			}
			continue
		}
		// v3 predates PRODUCER_FENCED.
		want := tc.want
		if want == kerr.ProducerFenced {
			want = kerr.InvalidProducerEpoch
		}
		wantCode(t, tc.name, r.ErrorCode, want)
	}
}

func TestEpochExhaustionRotatesProducerID(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.mustInit("t")
	ent, _ := e.c.lock("t")
	ent.meta.ProducerEpoch = math.MaxInt16 - 1
	ent.mu.Unlock()
	pid2, epoch2 := e.mustInit("t")
	if pid2 == pid || epoch2 != 0 {
		t.Fatalf("after exhaustion: %d/%d, want a new id with epoch 0", pid2, epoch2)
	}
	// The old producer retrying with its exhausted epoch gets the new id.
	r := e.init("t", 4, 60000, pid, math.MaxInt16-1)
	wantCode(t, "retry after rotation", r.ErrorCode, nil)
	if r.ProducerID != pid2 || r.ProducerEpoch != 0 {
		t.Fatalf("retry after rotation: %d/%d, want %d/0", r.ProducerID, r.ProducerEpoch, pid2)
	}
}

// TestEndTxnTransitions drives EndTxn from every state, as a table.
func TestEndTxnTransitions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(e *env, pid int64, epoch int16)
		commit    bool
		want      *kerr.Error
		wantState State
	}{
		{"empty commit", nil, true, kerr.InvalidTxnState, Empty},
		{"empty abort", nil, false, kerr.InvalidTxnState, Empty},
		{"ongoing commit", func(e *env, p int64, ep int16) { e.add("t", p, ep, tpA) }, true, nil, CompleteCommit},
		{"ongoing abort", func(e *env, p int64, ep int16) { e.add("t", p, ep, tpA) }, false, nil, CompleteAbort},
		{"commit retried", func(e *env, p int64, ep int16) { e.add("t", p, ep, tpA); e.end("t", 3, p, ep, true) }, true, nil, CompleteCommit},
		{"abort after commit", func(e *env, p int64, ep int16) { e.add("t", p, ep, tpA); e.end("t", 3, p, ep, true) }, false, kerr.InvalidTxnState, CompleteCommit},
		{"abort retried", func(e *env, p int64, ep int16) { e.add("t", p, ep, tpA); e.end("t", 3, p, ep, false) }, false, nil, CompleteAbort},
		{"commit after abort", func(e *env, p int64, ep int16) { e.add("t", p, ep, tpA); e.end("t", 3, p, ep, false) }, true, kerr.InvalidTxnState, CompleteAbort},
		{"prepared commit, markers failing", func(e *env, p int64, ep int16) {
			e.markers.failing[tpA] = true
			e.add("t", p, ep, tpA)
			e.end("t", 3, p, ep, true)
		}, true, kerr.ConcurrentTransactions, PrepareCommit},
		{"abort of a prepared commit", func(e *env, p int64, ep int16) {
			e.markers.failing[tpA] = true
			e.add("t", p, ep, tpA)
			e.end("t", 3, p, ep, true)
		}, false, kerr.InvalidTxnState, PrepareCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			pid, epoch := e.mustInit("t")
			if tc.setup != nil {
				tc.setup(e, pid, epoch)
			}
			wantCode(t, "EndTxn", e.end("t", 3, pid, epoch, tc.commit), tc.want)
			if got := e.state("t"); got != tc.wantState {
				t.Fatalf("state %v, want %v", got, tc.wantState)
			}
		})
	}
}

func TestCommitWritesMarkersToEveryPartition(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	wantCode(t, "add", e.add("t", pid, epoch, tpB, tpA), nil)
	wantCode(t, "add again", e.add("t", pid, epoch, tpA), nil)
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = "t", pid, epoch, "grp"
	wantCode(t, "add offsets", e.c.AddOffsetsToTxn(context.Background(), req).ErrorCode, nil)
	m, _ := e.c.Transaction("t")
	if m.State != Ongoing || len(m.Partitions) != 3 || m.StartTimestamp != e.clock.Now().UnixMilli() {
		t.Fatalf("ongoing metadata: %+v", m)
	}
	wantCode(t, "commit", e.end("t", 3, pid, epoch, true), nil)
	ms := e.markers.all()
	if len(ms) != 1 || !ms[0].Commit || ms[0].ProducerID != pid || ms[0].ProducerEpoch != epoch || len(ms[0].Partitions) != 3 {
		t.Fatalf("markers: %+v", ms)
	}
	want := []TopicPartition{{"__consumer_offsets", 3}, tpA, tpB}
	for i, tp := range want {
		if ms[0].Partitions[i] != tp {
			t.Fatalf("marker partitions %v, want %v", ms[0].Partitions, want)
		}
	}
	m, _ = e.c.Transaction("t")
	if m.State != CompleteCommit || len(m.Partitions) != 0 || m.StartTimestamp != -1 {
		t.Fatalf("completed metadata: %+v", m)
	}
	// The next transaction starts from CompleteCommit.
	wantCode(t, "next txn", e.add("t", pid, epoch, tpB), nil)
	if got := e.state("t"); got != Ongoing {
		t.Fatalf("state %v", got)
	}
}

func TestAddPartitionsRequestCodes(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 3
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = "t", pid, epoch
	req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "a", Partitions: []int32{0}}, {Topic: "missing", Partitions: []int32{0}}}
	resp := e.c.AddPartitionsToTxn(context.Background(), req)
	wantCode(t, "known partition", resp.Topics[0].Partitions[0].ErrorCode, kerr.OperationNotAttempted)
	wantCode(t, "missing partition", resp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	if e.state("t") != Empty {
		t.Fatal("a failed add opened a transaction")
	}
	req.Topics = req.Topics[:1]
	resp = e.c.AddPartitionsToTxn(context.Background(), req)
	wantCode(t, "add", resp.Topics[0].Partitions[0].ErrorCode, nil)

	// v4 batches, with verification (KIP-890 part 1).
	v4 := kmsg.NewPtrAddPartitionsToTxnRequest()
	v4.Version = 4
	v4.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{
		{TransactionalID: "t", ProducerID: pid, ProducerEpoch: epoch, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "a", Partitions: []int32{0, 1}}}},
		{TransactionalID: "t", ProducerID: pid, ProducerEpoch: epoch - 1, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "a", Partitions: []int32{0}}}},
		{TransactionalID: "other", ProducerID: pid, ProducerEpoch: epoch, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "a", Partitions: []int32{0}}}},
	}
	r4 := e.c.AddPartitionsToTxn(context.Background(), v4)
	wantCode(t, "verify added", r4.Transactions[0].Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "verify not added", r4.Transactions[0].Topics[0].Partitions[1].ErrorCode, kerr.InvalidTxnState)
	wantCode(t, "verify fenced", r4.Transactions[1].Topics[0].Partitions[0].ErrorCode, kerr.ProducerFenced)
	wantCode(t, "verify unknown", r4.Transactions[2].Topics[0].Partitions[0].ErrorCode, kerr.InvalidProducerIDMapping)
	if m, _ := e.c.Transaction("t"); len(m.Partitions) != 1 {
		t.Fatalf("verification added partitions: %v", m.Partitions)
	}
	wantCode(t, "Verify", e.c.Verify("t", pid, epoch, tpA), nil)
	wantCode(t, "Verify other", e.c.Verify("t", pid, epoch, tpB), kerr.InvalidTxnState)
}

func TestReinitAbortsOngoingTransaction(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	e.add("t", pid, epoch, tpA)
	r := e.init("t", 4, 60000, -1, -1)
	wantCode(t, "init during txn", r.ErrorCode, kerr.ConcurrentTransactions)
	ms := e.markers.all()
	if len(ms) != 1 || ms[0].Commit || ms[0].ProducerEpoch != epoch+1 {
		t.Fatalf("want one abort marker with the fenced epoch %d: %+v", epoch+1, ms)
	}
	if got := e.state("t"); got != CompleteAbort {
		t.Fatalf("state %v", got)
	}
	pid2, epoch2 := e.mustInit("t")
	if pid2 != pid || epoch2 != epoch+2 {
		t.Fatalf("retried init: %d/%d, want %d/%d", pid2, epoch2, pid, epoch+2)
	}
	wantCode(t, "zombie end", e.end("t", 3, pid, epoch, true), kerr.ProducerFenced)
}

func TestTimeoutAbortsAndFences(t *testing.T) {
	e := newEnv(t)
	r := e.init("t", 4, 1000, -1, -1)
	pid, epoch := r.ProducerID, r.ProducerEpoch
	e.add("t", pid, epoch, tpA)
	e.clock.advance(999 * time.Millisecond)
	e.c.Tick(context.Background())
	if got := e.state("t"); got != Ongoing {
		t.Fatalf("aborted before the timeout: %v", got)
	}
	e.clock.advance(2 * time.Millisecond)
	e.c.Tick(context.Background())
	if got := e.state("t"); got != CompleteAbort {
		t.Fatalf("after the timeout: %v", got)
	}
	ms := e.markers.all()
	if len(ms) != 1 || ms[0].Commit || ms[0].ProducerEpoch != epoch+1 {
		t.Fatalf("markers %+v", ms)
	}
	wantCode(t, "commit after timeout", e.end("t", 3, pid, epoch, true), kerr.ProducerFenced)
	// KIP-360: the producer recovers with its id and old epoch.
	r = e.init("t", 4, 1000, pid, epoch)
	wantCode(t, "recover", r.ErrorCode, nil)
	if r.ProducerEpoch != epoch+1 {
		t.Fatalf("recovered epoch %d, want %d", r.ProducerEpoch, epoch+1)
	}
}

func TestFailedMarkersRetriedByTick(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	e.add("t", pid, epoch, tpA, tpB)
	e.markers.failing[tpB] = true
	wantCode(t, "commit", e.end("t", 3, pid, epoch, true), nil)
	if got := e.state("t"); got != PrepareCommit {
		t.Fatalf("state %v", got)
	}
	wantCode(t, "next add while prepared", e.add("t", pid, epoch, tpA), kerr.ConcurrentTransactions)
	e.c.Tick(context.Background())
	if got := e.state("t"); got != PrepareCommit {
		t.Fatalf("state %v", got)
	}
	delete(e.markers.failing, tpB)
	e.c.Tick(context.Background())
	if got := e.state("t"); got != CompleteCommit {
		t.Fatalf("state %v", got)
	}
	ms := e.markers.all()
	if len(ms) != 2 || len(ms[0].Partitions) != 1 || ms[0].Partitions[0] != tpA || ms[1].Partitions[0] != tpB {
		t.Fatalf("markers %+v: tpA once, then tpB", ms)
	}
}

func TestStorageFailure(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	e.store.SetFail(kerr.NotLeaderForPartition)
	wantCode(t, "add", e.add("t", pid, epoch, tpA), kerr.NotCoordinator)
	e.store.SetFail(kerr.RequestTimedOut)
	wantCode(t, "add", e.add("t", pid, epoch, tpA), kerr.CoordinatorNotAvailable)
	if got := e.state("t"); got != Empty {
		t.Fatalf("state changed without a write: %v", got)
	}
}

func TestLoadCompletesPreparedAndKeepsOngoing(t *testing.T) {
	e := newEnv(t)
	p1, e1 := e.mustInit("committing")
	e.add("committing", p1, e1, tpA)
	e.markers.failing[tpA] = true
	e.end("committing", 3, p1, e1, true) // prepared, markers failed: a crash now
	p2, e2 := e.mustInit("open")
	e.add("open", p2, e2, tpB)
	p3, e3 := e.mustInit("done")
	e.add("done", p3, e3, tpB)
	e.end("done", 3, p3, e3, false)

	delete(e.markers.failing, tpA)
	e.c.Close()
	before := len(e.markers.all())
	e.c = e.open()
	if got := e.state("committing"); got != CompleteCommit {
		t.Fatalf("prepared commit after load: %v", got)
	}
	ms := e.markers.all()[before:]
	if len(ms) != 1 || !ms[0].Commit || ms[0].ProducerID != p1 {
		t.Fatalf("markers written by load: %+v", ms)
	}
	m, _ := e.c.Transaction("open")
	if m.State != Ongoing || m.ProducerID != p2 || m.ProducerEpoch != e2 || len(m.Partitions) != 1 || m.TimeoutMs != 60000 {
		t.Fatalf("ongoing after load: %+v", m)
	}
	if got := e.state("done"); got != CompleteAbort {
		t.Fatalf("completed after load: %v", got)
	}
	// The open transaction continues with the same producer.
	wantCode(t, "commit after restart", e.end("open", 3, p2, e2, true), nil)
	// Ids are never reused: a restart keeps the mapping.
	if pid, epoch := e.mustInit("open"); pid != p2 || epoch != e2+1 {
		t.Fatalf("init after restart %d/%d", pid, epoch)
	}
}

func TestTransactionalIDExpiry(t *testing.T) {
	e := newEnv(t)
	e.mustInit("idle")
	pid, epoch := e.mustInit("busy")
	e.add("busy", pid, epoch, tpA)
	e.clock.advance(8 * 24 * time.Hour)
	e.c.Tick(context.Background()) // aborts busy (timed out), expires idle
	if _, ok := e.c.Transaction("idle"); ok {
		t.Fatal("idle id not expired")
	}
	if got := e.state("busy"); got != CompleteAbort {
		t.Fatalf("busy: %v", got)
	}
	e.c.Close()
	e.c = e.open()
	if _, ok := e.c.Transaction("idle"); ok {
		t.Fatal("expired id came back after load")
	}
	// A new init of the expired id gets a new producer id.
	if p, ep := e.mustInit("idle"); ep != 0 || p <= pid {
		t.Fatalf("re-created id: %d/%d", p, ep)
	}
}

func TestDescribeAndListTransactions(t *testing.T) {
	e := newEnv(t)
	p1, e1 := e.mustInit("alpha")
	e.add("alpha", p1, e1, tpA, tpB)
	p2, _ := e.mustInit("beta")
	e.clock.advance(5 * time.Second)

	d := kmsg.NewPtrDescribeTransactionsRequest()
	d.TransactionalIDs = []string{"alpha", "nope"}
	dr := e.c.DescribeTransactions(d)
	a := dr.TransactionStates[0]
	if a.ErrorCode != 0 || a.State != "Ongoing" || a.ProducerID != p1 || len(a.Topics) != 2 || a.TimeoutMillis != 60000 {
		t.Fatalf("describe alpha: %+v", a)
	}
	wantCode(t, "describe unknown", dr.TransactionStates[1].ErrorCode, kerr.TransactionalIDNotFound)

	list := func(version int16, f func(r *kmsg.ListTransactionsRequest)) []string {
		r := kmsg.NewPtrListTransactionsRequest()
		r.Version = version
		f(r)
		resp := e.c.ListTransactions(r)
		var ids []string
		for _, s := range resp.TransactionStates {
			ids = append(ids, s.TransactionalID+"/"+s.TransactionState)
		}
		return ids
	}
	for _, tc := range []struct {
		name    string
		version int16
		f       func(r *kmsg.ListTransactionsRequest)
		want    string
	}{
		{"all", 0, func(*kmsg.ListTransactionsRequest) {}, "[alpha/Ongoing beta/Empty]"},
		{"state", 0, func(r *kmsg.ListTransactionsRequest) { r.StateFilters = []string{"Empty"} }, "[beta/Empty]"},
		{"producer", 0, func(r *kmsg.ListTransactionsRequest) { r.ProducerIDFilters = []int64{p2} }, "[beta/Empty]"},
		{"running 4s", 1, func(r *kmsg.ListTransactionsRequest) {
			r.DurationFilterMillis = 4000
			r.StateFilters = []string{"Ongoing"}
		}, "[alpha/Ongoing]"},
		{"running 6s", 1, func(r *kmsg.ListTransactionsRequest) {
			r.DurationFilterMillis = 6000
			r.StateFilters = []string{"Ongoing"}
		}, "[]"},
		{"pattern", 2, func(r *kmsg.ListTransactionsRequest) { p := "b.*"; r.TransactionalIDPattern = &p }, "[beta/Empty]"},
	} {
		if got := fmtList(list(tc.version, tc.f)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	r := kmsg.NewPtrListTransactionsRequest()
	r.StateFilters = []string{"Bogus"}
	if resp := e.c.ListTransactions(r); len(resp.UnknownStateFilters) != 1 {
		t.Fatalf("unknown filter not reported: %+v", resp)
	}
}

func fmtList(ids []string) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += id
	}
	return s + "]"
}

// TestNotLoaded: a coordinator that has loaded no partition is not the
// coordinator of any transactional id.
func TestNotLoaded(t *testing.T) {
	c, err := New(Options{Config: DefaultConfig(), Storage: coordinator.NewMemStorage(), Markers: &fakeMarkers{},
		ProducerIDs:      func(context.Context) (int64, error) { return 1, nil },
		OffsetsPartition: func(string) TopicPartition { return TopicPartition{} }})
	if err != nil {
		t.Fatal(err)
	}
	id := "t"
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 1000
	wantCode(t, "init", c.InitProducerID(context.Background(), req).ErrorCode, kerr.NotCoordinator)
	wantCode(t, "add", c.AddPartitions(context.Background(), id, 1, 0, nil), kerr.NotCoordinator)
}

func TestConfigFromProps(t *testing.T) {
	c, err := ConfigFromProps(3, map[string]string{"transaction.max.timeout.ms": "1000", "transaction.state.log.num.partitions": "7"})
	if err != nil || c.NodeID != 3 || c.TransactionMaxTimeoutMs != 1000 || c.TransactionStateLogNumPartitions != 7 {
		t.Fatalf("%+v %v", c, err)
	}
	if c.TransactionVersion != 2 {
		t.Fatalf("default transaction version %d", c.TransactionVersion)
	}
	if c, err := ConfigFromProps(1, map[string]string{"samsa.transaction.version": "1"}); err != nil || c.TransactionVersion != 1 {
		t.Fatalf("transaction version 1: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"transaction.max.timeout.ms": "0"},
		{"transaction.max.timeout.ms": "x"},
		{"transaction.state.log.num.partitions": "0"},
		{"transactional.id.expiration.ms": "-5"},
		{"samsa.transaction.version": "3"},
		{"samsa.transaction.version": "-1"},
	} {
		if _, err := ConfigFromProps(1, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestPartitionFor(t *testing.T) {
	// Java: Math.abs("my-txn".hashCode()) % 50; the hash is -1061187895.
	for _, tc := range []struct {
		id   string
		want int32
	}{{"", 0}, {"a", 97 % 50}, {"my-txn", 1061187895 % 50}} {
		if got := PartitionFor(tc.id, 50); got != tc.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", tc.id, got, tc.want)
		}
	}
}
