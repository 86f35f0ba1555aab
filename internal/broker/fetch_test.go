package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchLeaderEpochs: a fetch's current leader epoch and last fetched
// epoch (KIP-320) are answered per partition, with the partition's offsets,
// as Kafka answers them: a fenced or unknown epoch as an error, a log that
// diverged from the client's with the diverging epoch and no records.
func TestFetchLeaderEpochs(t *testing.T) {
	n, cl := sessionNode(t, "epochs", 1, 3) // offsets 0-2 in leader epoch 0
	part := n.b.hostedPartition("epochs", 0)
	if part == nil {
		t.Fatal("no local partition")
	}
	part.SetLeaderEpoch(1) // as a leader change would
	produceN(t, cl, 0, 2)  // 3-4 in epoch 1
	s := newSessionConn(t, n, "epochs", 17)
	fetch := func(offset int64, current, lastFetched int32) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(s.version)
		req.ReplicaID, req.MaxBytes, req.MinBytes, req.SessionEpoch = -1, 1<<20, 1, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = s.topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = current, lastFetched
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := s.send(req)
		wantCode(t, "fetch", resp, nil)
		p := respParts(resp)[0]
		if p.HighWatermark != 5 || p.LastStableOffset != 5 || p.LogStartOffset != 0 {
			t.Fatalf("offsets hw %d lso %d start %d, want 5 5 0", p.HighWatermark, p.LastStableOffset, p.LogStartOffset)
		}
		return p
	}
	noDivergence := kmsg.NewFetchResponseTopicPartitionDivergingEpoch()

	for _, tc := range []struct {
		name                 string
		offset               int64
		current, lastFetched int32
		code                 *kerr.Error
		diverging            kmsg.FetchResponseTopicPartitionDivergingEpoch
		next                 int64 // offset after the records, -1 for none
	}{
		{"no epochs", 0, -1, -1, nil, noDivergence, 5},
		{"the current epochs", 3, 1, 1, nil, noDivergence, 5},
		{"the last fetched epoch ends at the fetch offset", 3, 1, 0, nil, noDivergence, 5},
		{"the last fetched epoch ended before the fetch offset", 4, 1, 0, nil, kmsg.FetchResponseTopicPartitionDivergingEpoch{Epoch: 0, EndOffset: 3}, -1},
		{"a last fetched epoch newer than the log's", 3, -1, 2, kerr.OffsetOutOfRange, noDivergence, -1},
		{"a fenced leader epoch", 0, 0, -1, kerr.FencedLeaderEpoch, noDivergence, -1},
		{"an unknown leader epoch", 0, 2, -1, kerr.UnknownLeaderEpoch, noDivergence, -1},
		{"out of range", 6, -1, -1, kerr.OffsetOutOfRange, noDivergence, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fetch(tc.offset, tc.current, tc.lastFetched)
			want := int16(0)
			if tc.code != nil {
				want = tc.code.Code
			}
			if p.ErrorCode != want {
				t.Fatalf("error %v, want %v", kerr.ErrorForCode(p.ErrorCode), tc.code)
			}
			if d := p.DivergingEpoch; d.Epoch != tc.diverging.Epoch || d.EndOffset != tc.diverging.EndOffset {
				t.Fatalf("diverging epoch %+v, want %+v", p.DivergingEpoch, tc.diverging)
			}
			if got := nextOffset(t, p); got != tc.next {
				t.Fatalf("records up to %d, want %d", got, tc.next)
			}
		})
	}
}
