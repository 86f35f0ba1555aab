package replica

import "time"

// startHousekeeping runs the node's periodic chores until Close: forgetting
// idle idempotent producers (producer.id.expiration.check.interval.ms), as
// Kafka's broker does, so producer state does not grow without bound.
func (m *Manager) startHousekeeping() {
	interval := time.Duration(m.cfg.ProducerIDExpirationCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		return
	}
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.expireProducers()
			}
		}
	}()
}

// expireProducers forgets, on every local partition, the producers idle for
// longer than producer.id.expiration.ms.
func (m *Manager) expireProducers() {
	m.replicas.mu.RLock()
	reps := make([]*Replica, 0, len(m.replicas.byTP))
	for _, r := range m.replicas.byTP {
		reps = append(reps, r)
	}
	m.replicas.mu.RUnlock()
	expired := 0
	for _, r := range reps {
		expired += r.part.ExpireProducers()
	}
	if expired > 0 {
		m.logger.Info("expired idle producers", "count", expired)
	}
}
