package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTransactionalOffsets(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 1)
	inst := "i"
	for _, tc := range []struct {
		name     string
		group    string
		member   string
		instance *string
		gen      int32
		want     int16
	}{
		{"current member", "g", ids[0], nil, gen, 0},
		{"no member (old protocol)", "g", "", nil, -1, 0},
		{"stale generation", "g", ids[0], nil, gen - 1, kerr.IllegalGeneration.Code},
		{"unknown member", "g", "x", nil, gen, kerr.UnknownMemberID.Code},
		{"unknown instance owner", "g", ids[0], &inst, gen, kerr.FencedInstanceID.Code},
		{"unknown group with a member", "nope", "x", nil, 1, kerr.IllegalGeneration.Code},
		{"empty group id", "", "", nil, -1, kerr.InvalidGroupID.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, "validate", h.c.ValidateTxnOffsetCommit(tc.group, tc.member, tc.instance, tc.gen), tc.want)
		})
	}

	// At the commit marker the offsets apply even though the group has a
	// member that did not send them, and survive a restart.
	code := h.c.CommitTransactionalOffsets("g", map[string]map[int32]CommittedOffset{"t": {0: {Offset: 42, LeaderEpoch: 3, Metadata: "txn"}}})
	wantCode(t, "commit", code, 0)
	code = h.c.CommitTransactionalOffsets("fresh", map[string]map[int32]CommittedOffset{"t": {1: {Offset: 7, LeaderEpoch: -1}}})
	wantCode(t, "commit to a new group", code, 0)
	h.restart()
	if got := h.fetch("g", "t", 0); got[0] != 42 {
		t.Fatalf("g: %v", got)
	}
	if got := h.fetch("fresh", "t", 1); got[1] != 7 {
		t.Fatalf("fresh: %v", got)
	}

	// require_stable: pending offsets answer UNSTABLE_OFFSET_COMMIT.
	h.c.SetPendingOffsets(func(group, topic string, p int32) bool { return group == "g" && topic == "t" && p == 0 })
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	req.RequireStable = true
	req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0, 1}}}}}
	ps := h.c.OffsetFetch(req).Groups[0].Topics[0].Partitions
	wantCode(t, "pending partition", ps[0].ErrorCode, kerr.UnstableOffsetCommit.Code)
	wantCode(t, "other partition", ps[1].ErrorCode, 0)
	req.RequireStable = false
	wantCode(t, "without require_stable", h.c.OffsetFetch(req).Groups[0].Topics[0].Partitions[0].ErrorCode, 0)
}
