package controller

import (
	"context"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// balanceLoop is the automatic preferred-leader election
// (auto.leader.rebalance.enable): every LeaderImbalanceCheckInterval the
// active controller runs a balancing round (metadata.Store.BalanceLeaders)
// and, while a round leaves partitions for the next one, runs the next at
// once, as Kafka's controller reschedules itself.
func (c *Controller) balanceLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.LeaderImbalanceCheckInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		for c.store.Active() && c.balanceRound(ctx) {
			select {
			case <-c.stop:
				return
			default:
			}
		}
	}
}

// balanceRound runs one balancing round and reports whether partitions
// were left for another.
func (c *Controller) balanceRound(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	moved, more, err := c.store.BalanceLeaders(ctx, c.cfg.LeaderImbalancePerBrokerPercentage, metadata.MaxElectionsPerBatch)
	if err != nil {
		c.log.Warn("giving partitions back to their preferred leaders failed", "err", err)
	} else if moved > 0 {
		c.log.Info("gave partitions back to their preferred leaders", "partitions", moved, "more", more)
	}
	if c.cfg.AfterBalance != nil {
		c.cfg.AfterBalance(moved, err)
	}
	return err == nil && more
}
