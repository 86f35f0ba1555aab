package replica

// LogDirInfo describes one log directory for DescribeLogDirs.
type LogDirInfo struct {
	Dir         string
	Err         error // the directory is offline
	Partitions  []LogDirPartition
	TotalBytes  int64 // -1 if unknown
	UsableBytes int64 // -1 if unknown
}

// LogDirPartition is one partition log in a directory.
type LogDirPartition struct {
	Topic     string
	Partition int32
	Size      int64
}

// LogDirs lists the node's log directories and their partitions.
func (m *Manager) LogDirs() []LogDirInfo {
	out := make([]LogDirInfo, 0, len(m.logs))
	for i, lm := range m.logs {
		d := LogDirInfo{Dir: m.cfg.LogDirs[i]}
		d.TotalBytes, d.UsableBytes = DiskSpace(d.Dir)
		for _, l := range lm.Logs() {
			tp := l.TopicPartition()
			d.Partitions = append(d.Partitions, LogDirPartition{Topic: tp.Topic, Partition: tp.Partition, Size: l.Size()})
		}
		out = append(out, d)
	}
	return out
}
