package coordinator

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestOwnershipEpochs: a load or unload applies only with an epoch newer
// than the partition's last one (an unload without an epoch always, and
// it forgets the epoch); a load of a loaded partition only takes the new
// epoch; an unload during a load overtakes it; a failed load leaves the
// partition as it was.
func TestOwnershipEpochs(t *testing.T) {
	o := NewOwnership()
	state := func(what string, p int32, want PartitionState, wantCode *kerr.Error, wantEpoch int32) {
		t.Helper()
		code := int16(0)
		if wantCode != nil {
			code = wantCode.Code
		}
		if o.State(p) != want || o.Code(p) != code || o.Epoch(p) != wantEpoch {
			t.Fatalf("%s: state %d code %d epoch %d, want %d %d %d", what, o.State(p), o.Code(p), o.Epoch(p), want, code, wantEpoch)
		}
	}
	state("never loaded", 0, NotOwned, kerr.NotCoordinator, -1)

	tk, d := o.BeginLoad(0, 5)
	if d != LoadStart {
		t.Fatalf("first load: %v", d)
	}
	state("loading", 0, Loading, kerr.CoordinatorLoadInProgress, 5)
	if !o.AnyLoading() {
		t.Fatal("AnyLoading while loading")
	}
	if active, overtaken := o.FinishLoad(tk, true); !active || overtaken {
		t.Fatalf("finish: active %v overtaken %v", active, overtaken)
	}
	state("loaded", 0, Active, nil, 5)
	if o.AnyLoading() || !slices.Equal(o.ActivePartitions(), []int32{0}) {
		t.Fatalf("after the load: loading %v, active %v", o.AnyLoading(), o.ActivePartitions())
	}

	if _, d := o.BeginLoad(0, 5); d != LoadStale {
		t.Fatalf("repeated load: %v", d)
	}
	if _, d := o.BeginLoad(0, 6); d != LoadEpochOnly {
		t.Fatalf("load in a newer epoch of a loaded partition: %v", d)
	}
	state("newer epoch", 0, Active, nil, 6)
	if ok, _ := o.Unload(0, 6); ok {
		t.Fatal("unload in the load's epoch applied")
	}
	if ok, was := o.Unload(0, 8); !ok || was != Active {
		t.Fatalf("unload: %v, was %d", ok, was)
	}
	state("unloaded", 0, NotOwned, kerr.NotCoordinator, 8)
	for _, e := range []int32{7, 8} {
		if _, d := o.BeginLoad(0, e); d != LoadStale {
			t.Fatalf("load for epoch %d after an unload for 8: %v", e, d)
		}
	}

	// An unload while the partition loads overtakes the load.
	tk, _ = o.BeginLoad(0, 9)
	o.Unload(0, 10)
	if active, overtaken := o.FinishLoad(tk, true); active || !overtaken {
		t.Fatalf("overtaken load: active %v overtaken %v", active, overtaken)
	}
	state("after the overtaken load", 0, NotOwned, kerr.NotCoordinator, 10)

	// A failed load can be retried in the same epoch.
	tk, _ = o.BeginLoad(0, 11)
	if active, overtaken := o.FinishLoad(tk, false); active || overtaken {
		t.Fatalf("failed load: active %v overtaken %v", active, overtaken)
	}
	state("after the failed load", 0, NotOwned, kerr.NotCoordinator, 10)
	if _, d := o.BeginLoad(0, 11); d != LoadStart {
		t.Fatalf("retried load: %v", d)
	}

	// Without an epoch: always, and the partition starts over.
	if ok, was := o.Unload(0, -1); !ok || was != Loading {
		t.Fatalf("unload without an epoch: %v, was %d", ok, was)
	}
	state("gone", 0, NotOwned, kerr.NotCoordinator, -1)
	if _, d := o.BeginLoad(0, 0); d != LoadStart {
		t.Fatalf("load of a partition created again: %v", d)
	}
	// Partitions are independent.
	state("another partition", 1, NotOwned, kerr.NotCoordinator, -1)
}
