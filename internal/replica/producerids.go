package replica

import (
	"context"
	"sync"

	"github.com/samsa-streaming/samsa/internal/controller"
)

// ProducerIDBlockSize is how many producer ids one reservation in the
// metadata log covers.
const ProducerIDBlockSize = controller.ProducerIDBlockSize

// ProducerIDs hands out producer ids from a block reserved in the metadata
// log, reserving the next block when one runs out. Ids are unique across
// the cluster and across restarts (an unused rest of a block is lost at
// restart, as in Kafka). The zero value is ready; it is safe for
// concurrent use.
type ProducerIDs struct {
	mu   sync.Mutex
	next int64
	end  int64 // exclusive
}

// IDBlocks reserves blocks of producer ids in the metadata log (the
// controller's AllocateProducerIDs).
type IDBlocks interface {
	AllocateProducerIDs(ctx context.Context, count int64) (first int64, err error)
}

// Allocate returns the next producer id, reserving a block through meta
// when needed.
func (a *ProducerIDs) Allocate(ctx context.Context, meta IDBlocks) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.end {
		first, err := meta.AllocateProducerIDs(ctx, ProducerIDBlockSize)
		if err != nil {
			return -1, err
		}
		a.next, a.end = first, first+ProducerIDBlockSize
	}
	id := a.next
	a.next++
	return id, nil
}

// AllocateProducerID returns a new producer id (InitProducerId and the
// transaction coordinator share the node's blocks).
func (m *Manager) AllocateProducerID(ctx context.Context) (int64, error) {
	return m.pids.Allocate(ctx, m.client)
}
