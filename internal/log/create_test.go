package log

import (
	"fmt"
	"path"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Creating a partition costs no fsync; its first acknowledged record makes
// the directory durable first. A power cut after the acknowledgement keeps
// the partition, its topic id and the record, for each durability policy.
func TestCreatedPartitionDurableWithFirstRecord(t *testing.T) {
	for _, durability := range []Durability{DurabilitySync, DurabilityPageCache} {
		t.Run(fmt.Sprint(durability), func(t *testing.T) {
			mem := vfs.NewMem()
			m := openTestManager(t, mem, "/data")
			cfg := testConfig()
			cfg.Durability = durability
			id := [16]byte{7, 7}
			created := map[TopicPartition]*Log{}
			for p := int32(0); p < 4; p++ {
				tp := TopicPartition{Topic: "orders", Partition: p}
				l, err := m.Create(tp, id, cfg)
				if err != nil {
					t.Fatal(err)
				}
				created[tp] = l
			}
			// Only partitions 1 and 3 get a record; the pagecache policy
			// acknowledges at once and promises it only after Flush.
			for _, p := range []int32{1, 3} {
				l := created[TopicPartition{Topic: "orders", Partition: p}]
				if _, err := l.Append(makeBatch(2, 10, 1000), AppendOptions{LeaderEpoch: 0}); err != nil {
					t.Fatal(err)
				}
				if durability == DurabilityPageCache {
					if err := l.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			crashed := mem.Crash()
			m.Close()
			m2 := openTestManager(t, crashed, "/data")
			defer m2.Close()
			for _, p := range []int32{1, 3} {
				tp := TopicPartition{Topic: "orders", Partition: p}
				l, ok := m2.Get(tp)
				if !ok {
					t.Fatalf("%s with an acknowledged record is gone after the power cut", tp)
				}
				if l.LogEndOffset() != 2 || l.TopicID() != id {
					t.Fatalf("%s after the power cut: end offset %d, topic id %x", tp, l.LogEndOffset(), l.TopicID())
				}
			}
			// The empty ones may be gone; whatever is left opens, and
			// Create brings them back with their topic id.
			for p := int32(0); p < 4; p++ {
				tp := TopicPartition{Topic: "orders", Partition: p}
				l, err := m2.Create(tp, id, cfg)
				if err != nil || l.TopicID() != id {
					t.Fatalf("re-create %s: %v, topic id %x", tp, err, l.TopicID())
				}
			}
		})
	}
}

// Creation does not fsync anything: with every fsync failing, 1,000
// partitions are still created.
func TestCreateCostsNoFsync(t *testing.T) {
	mem := vfs.NewMem()
	f := vfs.NewFaulty(mem)
	m := openTestManager(t, f, "/data")
	f.AddRule(vfs.Rule{Ops: vfs.OpSync | vfs.OpSyncDir})
	for p := int32(0); p < 1000; p++ {
		if _, err := m.Create(TopicPartition{Topic: "t", Partition: p}, [16]byte{1}, testConfig()); err != nil {
			t.Fatalf("create partition %d: %v", p, err)
		}
	}
	if _, err := mem.Stat(path.Join("/data", "t-999", PartitionMetadataFile)); err != nil {
		t.Fatal(err)
	}
	f.ClearRules()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
