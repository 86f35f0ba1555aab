package txn

import (
	"context"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests of transaction protocol version 2 (KIP-890 part 2): EndTxn v5
// bumps the epoch with every end, partitions join implicitly.

func (e *env) endV5(id string, pid int64, epoch int16, commit bool) *kmsg.EndTxnResponse {
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = 5
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	return e.c.EndTxn(context.Background(), req)
}

func (e *env) addImplicit(id string, pid int64, epoch int16, tps ...TopicPartition) int16 {
	return e.c.AddPartitionsImplicitly(context.Background(), id, pid, epoch, tps)
}

// TestTV2EpochBumpPerEnd: every commit and abort bumps the epoch; the
// markers carry the bumped epoch; the response names it.
func TestTV2EpochBumpPerEnd(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	for i, commit := range []bool{true, false, true, false} {
		wantCode(t, "implicit add", e.addImplicit("t", pid, epoch, tpA, tpB), nil)
		r := e.endV5("t", pid, epoch, commit)
		wantCode(t, "end", r.ErrorCode, nil)
		if r.ProducerID != pid || r.ProducerEpoch != epoch+1 {
			t.Fatalf("end %d: response %d/%d, want %d/%d", i, r.ProducerID, r.ProducerEpoch, pid, epoch+1)
		}
		ms := e.markers.all()
		last := ms[len(ms)-1]
		if last.ProducerEpoch != epoch+1 || last.Commit != commit || len(last.Partitions) != 2 {
			t.Fatalf("end %d: marker %+v, want epoch %d commit %v on 2 partitions", i, last, epoch+1, commit)
		}
		m, _ := e.c.Transaction("t")
		want := CompleteAbort
		if commit {
			want = CompleteCommit
		}
		if m.State != want || m.ProducerEpoch != epoch+1 || m.ClientTransactionVersion != 2 {
			t.Fatalf("end %d: state %v epoch %d tv %d", i, m.State, m.ProducerEpoch, m.ClientTransactionVersion)
		}
		// The old epoch is fenced for new work.
		wantCode(t, "add with the old epoch", e.addImplicit("t", pid, epoch, tpA), kerr.ProducerFenced)
		epoch = r.ProducerEpoch
	}
	// The state survives a restart with its version and epoch.
	e.c = e.open()
	m, _ := e.c.Transaction("t")
	if m.ProducerEpoch != epoch || m.ClientTransactionVersion != 2 || m.NextProducerID != -1 {
		t.Fatalf("after restart: %+v", m)
	}
}

// TestTV2EndTxnTable drives EndTxn v5 from each state with the current
// epoch and with a retry's (epoch - 1), as Kafka's table has it.
func TestTV2EndTxnTable(t *testing.T) {
	type step int
	const (
		toEmpty step = iota
		toCompleteCommit
		toCompleteAbort
		toOngoing
	)
	cases := []struct {
		name   string
		from   step
		retry  bool // send the epoch before the last bump
		commit bool
		want   *kerr.Error
		bump   bool // the epoch moves on
	}{
		{"empty abort", toEmpty, false, false, nil, true},
		{"empty commit", toEmpty, false, true, kerr.InvalidTxnState, false},
		{"empty abort retry", toEmpty, true, false, kerr.ProducerFenced, false},
		{"empty commit retry", toEmpty, true, true, kerr.ProducerFenced, false},
		{"complete commit: commit retry", toCompleteCommit, true, true, nil, false},
		{"complete commit: abort retry", toCompleteCommit, true, false, kerr.InvalidTxnState, false},
		{"complete commit: new abort", toCompleteCommit, false, false, nil, true},
		{"complete commit: new commit", toCompleteCommit, false, true, kerr.InvalidTxnState, false},
		{"complete abort: abort retry", toCompleteAbort, true, false, nil, false},
		{"complete abort: commit retry", toCompleteAbort, true, true, kerr.InvalidTxnState, false},
		{"complete abort: new abort", toCompleteAbort, false, false, nil, true},
		{"complete abort: new commit", toCompleteAbort, false, true, kerr.InvalidTxnState, false},
		{"ongoing commit", toOngoing, false, true, nil, true},
		{"ongoing abort", toOngoing, false, false, nil, true},
		{"ongoing stale epoch", toOngoing, true, true, kerr.ProducerFenced, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			pid, epoch := e.mustInit("t")
			prev := epoch - 1
			switch tc.from {
			case toCompleteCommit, toCompleteAbort:
				wantCode(t, "add", e.addImplicit("t", pid, epoch, tpA), nil)
				r := e.endV5("t", pid, epoch, tc.from == toCompleteCommit)
				wantCode(t, "first end", r.ErrorCode, nil)
				prev, epoch = epoch, r.ProducerEpoch
			case toOngoing:
				wantCode(t, "add", e.addImplicit("t", pid, epoch, tpA), nil)
			}
			markers := len(e.markers.all())
			send := epoch
			if tc.retry {
				send = prev
			}
			r := e.endV5("t", pid, send, tc.commit)
			wantCode(t, "end", r.ErrorCode, tc.want)
			m, _ := e.c.Transaction("t")
			switch {
			case tc.want != nil:
				if r.ProducerID != -1 || r.ProducerEpoch != -1 || m.ProducerEpoch != epoch {
					t.Fatalf("error answer %d/%d, stored epoch %d (want -1/-1, %d)", r.ProducerID, r.ProducerEpoch, m.ProducerEpoch, epoch)
				}
			case tc.bump:
				if r.ProducerEpoch != epoch+1 || m.ProducerEpoch != epoch+1 {
					t.Fatalf("answer epoch %d, stored %d, want %d", r.ProducerEpoch, m.ProducerEpoch, epoch+1)
				}
			default: // a retry answered with the current id and epoch
				if r.ProducerID != pid || r.ProducerEpoch != epoch || m.ProducerEpoch != epoch {
					t.Fatalf("retry answer %d/%d, stored %d, want %d/%d", r.ProducerID, r.ProducerEpoch, m.ProducerEpoch, pid, epoch)
				}
			}
			if tc.from != toOngoing && len(e.markers.all()) != markers {
				t.Fatalf("markers written for an end without partitions")
			}
		})
	}
}

// TestTV2EpochOverflow: the end that exhausts the epoch moves the producer
// to a new producer id at epoch 0; its markers carry the old id with the
// last epoch; a retry of that end is recognised.
func TestTV2EpochOverflow(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.mustInit("t")
	ent, _ := e.c.lock("t")
	ent.meta.ProducerEpoch = math.MaxInt16 - 1
	ent.mu.Unlock()
	wantCode(t, "add", e.addImplicit("t", pid, math.MaxInt16-1, tpA), nil)
	r := e.endV5("t", pid, math.MaxInt16-1, true)
	wantCode(t, "end", r.ErrorCode, nil)
	if r.ProducerID == pid || r.ProducerEpoch != 0 {
		t.Fatalf("overflow answer %d/%d, want a new id at epoch 0", r.ProducerID, r.ProducerEpoch)
	}
	ms := e.markers.all()
	if mk := ms[len(ms)-1]; mk.ProducerID != pid || mk.ProducerEpoch != math.MaxInt16 {
		t.Fatalf("marker %d/%d, want %d/%d", mk.ProducerID, mk.ProducerEpoch, pid, math.MaxInt16)
	}
	m, _ := e.c.Transaction("t")
	if m.ProducerID != r.ProducerID || m.LastProducerID != pid || m.NextProducerID != -1 || m.State != CompleteCommit {
		t.Fatalf("stored %+v", m)
	}
	// A retry with the old id and epoch gets the new ones.
	r2 := e.endV5("t", pid, math.MaxInt16-1, true)
	wantCode(t, "retry", r2.ErrorCode, nil)
	if r2.ProducerID != r.ProducerID || r2.ProducerEpoch != 0 {
		t.Fatalf("retry answer %d/%d", r2.ProducerID, r2.ProducerEpoch)
	}
	// The old id cannot open a new transaction.
	wantCode(t, "old id", e.addImplicit("t", pid, math.MaxInt16-1, tpA), kerr.InvalidProducerIDMapping)
	// The new one can.
	wantCode(t, "new id", e.addImplicit("t", r.ProducerID, 0, tpA), nil)
	wantCode(t, "commit with new id", e.endV5("t", r.ProducerID, 0, true).ErrorCode, nil)
}

// TestTV2OverflowWithFailedMarkers: with markers pending, the answer
// already names the producer id the completion moves to.
func TestTV2OverflowWithFailedMarkers(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.mustInit("t")
	ent, _ := e.c.lock("t")
	ent.meta.ProducerEpoch = math.MaxInt16 - 1
	ent.mu.Unlock()
	e.markers.failing[tpA] = true
	wantCode(t, "add", e.addImplicit("t", pid, math.MaxInt16-1, tpA), nil)
	r := e.endV5("t", pid, math.MaxInt16-1, false)
	wantCode(t, "end", r.ErrorCode, nil)
	m, _ := e.c.Transaction("t")
	if m.State != PrepareAbort || m.NextProducerID != r.ProducerID || r.ProducerEpoch != 0 {
		t.Fatalf("prepared %+v, answer %d/%d", m, r.ProducerID, r.ProducerEpoch)
	}
	// A restart keeps the next producer id; the completion applies it.
	e.c = e.open()
	delete(e.markers.failing, tpA)
	e.c.Tick(context.Background())
	m, _ = e.c.Transaction("t")
	if m.State != CompleteAbort || m.ProducerID != r.ProducerID || m.ProducerEpoch != 0 {
		t.Fatalf("completed %+v", m)
	}
}

// TestTV2RetryWhilePrepared: a retry of a prepared end (markers failing)
// gets CONCURRENT_TRANSACTIONS until the markers are written, then
// success; the producer's new epoch is fenced meanwhile, as in Kafka.
func TestTV2RetryWhilePrepared(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	e.markers.failing[tpA] = true
	wantCode(t, "add", e.addImplicit("t", pid, epoch, tpA), nil)
	r := e.endV5("t", pid, epoch, true)
	wantCode(t, "end", r.ErrorCode, nil)
	wantCode(t, "retry while prepared", e.endV5("t", pid, epoch, true).ErrorCode, kerr.ConcurrentTransactions)
	wantCode(t, "opposite retry", e.endV5("t", pid, epoch, false).ErrorCode, kerr.InvalidTxnState)
	wantCode(t, "new epoch while prepared", e.endV5("t", pid, epoch+1, false).ErrorCode, kerr.ProducerFenced)
	wantCode(t, "add while prepared", e.addImplicit("t", pid, epoch+1, tpB), kerr.ConcurrentTransactions)
	delete(e.markers.failing, tpA)
	r2 := e.endV5("t", pid, epoch, true)
	wantCode(t, "retry after markers", r2.ErrorCode, nil)
	if r2.ProducerEpoch != epoch+1 || e.state("t") != CompleteCommit {
		t.Fatalf("answer epoch %d, state %v", r2.ProducerEpoch, e.state("t"))
	}
}

// TestTV2TimeoutFences: a version 2 transaction that times out is aborted
// with the epoch bumped once; the producer's late abort is taken as a
// retry, its late commit refused.
func TestTV2TimeoutFences(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	wantCode(t, "add", e.addImplicit("t", pid, epoch, tpA), nil)
	e.clock.advance(61e9)
	e.c.Tick(context.Background())
	m, _ := e.c.Transaction("t")
	if m.State != CompleteAbort || m.ProducerEpoch != epoch+1 {
		t.Fatalf("after timeout: %v epoch %d", m.State, m.ProducerEpoch)
	}
	wantCode(t, "late commit", e.endV5("t", pid, epoch, true).ErrorCode, kerr.InvalidTxnState)
	wantCode(t, "late add", e.addImplicit("t", pid, epoch, tpA), kerr.ProducerFenced)
	r := e.endV5("t", pid, epoch, false)
	wantCode(t, "late abort", r.ErrorCode, nil)
	if r.ProducerEpoch != epoch+1 {
		t.Fatalf("late abort answer epoch %d", r.ProducerEpoch)
	}
}

// TestTV2ReinitFences: InitProducerId fences a version 2 producer as a
// version 1 one; the old instance's EndTxn is fenced.
func TestTV2ReinitFences(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	wantCode(t, "add", e.addImplicit("t", pid, epoch, tpA), nil)
	r := e.endV5("t", pid, epoch, true)
	wantCode(t, "commit", r.ErrorCode, nil)
	pid2, epoch2 := e.mustInit("t") // a new instance
	if pid2 != pid || epoch2 != r.ProducerEpoch+1 {
		t.Fatalf("reinit %d/%d", pid2, epoch2)
	}
	wantCode(t, "old instance abort", e.endV5("t", pid, r.ProducerEpoch, false).ErrorCode, kerr.ProducerFenced)
	wantCode(t, "old instance add", e.addImplicit("t", pid, r.ProducerEpoch, tpA), kerr.ProducerFenced)
}

// TestTV2NeedsTheFeature: with transaction.version below 2, EndTxn v5
// keeps the epoch (version 1) and answers the unchanged id and epoch.
func TestTV2NeedsTheFeature(t *testing.T) {
	e := newEnv(t)
	e.c.opts.TransactionVersion = func() int16 { return 1 }
	pid, epoch := e.mustInit("t")
	wantCode(t, "add", e.add("t", pid, epoch, tpA), nil)
	r := e.endV5("t", pid, epoch, true)
	wantCode(t, "commit", r.ErrorCode, nil)
	if r.ProducerID != pid || r.ProducerEpoch != epoch {
		t.Fatalf("answer %d/%d, want unchanged %d/%d", r.ProducerID, r.ProducerEpoch, pid, epoch)
	}
	if ms := e.markers.all(); ms[len(ms)-1].ProducerEpoch != epoch {
		t.Fatalf("marker epoch %d", ms[len(ms)-1].ProducerEpoch)
	}
}

// TestAddPartitionsToTxnV5FromBroker: a partition leader's
// AddPartitionsToTxn v5 that is not VerifyOnly adds the partition under
// version 2; VerifyOnly only checks.
func TestAddPartitionsToTxnV5FromBroker(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.mustInit("t")
	mk := func(verifyOnly bool) *kmsg.AddPartitionsToTxnRequest {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 5
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "t", pid, epoch, verifyOnly
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = tpA.Topic, []int32{tpA.Partition}
		tx.Topics = append(tx.Topics, tt)
		req.Transactions = append(req.Transactions, tx)
		return req
	}
	code := func(r *kmsg.AddPartitionsToTxnResponse) int16 {
		return r.Transactions[0].Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "verify before add", code(e.c.AddPartitionsToTxn(context.Background(), mk(true))), kerr.InvalidTxnState)
	wantCode(t, "add", code(e.c.AddPartitionsToTxn(context.Background(), mk(false))), nil)
	wantCode(t, "verify after add", code(e.c.AddPartitionsToTxn(context.Background(), mk(true))), nil)
	m, _ := e.c.Transaction("t")
	if m.State != Ongoing || m.ClientTransactionVersion != 2 {
		t.Fatalf("after add: %v tv %d", m.State, m.ClientTransactionVersion)
	}
}
