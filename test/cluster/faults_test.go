package cluster

import (
	"testing"
	"time"
)

// TestGapAndStall measure a fault from the batches the nodes acknowledged.
func TestGapAndStall(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	h := &History{Partitions: 2, Batches: []BatchAck{
		{Partition: 0, Node: 1, At: at(0)},
		{Partition: 1, Node: 2, At: at(10)},
		{Partition: 0, Node: 1, At: at(1005)}, // an answer in flight from the killed node
		{Partition: 1, Node: 2, At: at(1500)},
		{Partition: 0, Node: 2, At: at(7000)}, // the new leader
		{Partition: 0, Node: 2, At: at(7100)},
	}}
	f := &Fault{Node: 1, Exclude: []int{1}, Partitions: []int32{0}, At: at(1000), Healed: at(9000), Settled: at(9500)}
	if gap, err := h.Gap(f); err != nil || gap != 6*time.Second {
		t.Fatalf("gap %v (%v), want 6s", gap, err)
	}
	if stall := h.Stall(f); stall != 5995*time.Millisecond {
		t.Fatalf("stall %v, want 5.995s", stall)
	}
	f.Partitions = []int32{1}
	if _, err := h.Gap(f); err != nil {
		t.Fatal(err)
	}
	f.Partitions, f.Exclude = []int32{0}, []int{1, 2}
	if _, err := h.Gap(f); err == nil {
		t.Fatal("a gap without any acknowledgement that counts")
	}
	if p := Percentile([]time.Duration{5, 1, 4, 2, 3}, 50); p != 3 {
		t.Fatalf("p50 %v", p)
	}
	if p := Percentile([]time.Duration{5, 1, 4, 2, 3}, 99); p != 5 {
		t.Fatalf("p99 %v", p)
	}
}
