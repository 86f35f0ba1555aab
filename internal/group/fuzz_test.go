package group

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzRequests decodes the input as a sequence of group requests (API key,
// version, body) and runs them through one coordinator with a fake clock
// that advances between requests: no input may panic, and the coordinator
// must keep answering.
func FuzzRequests(f *testing.F) {
	keys := []int16{8, 9, 11, 12, 13, 14, 15, 16, 42, 47, 68, 69}
	add := func(reqs ...kmsg.Request) {
		var b []byte
		for _, r := range reqs {
			body := r.AppendTo(nil)
			b = append(b, byte(r.Key()), byte(r.GetVersion()), byte(len(body)>>8), byte(len(body)))
			b = append(b, body...)
		}
		f.Add(b)
	}
	j := kmsg.NewPtrJoinGroupRequest()
	j.Version = 9
	j.Group, j.ProtocolType, j.SessionTimeoutMillis, j.RebalanceTimeoutMillis = "g", "consumer", 10000, 10000
	j.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("t")}}
	c := kmsg.NewPtrOffsetCommitRequest()
	c.Version = 9
	c.Group, c.Generation = "g", -1
	c.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 5}}}}
	h := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	h.Version = 1
	h.Group, h.MemberID, h.RebalanceTimeoutMillis = "c", "m", 1000
	h.SubscribedTopicNames = []string{"t"}
	re := "t.*"
	h2 := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	h2.Version = 1
	h2.Group, h2.MemberID, h2.RebalanceTimeoutMillis, h2.SubscribedTopicRegex = "c", "n", 1000, &re
	add(j, j, c)
	add(h, h2, h)
	add(&kmsg.ListGroupsRequest{Version: 5}, &kmsg.DescribeGroupsRequest{Version: 5, Groups: []string{"g"}})
	f.Add([]byte{11, 9, 0, 3, 1, 2, 3})

	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHarness(t, func(c *Config) { c.GroupInitialRebalanceDelayMs = 0 })
		for len(data) >= 4 {
			key := keys[int(data[0])%len(keys)]
			for _, k := range keys {
				if int16(data[0]) == k {
					key = k
				}
			}
			version := int16(data[1] % 12)
			n := int(data[2])<<8 | int(data[3])
			data = data[4:]
			if n > len(data) {
				n = len(data)
			}
			body := data[:n]
			data = data[n:]
			req := kmsg.RequestForKey(key)
			if version > req.MaxVersion() {
				version = req.MaxVersion()
			}
			req.SetVersion(version)
			if err := req.ReadFrom(body); err != nil {
				continue
			}
			h.run(req)
			h.clock.Advance(time.Second)
		}
		// Still serving.
		h.c.ListGroups(&kmsg.ListGroupsRequest{Version: 5})
	})
}

// run sends one request to the coordinator the way the broker does, with
// callbacks instead of blocking for JoinGroup and SyncGroup.
func (h *harness) run(req kmsg.Request) {
	c := h.c
	switch r := req.(type) {
	case *kmsg.OffsetCommitRequest:
		c.OffsetCommit(r)
	case *kmsg.OffsetFetchRequest:
		c.OffsetFetch(r)
	case *kmsg.JoinGroupRequest:
		c.joinGroup(r, "fuzz", "/127.0.0.1", func(*kmsg.JoinGroupResponse) {})
	case *kmsg.HeartbeatRequest:
		c.Heartbeat(r)
	case *kmsg.LeaveGroupRequest:
		c.LeaveGroup(r)
	case *kmsg.SyncGroupRequest:
		c.syncGroup(r, func(*kmsg.SyncGroupResponse) {})
	case *kmsg.DescribeGroupsRequest:
		c.DescribeGroups(r)
	case *kmsg.ListGroupsRequest:
		c.ListGroups(r)
	case *kmsg.DeleteGroupsRequest:
		c.DeleteGroups(r)
	case *kmsg.OffsetDeleteRequest:
		c.OffsetDelete(r)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		c.ConsumerGroupHeartbeat(r, "fuzz", "/127.0.0.1")
	case *kmsg.ConsumerGroupDescribeRequest:
		c.ConsumerGroupDescribe(r)
	}
}

// FuzzLoad replays arbitrary __consumer_offsets records, each in its
// group's partition, through LoadPartition and checks the groups it
// rebuilds against a model of the replay rules: the last offset commit of
// a partition wins, a tombstone removes it, and a group comes back if it
// has committed offsets or group metadata (Stable with its members, Empty
// without). A restart over the same records
// rebuilds the same. The input is a sequence of records: key length (1
// byte), key, value length (2 bytes, 0xffff for a tombstone), value.
func FuzzLoad(f *testing.F) {
	rec := func(key, value []byte) []byte {
		b := append([]byte{byte(len(key))}, key...)
		if value == nil {
			return append(b, 0xff, 0xff)
		}
		b = append(b, byte(len(value)>>8), byte(len(value)))
		return append(b, value...)
	}
	meta := func(members ...string) []byte {
		v := kmsg.NewGroupMetadataValue()
		v.Version = 3
		v.ProtocolType, v.Generation, v.Protocol, v.Leader = "consumer", 4, kmsg.StringPtr("range"), kmsg.StringPtr("m0")
		for _, m := range members {
			vm := kmsg.NewGroupMetadataValueMember()
			vm.MemberID, vm.ClientID, vm.ClientHost = m, "c", "/h"
			vm.SessionTimeoutMillis, vm.RebalanceTimeoutMillis = 10000, 10000
			vm.Subscription, vm.Assignment = consumerMeta("t"), []byte{}
			v.Members = append(v.Members, vm)
		}
		return v.AppendTo(nil)
	}
	commit := func(offset int64, epoch int32) []byte {
		return offsetCommitValue(offsetEntry{offset: offset, leaderEpoch: epoch, metadata: "m", commitTimestamp: 5, expireTimestamp: -1})
	}
	f.Add(slices.Concat(
		rec(offsetCommitKey("g", "t", 0), commit(5, 1)),
		rec(offsetCommitKey("g", "t", 0), commit(7, 2)),
		rec(offsetCommitKey("g", "t", 1), commit(3, -1)),
		rec(offsetCommitKey("g", "t", 1), nil),
		rec(groupMetadataKey("g"), meta("m0", "m1")),
		rec(offsetCommitKey("h", "u", 2), offsetCommitValue(offsetEntry{offset: 9, expireTimestamp: 1 << 50})),
	))
	f.Add(slices.Concat(
		rec(groupMetadataKey("g"), meta("m0")),
		rec(groupMetadataKey("g"), nil),
		rec(groupMetadataKey("e"), meta()),
		rec([]byte{0, 9, 1}, []byte{1}),
	))
	f.Add([]byte{})

	type model struct {
		offsets map[string]map[int32]offsetEntry
		members map[string]bool
		meta    bool
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []Record
		for len(data) >= 3 {
			kl := int(data[0])
			if 1+kl+2 > len(data) {
				break
			}
			key := data[1 : 1+kl]
			vl := int(data[1+kl])<<8 | int(data[2+kl])
			data = data[3+kl:]
			var value []byte
			if vl != 0xffff {
				vl = min(vl, len(data))
				value, data = data[:vl], data[vl:]
			}
			recs = append(recs, Record{Key: key, Value: value})
		}
		groups := map[string]*model{}
		get := func(id string) *model {
			if groups[id] == nil {
				groups[id] = &model{offsets: map[string]map[int32]offsetEntry{}}
			}
			return groups[id]
		}
		for _, r := range recs {
			d, err := decodeRecord(r)
			switch {
			case err != nil:
			case d.offsetKey != nil:
				g := get(d.offsetKey.Group)
				if d.offset == nil {
					delete(g.offsets[d.offsetKey.Topic], d.offsetKey.Partition)
					continue
				}
				if g.offsets[d.offsetKey.Topic] == nil {
					g.offsets[d.offsetKey.Topic] = map[int32]offsetEntry{}
				}
				g.offsets[d.offsetKey.Topic][d.offsetKey.Partition] = offsetEntryOf(d.offset)
			case d.groupKey != nil:
				g := get(d.groupKey.Group)
				g.meta, g.members = d.group != nil, map[string]bool{}
				if d.group != nil {
					for _, m := range d.group.Members {
						g.members[m.MemberID] = true
					}
				}
			}
		}

		h := newHarness(t, nil)
		for _, r := range recs {
			// Each record in its group's partition, as the coordinator
			// writes them; one that names no group in partition 0.
			var p int32
			if d, err := decodeRecord(r); err == nil && d.offsetKey != nil {
				p = PartitionFor(d.offsetKey.Group, h.cfg.OffsetsTopicNumPartitions)
			} else if err == nil && d.groupKey != nil {
				p = PartitionFor(d.groupKey.Group, h.cfg.OffsetsTopicNumPartitions)
			}
			if err := h.store.Append(t.Context(), p, []Record{r}); err != nil {
				t.Fatal(err)
			}
		}
		h.restart()
		check := func() {
			t.Helper()
			for id, m := range groups {
				n := 0
				for _, ps := range m.offsets {
					n += len(ps)
				}
				want := StateDead
				switch {
				case len(m.members) > 0:
					want = StateStable
				case m.meta || n > 0:
					want = StateEmpty
				}
				if got := h.state(id); got != want {
					t.Fatalf("group %q: state %v, want %v (%d members, metadata %v, %d offsets)", id, got, want, len(m.members), m.meta, n)
				}
				if want == StateDead {
					continue
				}
				g := h.c.getGroup(id)
				g.mu.Lock()
				members := map[string]bool{}
				for mid := range g.members {
					members[mid] = true
				}
				got := map[string]map[int32]offsetEntry{}
				for topic, ps := range g.offsets {
					if len(ps) > 0 {
						got[topic] = maps.Clone(ps)
					}
				}
				g.mu.Unlock()
				wantOffsets := map[string]map[int32]offsetEntry{}
				for topic, ps := range m.offsets {
					if len(ps) > 0 {
						wantOffsets[topic] = ps
					}
				}
				if !reflect.DeepEqual(got, wantOffsets) {
					t.Fatalf("group %q: offsets %v, want %v", id, got, wantOffsets)
				}
				if len(m.members) > 0 && !reflect.DeepEqual(members, m.members) {
					t.Fatalf("group %q: members %v, want %v", id, members, m.members)
				}
			}
			// Still serving.
			h.c.ListGroups(&kmsg.ListGroupsRequest{Version: 5})
		}
		check()
		h.restart()
		check()
	})
}
