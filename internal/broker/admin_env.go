package broker

import (
	"context"
)

// admin builds the admin handlers' view of this node.
func (b *Broker) admin() *adminEnv {
	return &adminEnv{
		meta:   b.meta,
		cfg:    b.cfg,
		nodeID: b.cfg.NodeID,
		awaitImage: func(ctx context.Context, epoch int64) error {
			return b.replicas.AwaitImage(ctx, epoch)
		},
		partition: b.replicas.Partition,
		logDirs:   b.replicas.LogDirs,
		pids:      b.replicas.AllocateProducerID,
	}
}
