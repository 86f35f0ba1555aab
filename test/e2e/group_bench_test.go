package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupRebalanceLatency measures, for 10 members on 100 partitions,
// how long consumption pauses when an eleventh member joins, for the
// classic eager and cooperative protocols and KIP-848. A producer writes to
// every partition continuously; for each partition the pause is the
// longest gap between consumed records around the join, and the figures
// are the largest pause over all partitions and over the partitions that
// did not move. It runs only with SAMSA_GROUP_BENCH=1 (it takes about a
// minute and prints figures rather than asserting them).
func TestGroupRebalanceLatency(t *testing.T) {
	if os.Getenv("SAMSA_GROUP_BENCH") == "" {
		t.Skip("set SAMSA_GROUP_BENCH=1 to measure group rebalance pauses")
	}
	b := startGroupBroker(t)
	for _, mode := range franzModes {
		t.Run(mode.name, func(t *testing.T) {
			topic, group := "bench-"+mode.name, "bench-g-"+mode.name
			createTopic(t, b, topic, 100, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			// Producer: one record per partition every 20 ms.
			prod := b.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
			go func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for ctx.Err() == nil {
					<-tick.C
					for p := int32(0); p < 100; p++ {
						prod.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}, nil)
					}
				}
			}()

			var mu sync.Mutex
			consumed := map[int32][]time.Time{} // consume times per partition
			owner := map[int32]string{}
			moved := map[int32]bool{}
			start := func(name string) {
				cl := b.client(append([]kgo.Opt{
					kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
					kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
					kgo.SessionTimeout(10 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
					kgo.FetchMaxWait(100 * time.Millisecond),
					kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
						mu.Lock()
						defer mu.Unlock()
						for _, p := range a[topic] {
							if o, ok := owner[p]; ok && o != name {
								moved[p] = true
							}
							owner[p] = name
						}
					}),
				}, mode.opts...)...)
				go func() {
					for ctx.Err() == nil {
						fs := cl.PollFetches(ctx)
						now := time.Now()
						mu.Lock()
						fs.EachPartition(func(p kgo.FetchTopicPartition) {
							if len(p.Records) > 0 {
								consumed[p.Partition] = append(consumed[p.Partition], now)
							}
						})
						mu.Unlock()
					}
				}()
			}
			for i := 0; i < 10; i++ {
				start("m" + strconv.Itoa(i))
			}
			waitFor(t, "all 100 partitions consumed", 2*time.Minute, func() bool {
				mu.Lock()
				defer mu.Unlock()
				for p := int32(0); p < 100; p++ {
					if ts := consumed[p]; len(ts) == 0 || time.Since(ts[len(ts)-1]) > time.Second {
						return false
					}
				}
				return true
			})
			time.Sleep(2 * time.Second) // let the group settle: steady consumption before the change
			mu.Lock()
			for p := range moved {
				delete(moved, p)
			}
			mu.Unlock()
			joined := time.Now()
			start("m10")
			time.Sleep(15 * time.Second)
			cancel()

			mu.Lock()
			defer mu.Unlock()
			var all, stayed []time.Duration
			for p := int32(0); p < 100; p++ {
				gap := time.Duration(0)
				ts := consumed[p]
				for i := 1; i < len(ts); i++ {
					if ts[i].After(joined) && ts[i-1].Before(joined.Add(15*time.Second)) {
						if g := ts[i].Sub(ts[i-1]); g > gap {
							gap = g
						}
					}
				}
				all = append(all, gap)
				if !moved[p] {
					stayed = append(stayed, gap)
				}
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			sort.Slice(stayed, func(i, j int) bool { return stayed[i] < stayed[j] })
			pct := func(d []time.Duration, q float64) string {
				if len(d) == 0 {
					return "-"
				}
				return d[int(q*float64(len(d)-1))].Round(time.Millisecond).String()
			}
			msg := fmt.Sprintf("%-18s pause after a join (10→11 members, 100 partitions): all partitions max %s p50 %s; %d partitions that stayed: max %s p50 %s; %d moved",
				mode.name, pct(all, 1), pct(all, 0.5), len(stayed), pct(stayed, 1), pct(stayed, 0.5), len(moved))
			t.Log(msg)
			fmt.Println(msg)
		})
	}
}
