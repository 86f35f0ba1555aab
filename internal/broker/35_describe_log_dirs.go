package broker

// DescribeLogDirs, versions 1 to 4.
//
// Lists each log directory (log.dirs) with the partitions it holds and
// their sizes on disk; a null topic list asks for every partition, else
// only the named ones are listed (partitions not on this node are left
// out, as Kafka does). Offset lag is 0 and no replica is a "future" one
// (there is no directory-to-directory move). From v3 the top-level error
// code is set (always NONE: there is no authorizer); from v4 each
// directory's total and usable bytes (-1 where the platform cannot tell).
// An offline directory gets KAFKA_STORAGE_ERROR.

import (
	"context"
	"sort"

	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(35, 1, 4, handleDescribeLogDirs) }

func handleDescribeLogDirs(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return describeLogDirs(b, r.(*kmsg.DescribeLogDirsRequest)), nil
}

func describeLogDirs(env *Broker, req *kmsg.DescribeLogDirsRequest) *kmsg.DescribeLogDirsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var want map[string]map[int32]bool
	if req.Topics != nil {
		want = map[string]map[int32]bool{}
		for _, t := range req.Topics {
			if want[t.Topic] == nil {
				want[t.Topic] = map[int32]bool{}
			}
			for _, p := range t.Partitions {
				want[t.Topic][p] = true
			}
		}
	}
	var dirs []replica.LogDirInfo
	if env.replicas != nil {
		dirs = env.replicas.LogDirs()
	}
	for _, d := range dirs {
		rd := kmsg.NewDescribeLogDirsResponseDir()
		rd.Dir = d.Dir
		rd.TotalBytes, rd.UsableBytes = d.TotalBytes, d.UsableBytes
		if d.Err != nil {
			rd.ErrorCode = kerr.KafkaStorageError.Code
			resp.Dirs = append(resp.Dirs, rd)
			continue
		}
		byTopic := map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
		for _, p := range d.Partitions {
			if want != nil && !want[p.Topic][p.Partition] {
				continue
			}
			rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			rp.Partition, rp.Size = p.Partition, p.Size
			byTopic[p.Topic] = append(byTopic[p.Topic], rp)
		}
		names := make([]string, 0, len(byTopic))
		for n := range byTopic {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic = n
			rt.Partitions = byTopic[n]
			sort.Slice(rt.Partitions, func(i, j int) bool { return rt.Partitions[i].Partition < rt.Partitions[j].Partition })
			rd.Topics = append(rd.Topics, rt)
		}
		resp.Dirs = append(resp.Dirs, rd)
	}
	return resp
}
