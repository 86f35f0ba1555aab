package group

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestOffsetCommitValidation(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 2)
	for _, tc := range []struct {
		name   string
		group  string
		member string
		gen    int32
		topic  string
		want   int16
	}{
		{"member of the generation", "g", ids[0], gen, "t", 0},
		{"wrong generation", "g", ids[0], gen + 1, "t", kerr.IllegalGeneration.Code},
		{"unknown member", "g", "stranger", gen, "t", kerr.UnknownMemberID.Code},
		{"no member in a non-empty group", "g", "", -1, "t", kerr.UnknownMemberID.Code},
		{"unknown topic", "g", ids[0], gen, "nope", kerr.UnknownTopicOrPartition.Code},
		{"simple consumer, new group", "simple", "", -1, "t", 0},
		{"generation for a missing group", "missing", "m", 3, "t", kerr.IllegalGeneration.Code},
		{"empty group id", "", "", -1, "t", kerr.InvalidGroupID.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := h.commit(tc.group, tc.member, tc.gen, tc.topic, map[int32]int64{1: 42})
			wantCode(t, "commit", got[1], tc.want)
		})
	}
	if got := h.commit("g", ids[0], gen, "t", map[int32]int64{12: 1}); got[12] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("partition beyond the topic: %s", errName(got[12]))
	}
	if h.c.getGroup("missing") != nil {
		t.Fatal("a refused commit created a group")
	}
	if got := h.fetch("g", "t", 0, 1); got[0] != -1 || got[1] != 42 {
		t.Fatalf("fetched %v", got)
	}
	if got := h.fetch("simple", "t", 1); got[1] != 42 {
		t.Fatalf("simple consumer offsets %v", got)
	}
	if h.state("simple") != StateEmpty {
		t.Fatalf("simple group state %v", h.state("simple"))
	}

	// Metadata longer than offset.metadata.max.bytes.
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 2
	req.Group, req.Generation, req.MemberID = "simple", -1, ""
	long := string(make([]byte, 4097))
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, Metadata: &long}}}}
	wantCode(t, "long metadata", h.c.OffsetCommit(req).Topics[0].Partitions[0].ErrorCode, kerr.OffsetMetadataTooLarge.Code)

	// A failed write is not acknowledged and not applied.
	h.store.SetFail(errors.New("disk on fire"))
	wantCode(t, "commit on a failing store", h.commit("g", ids[0], gen, "t", map[int32]int64{1: 99})[1], kerr.CoordinatorNotAvailable.Code)
	h.store.SetFail(nil)
	if got := h.fetch("g", "t", 1); got[1] != 42 {
		t.Fatalf("offset after a failed commit: %d", got[1])
	}
}

func TestOffsetFetchVersions(t *testing.T) {
	h := newHarness(t, nil)
	h.commit("a", "", -1, "t", map[int32]int64{0: 5, 3: 7})
	h.commit("a", "", -1, "u", map[int32]int64{2: 9})
	h.commit("b", "", -1, "t", map[int32]int64{0: 11})

	// v1: one group, named partitions.
	v1 := kmsg.NewPtrOffsetFetchRequest()
	v1.Version = 1
	v1.Group = "a"
	v1.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	r1 := h.c.OffsetFetch(v1)
	if p := r1.Topics[0].Partitions; p[0].Offset != 5 || p[1].Offset != -1 {
		t.Fatalf("v1 %+v", p)
	}
	// v7: null topics means every committed offset.
	v7 := kmsg.NewPtrOffsetFetchRequest()
	v7.Version = 7
	v7.Group = "a"
	v7.RequireStable = true
	r7 := h.c.OffsetFetch(v7)
	n := 0
	for _, t := range r7.Topics {
		n += len(t.Partitions)
	}
	if n != 3 || r7.ErrorCode != 0 {
		t.Fatalf("v7 all offsets: %d partitions, error %s", n, errName(r7.ErrorCode))
	}
	// v8: a batch of groups, one unknown.
	v8 := kmsg.NewPtrOffsetFetchRequest()
	v8.Version = 8
	for _, g := range []string{"a", "b", "zzz"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}
		v8.Groups = append(v8.Groups, rg)
	}
	r8 := h.c.OffsetFetch(v8)
	want := []int64{5, 11, -1}
	for i, g := range r8.Groups {
		if got := g.Topics[0].Partitions[0].Offset; got != want[i] || g.ErrorCode != 0 {
			t.Fatalf("group %s: offset %d error %s", g.Group, got, errName(g.ErrorCode))
		}
	}
}

func TestOffsetExpiry(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.OffsetsRetentionMinutes = 60
		c.OffsetsRetentionCheckIntervalMs = 60000
	})
	ids, gen := h.stableGroup("g", 1, withSession(120000))
	h.commit("g", ids[0], gen, "t", map[int32]int64{0: 10})
	h.commit("simple", "", -1, "t", map[int32]int64{0: 20})

	// While the group has a member its offsets stay, however old.
	for i := 0; i < 70; i++ {
		h.clock.Advance(time.Minute)
		wantCode(t, "heartbeat", h.heartbeat("g", ids[0], gen), 0)
	}
	if got := h.fetch("g", "t", 0); got[0] != 10 {
		t.Fatalf("offset of an active group expired: %v", got)
	}
	if h.c.getGroup("simple") != nil {
		t.Fatal("the simple consumer's offsets outlived offsets.retention.minutes")
	}
	// Once empty, an hour later the offsets and the group are gone.
	h.c.LeaveGroup(&kmsg.LeaveGroupRequest{Version: 0, Group: "g", MemberID: ids[0]})
	h.clock.Advance(59 * time.Minute)
	if got := h.fetch("g", "t", 0); got[0] != 10 {
		t.Fatalf("expired too early: %v", got)
	}
	h.clock.Advance(2 * time.Minute)
	if got := h.fetch("g", "t", 0); got[0] != -1 {
		t.Fatalf("not expired: %v", got)
	}
	if h.c.getGroup("g") != nil {
		t.Fatal("empty group without offsets was not removed")
	}
	// The tombstones make the expiry stick across a restart.
	h.restart()
	if got := h.fetch("g", "t", 0); got[0] != -1 {
		t.Fatalf("expired offset came back after restart: %v", got)
	}

	// v2-v4 commits carry their own retention.
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 2
	req.Group, req.Generation = "ret", -1
	req.RetentionTimeMillis = 5 * 60 * 1000
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 3}}}}
	wantCode(t, "v2 commit", h.c.OffsetCommit(req).Topics[0].Partitions[0].ErrorCode, 0)
	h.clock.Advance(4 * time.Minute)
	if got := h.fetch("ret", "t", 0); got[0] != 3 {
		t.Fatalf("v2 offset: %v", got)
	}
	h.clock.Advance(2 * time.Minute)
	if got := h.fetch("ret", "t", 0); got[0] != -1 {
		t.Fatalf("v2 offset with 5 min retention still there: %v", got)
	}
}

func TestReplayRestoresGroupsAndOffsets(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OffsetsTopicNumPartitions = 7 })
	ids, gen := h.stableGroup("g", 2)
	h.commit("g", ids[0], gen, "t", map[int32]int64{0: 100, 1: 200})
	h.commit("g", ids[1], gen, "t", map[int32]int64{1: 201})
	h.commit("s", "", -1, "u", map[int32]int64{2: 5})

	h.restart()
	if got := h.fetch("g", "t", 0, 1); got[0] != 100 || got[1] != 201 {
		t.Fatalf("offsets after restart %v", got)
	}
	if got := h.fetch("s", "u", 2); got[2] != 5 {
		t.Fatalf("simple offsets after restart %v", got)
	}
	if h.state("g") != StateStable {
		t.Fatalf("state after restart %v", h.state("g"))
	}
	// The members carry on with the generation they know.
	for _, id := range ids {
		wantCode(t, "heartbeat after restart", h.heartbeat("g", id, gen), 0)
		if a := string(h.sync("g", id, gen, nil).get(t).MemberAssignment); a != "a-"+id {
			t.Fatalf("assignment after restart %q", a)
		}
	}
	// Members that never come back expire and the group empties.
	h.clock.Advance(11 * time.Second)
	h.clock.Advance(21 * time.Second)
	if st := h.state("g"); st != StateEmpty {
		t.Fatalf("state %v once the restored members expired", st)
	}
	// Records land in the group's partition.
	p := PartitionFor("g", 7)
	n := 0
	_ = h.store.Replay(t.Context(), p, func(r Record) error {
		d, err := decodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if (d.groupKey != nil && d.groupKey.Group == "g") || (d.offsetKey != nil && d.offsetKey.Group == "g") {
			n++
		}
		return nil
	})
	if n == 0 {
		t.Fatalf("no records of group g in partition %d", p)
	}
}

func TestPartitionForMatchesKafka(t *testing.T) {
	for _, tc := range []struct {
		group string
		n     int32
		want  int32
	}{
		{"", 50, 0},
		{"hello", 50, 99162322 % 50},         // Java "hello".hashCode() = 99162322
		{"polygenelubricants", 50, 0},        // hashCode is MinInt32: Kafka's abs gives 0
		{"my-group", 50, 1906497762 % 50},    // hashCode -1906497762 before abs
		{"é", 50, 233 % 50},                  // UTF-16 code units
		{"😀", 50, (31*0xD83D + 0xDE00) % 50}, // surrogate pair
	} {
		if got := PartitionFor(tc.group, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", tc.group, got, tc.want)
		}
	}
}

func TestAdminDescribeListDelete(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("busy", 2)
	h.commit("busy", ids[0], gen, "t", map[int32]int64{0: 1})
	h.commit("idle", "", -1, "t", map[int32]int64{0: 1, 1: 2})

	d := h.c.DescribeGroups(&kmsg.DescribeGroupsRequest{Version: 5, Groups: []string{"busy", "idle", "none"}})
	if g := d.Groups[0]; g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 2 || string(g.Members[0].MemberAssignment) != "a-"+g.Members[0].MemberID {
		t.Fatalf("describe busy %+v", g)
	}
	if g := d.Groups[1]; g.State != "Empty" || len(g.Members) != 0 {
		t.Fatalf("describe idle %+v", g)
	}
	if g := d.Groups[2]; g.State != "Dead" || g.ErrorCode != 0 {
		t.Fatalf("describe none (v5) %+v", g)
	}
	d6 := h.c.DescribeGroups(&kmsg.DescribeGroupsRequest{Version: 6, Groups: []string{"none"}})
	wantCode(t, "describe v6 unknown", d6.Groups[0].ErrorCode, kerr.GroupIDNotFound.Code)

	for _, tc := range []struct {
		states, types []string
		want          []string
	}{
		{nil, nil, []string{"busy", "idle"}},
		{[]string{"stable"}, nil, []string{"busy"}},
		{[]string{"Empty"}, []string{"classic"}, []string{"idle"}},
		{nil, []string{"consumer"}, nil},
	} {
		l := h.c.ListGroups(&kmsg.ListGroupsRequest{Version: 5, StatesFilter: tc.states, TypesFilter: tc.types})
		var got []string
		for _, g := range l.Groups {
			got = append(got, g.Group)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Fatalf("list %v %v = %v, want %v", tc.states, tc.types, got, tc.want)
		}
	}

	del := h.c.DeleteGroups(&kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{"busy", "idle", "none"}})
	want := []int16{kerr.NonEmptyGroup.Code, 0, kerr.GroupIDNotFound.Code}
	for i, g := range del.Groups {
		wantCode(t, "delete "+g.Group, g.ErrorCode, want[i])
	}
	h.restart()
	if got := h.fetch("idle", "t", 0); got[0] != -1 {
		t.Fatalf("deleted group's offsets came back: %v", got)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 1) // subscribed to "t"
	h.commit("g", ids[0], gen, "t", map[int32]int64{0: 1})
	h.commit("g", ids[0], gen, "u", map[int32]int64{0: 1})
	req := &kmsg.OffsetDeleteRequest{Group: "g", Topics: []kmsg.OffsetDeleteRequestTopic{
		{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: "u", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
	}}
	r := h.c.OffsetDelete(req)
	wantCode(t, "top", r.ErrorCode, 0)
	wantCode(t, "subscribed topic", r.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic.Code)
	wantCode(t, "unsubscribed topic", r.Topics[1].Partitions[0].ErrorCode, 0)
	if got := h.fetch("g", "u", 0); got[0] != -1 {
		t.Fatalf("deleted offset still there: %v", got)
	}
	if got := h.fetch("g", "t", 0); got[0] != 1 {
		t.Fatalf("subscribed offset deleted: %v", got)
	}
	wantCode(t, "unknown group", h.c.OffsetDelete(&kmsg.OffsetDeleteRequest{Group: "x"}).ErrorCode, kerr.GroupIDNotFound.Code)
}

// FuzzDecodeRecord decodes arbitrary __consumer_offsets keys and values:
// what decodes must come back the same through the coordinator's own
// encoders (the keys; the committed offset Load takes from an offset
// commit value, written again as the coordinator writes it) and through a
// re-encoding of a group metadata value.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(offsetCommitKey("g", "t", 3), offsetCommitValue(offsetEntry{offset: 5, leaderEpoch: 2, metadata: "m", commitTimestamp: 9, expireTimestamp: -1}))
	f.Add(offsetCommitKey("g", "t", 3), offsetCommitValue(offsetEntry{offset: 5, expireTimestamp: 100}))
	f.Add(groupMetadataKey("g"), []byte(nil))
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.Members = []kmsg.GroupMetadataValueMember{{MemberID: "m", Subscription: []byte{1}, Assignment: []byte{2}}}
	f.Add(groupMetadataKey("g"), v.AppendTo(nil))
	f.Add([]byte{0, 9, 1}, []byte{1})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		d, err := decodeRecord(Record{Key: key, Value: value})
		if err != nil {
			return
		}
		switch {
		case d.offsetKey != nil:
			k := d.offsetKey
			d2, err := decodeRecord(Record{Key: offsetCommitKey(k.Group, k.Topic, k.Partition)})
			if err != nil || d2.offsetKey.Group != k.Group || d2.offsetKey.Topic != k.Topic || d2.offsetKey.Partition != k.Partition || d2.offset != nil {
				t.Fatalf("offset key round trip: %v", err)
			}
			if d.offset == nil {
				return
			}
			e := offsetEntryOf(d.offset)
			d3, err := decodeRecord(Record{Key: key, Value: offsetCommitValue(e)})
			if err != nil || d3.offset == nil {
				t.Fatalf("re-encoded offset commit value does not decode: %v", err)
			}
			if e2 := offsetEntryOf(d3.offset); e2 != e {
				t.Fatalf("offset commit value round trip: %+v, then %+v", e, e2)
			}
		case d.groupKey != nil:
			d2, err := decodeRecord(Record{Key: groupMetadataKey(d.groupKey.Group)})
			if err != nil || d2.groupKey.Group != d.groupKey.Group || d2.group != nil {
				t.Fatalf("group key round trip: %v", err)
			}
			if d.group == nil {
				return
			}
			d3, err := decodeRecord(Record{Key: key, Value: d.group.AppendTo(nil)})
			if err != nil || !reflect.DeepEqual(d3.group, d.group) {
				t.Fatalf("group metadata value round trip: %v\n%+v\n%+v", err, d.group, d3.group)
			}
		default:
			t.Fatalf("decoded %x into nothing", key)
		}
	})
}

// TestCommittedOffsets: every group's committed offsets are listed, those
// of a deleted group are not, and nothing is before a partition is loaded.
func TestCommittedOffsets(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 1)
	h.commit("g", ids[0], gen, "t", map[int32]int64{0: 5, 3: 7})
	h.commit("simple", "", -1, "u", map[int32]int64{1: 9})
	h.commit("gone", "", -1, "u", map[int32]int64{0: 1})
	wantCode(t, "delete", h.c.DeleteGroups(&kmsg.DeleteGroupsRequest{Groups: []string{"gone"}}).Groups[0].ErrorCode, 0)
	got := map[GroupOffset]bool{}
	for _, o := range h.c.CommittedOffsets() {
		got[o] = true
	}
	want := map[GroupOffset]bool{
		{Group: "g", Topic: "t", Partition: 0, Offset: 5}:      true,
		{Group: "g", Topic: "t", Partition: 3, Offset: 7}:      true,
		{Group: "simple", Topic: "u", Partition: 1, Offset: 9}: true,
	}
	if len(got) != len(want) {
		t.Fatalf("committed offsets %v, want %v", got, want)
	}
	for o := range want {
		if !got[o] {
			t.Fatalf("committed offsets %v lack %+v", got, o)
		}
	}

	c, err := New(Options{Config: DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o := c.CommittedOffsets(); o != nil {
		t.Fatalf("before any load: %v", o)
	}
}
