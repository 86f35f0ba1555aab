package broker

import (
	"context"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// adminAvailable: the admin APIs are registered when the data plane is.
const adminAvailable = true

// admin builds the admin handlers' view of this node.
func (b *Broker) admin() *adminEnv {
	return &adminEnv{
		meta:   b.meta,
		cfg:    b.cfg,
		nodeID: b.cfg.NodeID,
		awaitImage: func(ctx context.Context, epoch int64) error {
			return b.AwaitImage(ctx, epoch)
		},
		partition: func(topic string, p int32) (*partition.Partition, bool) {
			return b.Partition(log.TopicPartition{Topic: topic, Partition: p})
		},
		logDirs: b.describeLogDirs,
		pids:    allocatorFor(b.meta),
	}
}

// describeLogDirs lists the node's log directories and their partitions.
func (b *Broker) describeLogDirs() []logDirInfo {
	out := make([]logDirInfo, 0, len(b.logs))
	for i, m := range b.logs {
		d := logDirInfo{Dir: b.cfg.LogDirs[i]}
		d.TotalBytes, d.UsableBytes = diskSpace(d.Dir)
		for _, l := range m.Logs() {
			tp := l.TopicPartition()
			d.Partitions = append(d.Partitions, logDirPartition{Topic: tp.Topic, Partition: tp.Partition, Size: l.Size()})
		}
		out = append(out, d)
	}
	return out
}
