package broker

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestWriteTxnMarkers: a commit marker ends a producer's open transaction
// on a partition of this node (the last stable offset reaches the high
// watermark, past the marker); each partition gets its own code:
// UNKNOWN_TOPIC_OR_PARTITION for a partition the metadata does not have,
// NOT_LEADER_OR_FOLLOWER for one hosted elsewhere, INVALID_PRODUCER_EPOCH
// for a marker older than the producer's epoch and
// TRANSACTION_COORDINATOR_FENCED for one from an older coordinator epoch.
// Other APIs it uses: CreateTopics.
func TestWriteTxnMarkers(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 1, nil)
	createRemoteTopic(t, env, "remote")
	p := withPartitions(t, env, "t")[topicPartition{Topic: "t", Partition: 0}]
	const pid = 7
	appendTxn := func(epoch int16, n int) {
		t.Helper()
		spec := record.DefaultBatchSpec()
		spec.Transactional, spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence, spec.BaseTimestamp = true, pid, epoch, 0, 1000
		recs := make([]record.Record, n)
		for i := range recs {
			recs[i].Value = []byte("v")
		}
		b, err := record.EncodeBatch(spec, recs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.AppendAsLeader(b, partition.AppendOptions{RequiredAcks: -1}); err != nil {
			t.Fatal(err)
		}
	}
	marker := func(epoch int16, coordinatorEpoch int32, commit bool, topics map[string][]int32) map[string]int16 {
		t.Helper()
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		req.SetVersion(1)
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed = pid, epoch, coordinatorEpoch, commit
		for topic, parts := range topics {
			mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			mt.Topic, mt.Partitions = topic, parts
			m.Topics = append(m.Topics, mt)
		}
		req.Markers = append(req.Markers, m)
		resp := serveReq(t, env, req).(*kmsg.WriteTxnMarkersResponse)
		if len(resp.Markers) != 1 || resp.Markers[0].ProducerID != pid {
			t.Fatalf("markers %+v", resp.Markers)
		}
		codes := map[string]int16{}
		for _, rt := range resp.Markers[0].Topics {
			for _, rp := range rt.Partitions {
				codes[rt.Topic] = rp.ErrorCode
			}
		}
		return codes
	}

	appendTxn(0, 2)
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != 0 || hw != 2 {
		t.Fatalf("open transaction: LSO %d HW %d", lso, hw)
	}
	codes := marker(0, 5, true, map[string][]int32{"t": {0}, "nope": {0}, "remote": {0}})
	if codes["t"] != 0 || codes["nope"] != kerr.UnknownTopicOrPartition.Code || codes["remote"] != kerr.NotLeaderForPartition.Code {
		t.Fatalf("codes %v", codes)
	}
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != 3 || hw != 3 {
		t.Fatalf("after the commit marker: LSO %d HW %d, want 3 (two records and the marker)", lso, hw)
	}
	ps := p.ActiveProducers()
	if len(ps) != 1 || ps[0].ProducerID != pid || ps[0].CoordinatorEpoch != 5 || ps[0].CurrentTxnStartOffset != -1 {
		t.Fatalf("producers %+v", ps)
	}

	appendTxn(1, 1) // the producer's next transaction, at a new epoch
	if code := marker(0, 5, false, map[string][]int32{"t": {0}})["t"]; code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("marker at an older producer epoch: %v", kerr.ErrorForCode(code))
	}
	if code := marker(1, 4, false, map[string][]int32{"t": {0}})["t"]; code != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("marker from an older coordinator epoch: %v", kerr.ErrorForCode(code))
	}
	if code := marker(1, 5, false, map[string][]int32{"t": {0}})["t"]; code != 0 || p.LastStableOffset() != 5 {
		t.Fatalf("abort marker: %v, LSO %d", kerr.ErrorForCode(code), p.LastStableOffset())
	}
}
