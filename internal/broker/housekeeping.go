package broker

import "time"

// startHousekeeping runs the node's periodic chores until Close: forgetting
// idle idempotent producers (producer.id.expiration.check.interval.ms), as
// Kafka's broker does, so producer state does not grow without bound.
func (b *Broker) startHousekeeping() {
	interval := time.Duration(b.cfg.ProducerIDExpirationCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		return
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.expireProducers()
			}
		}
	}()
}

// expireProducers forgets, on every local partition, the producers idle for
// longer than producer.id.expiration.ms.
func (b *Broker) expireProducers() {
	b.replicas.mu.RLock()
	reps := make([]*replica, 0, len(b.replicas.byTP))
	for _, r := range b.replicas.byTP {
		reps = append(reps, r)
	}
	b.replicas.mu.RUnlock()
	expired := 0
	for _, r := range reps {
		expired += r.part.ExpireProducers()
	}
	if expired > 0 {
		b.logger.Info("expired idle producers", "count", expired)
	}
}
