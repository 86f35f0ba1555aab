package main

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func record(topic string, partition int32, offset, ms int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Offset: offset, Timestamp: time.UnixMilli(ms)}
}

// control is a transaction marker at offset.
func control(topic string, partition int32, offset int64) *kgo.Record {
	r := record(topic, partition, offset, 0)
	r.Attrs = kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Transactional: true, Control: true})
	return r
}

func TestProgressControlRecords(t *testing.T) {
	pr := newProgress(true, true, 5)
	pr.position(tp{"t", 0}, 0, logBounds{hwm: 3, end: 3})
	pr.assign(nil)
	pr.take(record("t", 0, 0, 1))
	// Offset 1 was an aborted record, dropped by the client; the marker
	// at 2 is the last entry before the end.
	if show, read := pr.take(control("t", 0, 2)); show || !read {
		t.Fatalf("a marker: show %v read %v; want read only", show, read)
	}
	if !pr.allDone() {
		t.Fatal("a partition ending with a marker is not done")
	}
}

func TestProgressExitAtEnd(t *testing.T) {
	pr := newProgress(false, true, -1)
	a, b := tp{"t", 0}, tp{"t", 1}
	pr.position(a, 3, logBounds{start: 0, hwm: 5, end: 5})
	pr.position(b, 7, logBounds{start: 0, hwm: 7, end: 7}) // at its end already
	if pr.allDone() {
		t.Fatal("done before joining")
	}
	pr.assign(nil)
	if _, lagging, ok := pr.idleSince(); !ok || !lagging {
		t.Fatalf("idleSince: lagging %v, ready %v; want both", lagging, ok)
	}
	if show, read := pr.take(record("t", 0, 3, 0)); !show || !read || pr.allDone() {
		t.Fatalf("offset 3: show %v read %v done %v", show, read, pr.allDone())
	}
	if show, read := pr.take(record("t", 0, 4, 0)); !show || !read || !pr.allDone() {
		t.Fatalf("offset 4 (the last): show %v read %v done %v", show, read, pr.allDone())
	}
	// Produced after the start: neither shown nor read.
	if show, read := pr.take(record("t", 0, 5, 0)); show || read {
		t.Fatalf("offset 5 (past the end at the start): show %v read %v", show, read)
	}
	if _, lagging, _ := pr.idleSince(); lagging {
		t.Fatal("lagging when every partition is done")
	}
}

func TestProgressUntil(t *testing.T) {
	pr := newProgress(false, false, 1000)
	a, b, c := tp{"t", 0}, tp{"t", 1}, tp{"u", 0}
	for _, p := range []tp{a, b, c} {
		pr.position(p, 0, logBounds{start: 0, hwm: 10, end: 10})
	}
	pr.assign(nil)
	if show, _ := pr.take(record("t", 0, 0, 999)); !show {
		t.Fatal("a record before --until not shown")
	}
	if show, read := pr.take(record("t", 0, 1, 1000)); show || read {
		t.Fatal("a record at --until shown")
	}
	if show, _ := pr.take(record("t", 0, 2, 500)); show {
		t.Fatal("a record after the stop shown")
	}
	// The time has come: partitions stop at the offsets for it, or where
	// none was listed, keep going until a record says so.
	topics := pr.needUntil()
	if len(topics) != 2 {
		t.Fatalf("needUntil = %v, want t and u", topics)
	}
	pr.applyUntil(topics, map[tp]int64{b: 0})
	if len(pr.needUntil()) != 0 {
		t.Fatal("needUntil after applyUntil")
	}
	if pr.allDone() {
		t.Fatal("done with partition u/0 still going")
	}
	pr.take(record("u", 0, 0, 2000))
	if !pr.allDone() {
		t.Fatal("not done")
	}
}

func TestProgressGroup(t *testing.T) {
	pr := newProgress(false, true, -1)
	wake := pr.changed()
	pr.assign(map[string][]int32{"t": {0, 1}})
	select {
	case <-wake.Done():
	default:
		t.Fatal("assign did not wake the poll loop")
	}
	if _, _, ok := pr.idleSince(); ok {
		t.Fatal("ready before the partitions have start offsets")
	}
	pr.position(tp{"t", 0}, 5, logBounds{hwm: 5, end: 5})
	pr.position(tp{"t", 1}, 2, logBounds{hwm: 5, end: 5})
	if _, _, ok := pr.idleSince(); !ok {
		t.Fatal("not ready")
	}
	if pr.allDone() {
		t.Fatal("done with partition 1 behind")
	}
	pr.revoke(map[string][]int32{"t": {1}})
	if !pr.allDone() {
		t.Fatal("not done once the lagging partition went to another member")
	}
	// An empty assignment: nothing to read.
	empty := newProgress(false, true, -1)
	empty.assign(map[string][]int32{})
	if !empty.allDone() {
		t.Fatal("an empty assignment is not done")
	}
}
