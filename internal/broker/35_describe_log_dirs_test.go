package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeLogDirs: each of the node's log directories with its total
// and usable bytes (v4) and the partitions it holds, every partition in
// exactly one, with its size; named topics list only their partitions,
// and a topic this node does not have is left out, not an error. (The
// one error code, KAFKA_STORAGE_ERROR for an offline directory, has no
// way to happen yet: no directory goes offline.) DescribeLogDirs is also
// covered by TestDescribeProducersAndLogDirs. Other APIs it uses:
// CreateTopics.
func TestDescribeLogDirs(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	env := newAdminEnv(t, map[string]string{"log.dirs": dirA + "," + dirB})
	createTopic(t, env, "t", 4, nil)
	parts := withPartitions(t, env, "t")
	produce(t, parts[topicPartition{Topic: "t", Partition: 2}], -1, 0, 5)
	describe := func(topics ...kmsg.DescribeLogDirsRequestTopic) *kmsg.DescribeLogDirsResponse {
		t.Helper()
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.SetVersion(4)
		req.Topics = topics
		resp := serveReq(t, env, req).(*kmsg.DescribeLogDirsResponse)
		if resp.ErrorCode != 0 || len(resp.Dirs) != 2 || resp.Dirs[0].Dir != dirA || resp.Dirs[1].Dir != dirB {
			t.Fatalf("dirs %+v", resp)
		}
		return resp
	}

	seen := map[int32]int64{}
	for _, d := range describe().Dirs {
		if d.ErrorCode != 0 || d.TotalBytes <= 0 || d.UsableBytes < 0 {
			t.Fatalf("dir %s: code %d, total %d, usable %d", d.Dir, d.ErrorCode, d.TotalBytes, d.UsableBytes)
		}
		for _, dt := range d.Topics {
			if dt.Topic != "t" {
				t.Fatalf("dir %s holds %s", d.Dir, dt.Topic)
			}
			for _, p := range dt.Partitions {
				if _, dup := seen[p.Partition]; dup {
					t.Fatalf("partition %d in two directories", p.Partition)
				}
				seen[p.Partition] = p.Size
			}
		}
	}
	if len(seen) != 4 || seen[2] <= 0 || seen[0] != 0 {
		t.Fatalf("partitions and sizes %v", seen)
	}

	named := kmsg.NewDescribeLogDirsRequestTopic()
	named.Topic, named.Partitions = "t", []int32{2}
	unknown := kmsg.NewDescribeLogDirsRequestTopic()
	unknown.Topic, unknown.Partitions = "nope", []int32{0}
	var listed []int32
	for _, d := range describe(named, unknown).Dirs {
		for _, dt := range d.Topics {
			if dt.Topic != "t" {
				t.Fatalf("listed %s", dt.Topic)
			}
			for _, p := range dt.Partitions {
				listed = append(listed, p.Partition)
			}
		}
	}
	if len(listed) != 1 || listed[0] != 2 {
		t.Fatalf("named partitions listed: %v", listed)
	}
}
