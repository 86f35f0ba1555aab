package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) { Main(m) }

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// produce sends n records valued prefix-0 .. prefix-(n-1) to topic, each
// acknowledged before produce returns, and returns the values.
func produce(t *testing.T, ctx context.Context, cl *kgo.Client, topic, prefix string, n int) []string {
	t.Helper()
	values := make([]string, n)
	recs := make([]*kgo.Record, n)
	for i := range n {
		values[i] = fmt.Sprintf("%s-%d", prefix, i)
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(values[i]), Value: []byte(values[i])}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records to %s: %v", n, topic, err)
	}
	return values
}

// consume reads topic from the start through a new client made by
// newClient until it has n records, and returns their values sorted.
func consume(t *testing.T, ctx context.Context, newClient func(...kgo.Opt) *kgo.Client, topic string, n int) []string {
	t.Helper()
	cl := newClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %d of %d records before %v", topic, len(got), n, err)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Logf("consume %s[%d]: %v (retrying)", tp, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	slices.Sort(got)
	return got
}

// impatientClient is a client for checks that a produce fails: kgo waits
// for an idempotent produce it sent whatever the context says, so this one
// is not idempotent and gives up on a request after about 2 s.
func impatientClient(t *testing.T, newClient func(...kgo.Opt) *kgo.Client) *kgo.Client {
	return newClient(
		kgo.DisableIdempotentWrite(),
		kgo.ProduceRequestTimeout(time.Second),
		kgo.RequestTimeoutOverhead(time.Second),
		kgo.RecordDeliveryTimeout(2*time.Second),
		kgo.RecordRetries(1),
	)
}

func sameValues(t *testing.T, got, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("consumed %d records, want the %d produced\ngot  %q\nwant %q", len(got), len(want), got, want)
	}
}
