package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzRequests decodes the input as a sequence of group requests (API key,
// version, body) and runs them through one coordinator with a fake clock
// that advances between requests: no input may panic, and the coordinator
// must keep answering.
func FuzzRequests(f *testing.F) {
	keys := []int16{8, 9, 10, 11, 12, 13, 14, 15, 16, 42, 47, 68, 69}
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
	case *kmsg.FindCoordinatorRequest:
		c.FindCoordinator(r, "localhost", 9092)
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
