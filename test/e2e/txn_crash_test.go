package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnBrokerKilledMidTransaction: the broker is killed with SIGKILL
// while a transaction is open and another was just committed; after the
// restart the open one times out and is aborted, the committed one stays,
// the last stable offset moves past both, and read_committed readers see
// exactly the committed records.
func TestTxnBrokerKilledMidTransaction(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t, 2*time.Minute)
	createTopic(t, b, "crash-txn", 1, nil)
	p := b.client(kgo.TransactionalID("crash-tx"), kgo.DefaultProduceTopic("crash-txn"), kgo.TransactionTimeout(3*time.Second))
	send := func(v string) {
		t.Helper()
		if err := p.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	send("committed-1")
	send("committed-2")
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	send("open-1")
	b.kill()
	b.restart()

	read := func(iso kgo.IsolationLevel, want int) []string {
		cl := b.client(kgo.ConsumeTopics("crash-txn"), kgo.FetchIsolationLevel(iso), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var out []string
		deadline := time.Now().Add(30 * time.Second)
		for len(out) < want && time.Now().Before(deadline) {
			fctx, cancel := context.WithTimeout(ctx, time.Second)
			cl.PollFetches(fctx).EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
			cancel()
		}
		return out
	}
	// The LSO moves once the coordinator aborts the timed-out transaction.
	deadline := time.Now().Add(30 * time.Second)
	for {
		offs, err := b.admin().ListCommittedOffsets(ctx, "crash-txn")
		end, err2 := b.admin().ListEndOffsets(ctx, "crash-txn")
		if err == nil && err2 == nil {
			c, _ := offs.Lookup("crash-txn", 0)
			e, _ := end.Lookup("crash-txn", 0)
			if c.Offset == e.Offset && c.Offset >= 5 { // 2 records, marker, 1 record, abort marker
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last stable offset never caught up with the high watermark")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; i < 2; i++ { // two readers agree
		got := read(kgo.ReadCommitted(), 2)
		if len(got) != 2 || got[0] != "committed-1" || got[1] != "committed-2" {
			t.Fatalf("reader %d (read_committed): %v", i, got)
		}
	}
	if got := read(kgo.ReadUncommitted(), 3); len(got) != 3 || got[2] != "open-1" {
		t.Fatalf("read_uncommitted: %v", got)
	}
	// The producer was fenced by the abort; a new instance carries on.
	p2 := b.client(kgo.TransactionalID("crash-tx"), kgo.DefaultProduceTopic("crash-txn"))
	if err := p2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p2.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := read(kgo.ReadCommitted(), 3); len(got) != 3 || got[2] != "after" {
		t.Fatalf("read_committed after a new transaction: %v", got)
	}
}
