package broker

import (
	"context"
	"testing"

	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestInitProducerID(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version, req.ProducerID, req.ProducerEpoch = 4, -1, -1
	seen := map[int64]bool{}
	for i := 0; i < replica.ProducerIDBlockSize+5; i++ {
		resp := initProducerID(ctx, env, req)
		if resp.ErrorCode != 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
			t.Fatalf("allocation %d: %+v", i, resp)
		}
		seen[resp.ProducerID] = true
	}
	if next := env.meta.Image().NextProducerID; next != 2*replica.ProducerIDBlockSize {
		t.Fatalf("reserved up to %d, want two blocks", next)
	}
	// A v3+ recovery request gets a fresh id, as Kafka's coordinator answers
	// idempotent producers.
	req.ProducerID, req.ProducerEpoch = 5, 3
	if resp := initProducerID(ctx, env, req); resp.ErrorCode != 0 || seen[resp.ProducerID] || resp.ProducerEpoch != 0 {
		t.Fatalf("recovery: %+v", resp)
	}
	req.ProducerID, req.ProducerEpoch = 5, -1
	if resp := initProducerID(ctx, env, req); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("half a producer id: %+v", resp)
	}
	req.ProducerID, req.ProducerEpoch, req.TransactionalID = -1, -1, strPtr("tx")
	if resp := initProducerID(ctx, env, req); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("transactional: %+v", resp)
	}
}

func TestInitProducerIDTransactionTimeout(t *testing.T) {
	addr, _ := startNodeIn(t, t.TempDir(), map[string]string{"transaction.max.timeout.ms": "1000"})
	id := "x"
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 5000
	resp, err := req.RequestWith(context.Background(), txnTestClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("code %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}
