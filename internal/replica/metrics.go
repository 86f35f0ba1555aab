package replica

import (
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metrics"
)

// The node's figures for the metrics scrape (metrics.Sources). Each reads
// what the node already keeps, under short locks, and creates nothing:
// consumer lag covers the groups the group coordinator has loaded.

func (m *Manager) metricsSources() metrics.Sources {
	return metrics.Sources{
		Partitions: m.partitionStats,
		GroupLag:   m.groupLag,
		Raft:       m.raftStatus,
		LogDirs:    m.logDirSpace,
		Replicas:   m.replicationStatus,
	}
}

// replicationStatus counts this broker's replicas by role, and the
// partitions it leads that are short of in-sync replicas, from the image
// and the topics' settings.
func (m *Manager) replicationStatus() metrics.ReplicationStatus {
	im := m.meta.Image()
	var st metrics.ReplicationStatus
	m.replicas.mu.RLock()
	defer m.replicas.mu.RUnlock()
	for tp, r := range m.replicas.byTP {
		p, ok := im.Partition(tp.Topic, tp.Partition)
		if !ok {
			continue
		}
		if p.Leader != m.cfg.NodeID {
			st.Followers++
			continue
		}
		st.Leaders++
		if len(p.ISR) < len(p.Replicas) {
			st.UnderReplicated++
		}
		if len(p.ISR) < int(r.settings.minInsyncReplicas) {
			st.UnderMinISR++
		}
	}
	return st
}

func (m *Manager) partitionStats() []metrics.PartitionStat {
	stats := m.replicaStats()
	out := make([]metrics.PartitionStat, len(stats))
	for i, s := range stats {
		out[i] = metrics.PartitionStat{Topic: s.tp.Topic, Partition: s.tp.Partition, LogStartOffset: s.logStart, LogEndOffset: s.logEnd, HighWatermark: s.highWatermark, SizeBytes: s.size}
	}
	return out
}

// groupLag sums, per group (of the __consumer_offsets partitions loaded)
// and topic, the high watermark minus the committed offset of every
// partition of this node the group committed an offset on.
func (m *Manager) groupLag() []metrics.GroupLag {
	c := m.groups.loaded.Load()
	if c == nil {
		return nil
	}
	type key struct{ group, topic string }
	lag := map[key]int64{}
	for _, o := range c.CommittedOffsets() {
		r := m.replica(log.TopicPartition{Topic: o.Topic, Partition: o.Partition})
		if r == nil {
			continue
		}
		k := key{o.Group, o.Topic}
		lag[k] += max(r.part.HighWatermark()-o.Offset, 0)
	}
	out := make([]metrics.GroupLag, 0, len(lag))
	for k, v := range lag {
		out = append(out, metrics.GroupLag{Group: k.group, Topic: k.topic, Lag: v})
	}
	return out
}

func (m *Manager) raftStatus() metrics.RaftStatus {
	st := m.meta.RaftStatus()
	out := metrics.RaftStatus{
		State:        st.State,
		Term:         st.Term,
		LastLogIndex: st.LastLogIndex,
		CommitIndex:  st.CommitIndex,
		AppliedIndex: st.AppliedIndex,
		ImageEpoch:   st.ImageEpoch,
		ControllerID: st.ControllerID,
		NodeID:       m.cfg.NodeID,
		Active:       m.meta.Active(),
		Brokers:      map[string]int{},
		Fenced:       m.life.fenced.Load(),
	}
	for _, br := range m.meta.Image().Brokers {
		switch {
		case br.Fenced:
			out.Brokers["fenced"]++
		case br.InControlledShutdown:
			out.Brokers["shutting_down"]++
		default:
			out.Brokers["live"]++
		}
	}
	return out
}

func (m *Manager) logDirSpace() []metrics.LogDirSpace {
	out := make([]metrics.LogDirSpace, len(m.logs))
	for i, lm := range m.logs {
		d := metrics.LogDirSpace{Dir: m.cfg.LogDirs[i]}
		d.TotalBytes, d.AvailableBytes = DiskSpace(d.Dir)
		for _, l := range lm.Logs() {
			d.PartitionLogs++
			d.PartitionLogsBytes += l.Size()
		}
		out[i] = d
	}
	return out
}

// commitObserver is the log directory's group-commit observer, or nil
// without metrics (a nil *metrics.CommitObserver in the interface would
// not be nil).
func (m *Manager) commitObserver(dir string) log.CommitObserver {
	if m.metrics == nil {
		return nil
	}
	return m.metrics.CommitObserver(dir)
}

// appendedHook counts a partition's appends in its topic's traffic.
func (m *Manager) appendedHook(topic string) func(int, int64) {
	if m.metrics == nil {
		return nil
	}
	return m.metrics.Topic(topic).Produced
}
