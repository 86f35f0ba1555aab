package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// GroupLag is a consumer group's lag on one topic at scrape time: over the
// topic's partitions where the group has a committed offset, the sum of
// high watermark minus committed offset (never negative).
type GroupLag struct {
	Group string
	Topic string
	Lag   int64
}

// RaftStatus is the metadata Raft group as this node sees it.
type RaftStatus struct {
	State        string // Follower, Candidate, Leader or Shutdown
	Term         uint64
	LastLogIndex uint64
	CommitIndex  uint64
	AppliedIndex uint64
	ImageEpoch   int64 // raft index of the last batch applied to the metadata image
	ControllerID int32 // -1 when there is none
	NodeID       int32
	// Active is whether this node is the active controller (it leads the
	// quorum and has applied the log).
	Active bool
	// Brokers counts the registered brokers by state: live, fenced,
	// shutting_down.
	Brokers map[string]int
	// Fenced is whether this broker is fenced; false on a node that is not
	// a broker.
	Fenced bool
}

// ReplicationStatus counts this broker's replicas at scrape time.
type ReplicationStatus struct {
	Leaders, Followers int
	// UnderReplicated counts the partitions this broker leads whose ISR is
	// smaller than their replica set; UnderMinISR those whose ISR is
	// smaller than min.insync.replicas (acks=all produces are refused).
	UnderReplicated, UnderMinISR int
}

// LogDirSpace is the file system space of one log directory.
type LogDirSpace struct {
	Dir                string
	TotalBytes         int64 // -1 if unknown
	AvailableBytes     int64 // for unprivileged users; -1 if unknown
	PartitionLogs      int   // partition logs in the directory
	PartitionLogsBytes int64 // their total size
}

// Sources are the node's figures read at scrape time. A nil field is
// skipped. Each must be quick: a scrape runs them all.
type Sources struct {
	Partitions PartitionLister
	GroupLag   func() []GroupLag
	Raft       func() RaftStatus
	LogDirs    func() []LogDirSpace
	Replicas   func() ReplicationStatus
}

// SetSources installs the scrape-time sources, replacing the partition
// lister too.
func (m *Metrics) SetSources(s Sources) {
	m.listerMu.Lock()
	m.sources = s
	m.listerMu.Unlock()
}

// SetPartitionLister installs the function scraped for per-partition gauges.
func (m *Metrics) SetPartitionLister(fn PartitionLister) {
	m.listerMu.Lock()
	m.sources.Partitions = fn
	m.listerMu.Unlock()
}

func (m *Metrics) getSources() Sources {
	m.listerMu.RLock()
	defer m.listerMu.RUnlock()
	return m.sources
}

// raftStates are the values of samsa_raft_state's state label.
var raftStates = []string{"Follower", "Candidate", "Leader", "Shutdown"}

var (
	descLEO   = prometheus.NewDesc("samsa_partition_log_end_offset", "Next offset to be assigned in the partition log.", []string{"topic", "partition"}, nil)
	descLSO   = prometheus.NewDesc("samsa_partition_log_start_offset", "First offset kept in the partition log.", []string{"topic", "partition"}, nil)
	descHW    = prometheus.NewDesc("samsa_partition_high_watermark", "The partition's high watermark.", []string{"topic", "partition"}, nil)
	descBytes = prometheus.NewDesc("samsa_partition_log_size_bytes", "Bytes on disk of the partition log.", []string{"topic", "partition"}, nil)

	descLag = prometheus.NewDesc("samsa_consumer_group_lag",
		"Records a consumer group has yet to commit on a topic: over the topic's partitions with a committed offset, the sum of high watermark minus committed offset. Computed at scrape time.",
		[]string{"group", "topic"}, nil)

	descRaftState = prometheus.NewDesc("samsa_raft_state",
		"1 for the state this node's metadata Raft is in (Follower, Candidate, Leader, Shutdown), 0 for the others.", []string{"state"}, nil)
	descRaftTerm    = prometheus.NewDesc("samsa_raft_term", "Current term of the metadata Raft.", nil, nil)
	descRaftLast    = prometheus.NewDesc("samsa_raft_last_log_index", "Last index in the metadata Raft log (or its latest snapshot).", nil, nil)
	descRaftCommit  = prometheus.NewDesc("samsa_raft_commit_index", "Highest metadata Raft index known to be committed.", nil, nil)
	descRaftApplied = prometheus.NewDesc("samsa_raft_applied_index", "Last metadata Raft index handed to the state machine.", nil, nil)
	descImageEpoch  = prometheus.NewDesc("samsa_metadata_image_epoch",
		"Raft index of the last record batch applied to the metadata image the handlers read.", nil, nil)
	descControllerID = prometheus.NewDesc("samsa_controller_id",
		"Node id of the active controller (the metadata Raft leader), -1 when there is none.", nil, nil)
	descControllerActive = prometheus.NewDesc("samsa_controller_active",
		"1 when this node is the active controller, else 0. Summed over a cluster it must be exactly 1.", nil, nil)
	descClusterBrokers = prometheus.NewDesc("samsa_cluster_brokers",
		"Registered brokers in this node's metadata image, by state: live, fenced (no heartbeat within broker.session.timeout.ms, or not caught up yet), shutting_down.", []string{"state"}, nil)
	descBrokerFenced = prometheus.NewDesc("samsa_broker_fenced",
		"1 while the controller has this broker fenced (it leads no partition and clients are not told of it), else 0.", nil, nil)

	descReplicas = prometheus.NewDesc("samsa_replicas",
		"Partition replicas on this broker, by role (leader, follower).", []string{"role"}, nil)
	descUnderReplicated = prometheus.NewDesc("samsa_under_replicated_partitions",
		"Partitions this broker leads whose in-sync replicas are fewer than their replicas (Kafka's UnderReplicatedPartitions).", nil, nil)
	descUnderMinISR = prometheus.NewDesc("samsa_under_min_isr_partitions",
		"Partitions this broker leads whose in-sync replicas are fewer than min.insync.replicas: acks=all produces to them are refused (Kafka's UnderMinIsrPartitionCount).", nil, nil)

	descDirTotal = prometheus.NewDesc("samsa_log_dir_total_bytes",
		"Size of the file system holding the log directory.", []string{"dir"}, nil)
	descDirFree = prometheus.NewDesc("samsa_log_dir_available_bytes",
		"Free space of the file system holding the log directory, as available to the node's user.", []string{"dir"}, nil)
	descDirLogs = prometheus.NewDesc("samsa_log_dir_partitions",
		"Partition logs in the log directory.", []string{"dir"}, nil)
	descDirSize = prometheus.NewDesc("samsa_log_dir_size_bytes",
		"Total size of the partition logs in the log directory.", []string{"dir"}, nil)
)

// nodeCollector reads the Sources at scrape time.
type nodeCollector struct{ m *Metrics }

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLEO, descLSO, descHW, descBytes, descLag,
		descRaftState, descRaftTerm, descRaftLast, descRaftCommit, descRaftApplied, descImageEpoch, descControllerID, descControllerActive, descClusterBrokers, descBrokerFenced,
		descReplicas, descUnderReplicated, descUnderMinISR,
		descDirTotal, descDirFree, descDirLogs, descDirSize} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.getSources()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if s.Partitions != nil {
		for _, p := range s.Partitions() {
			labels := []string{p.Topic, itoa(p.Partition)}
			gauge(descLEO, float64(p.LogEndOffset), labels...)
			gauge(descLSO, float64(p.LogStartOffset), labels...)
			gauge(descHW, float64(p.HighWatermark), labels...)
			gauge(descBytes, float64(p.SizeBytes), labels...)
		}
	}
	if s.GroupLag != nil {
		for _, g := range s.GroupLag() {
			gauge(descLag, float64(g.Lag), g.Group, g.Topic)
		}
	}
	if s.Raft != nil {
		r := s.Raft()
		for _, st := range raftStates {
			v := 0.0
			if st == r.State {
				v = 1
			}
			gauge(descRaftState, v, st)
		}
		gauge(descRaftTerm, float64(r.Term))
		gauge(descRaftLast, float64(r.LastLogIndex))
		gauge(descRaftCommit, float64(r.CommitIndex))
		gauge(descRaftApplied, float64(r.AppliedIndex))
		gauge(descImageEpoch, float64(r.ImageEpoch))
		gauge(descControllerID, float64(r.ControllerID))
		active := 0.0
		if r.Active {
			active = 1
		}
		gauge(descControllerActive, active)
		for _, st := range []string{"live", "fenced", "shutting_down"} {
			gauge(descClusterBrokers, float64(r.Brokers[st]), st)
		}
		fenced := 0.0
		if r.Fenced {
			fenced = 1
		}
		gauge(descBrokerFenced, fenced)
	}
	if s.Replicas != nil {
		r := s.Replicas()
		gauge(descReplicas, float64(r.Leaders), "leader")
		gauge(descReplicas, float64(r.Followers), "follower")
		gauge(descUnderReplicated, float64(r.UnderReplicated))
		gauge(descUnderMinISR, float64(r.UnderMinISR))
	}
	if s.LogDirs != nil {
		for _, d := range s.LogDirs() {
			if d.TotalBytes >= 0 {
				gauge(descDirTotal, float64(d.TotalBytes), d.Dir)
				gauge(descDirFree, float64(d.AvailableBytes), d.Dir)
			}
			gauge(descDirLogs, float64(d.PartitionLogs), d.Dir)
			gauge(descDirSize, float64(d.PartitionLogsBytes), d.Dir)
		}
	}
}
