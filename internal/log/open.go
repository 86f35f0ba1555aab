package log

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// parseSegmentFile splits "<20 digits><suffix>" into base offset and
// suffix (".log", ".index", ".log.deleted", ...).
func parseSegmentFile(name string) (base int64, suffix string, ok bool) {
	if len(name) < 21 || name[20] != '.' {
		return 0, "", false
	}
	b, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil || b < 0 {
		return 0, "", false
	}
	return b, name[20:], true
}

// loadState is what the Manager knows about a partition before opening it.
type loadState struct {
	clean          bool  // the directory had a clean-shutdown marker
	recoveryPoint  int64 // from recovery-point-offset-checkpoint; 0 if absent
	logStartOffset int64 // from log-start-offset-checkpoint; 0 if absent
	highWatermark  int64 // from replication-offset-checkpoint; 0 if absent
	// created: the directory was just made by Create; its first segment
	// is created without fsyncs, which the log's first data sync makes up
	// for (Log.syncDirs).
	created bool
}

// loadLog opens the partition in dir. After an unclean stop it recovers
// every segment from the one holding the recovery point: each batch is
// checked (framing, CRC32C, offsets), a torn or corrupt tail is truncated
// (with all later segments), and indexes are rebuilt.
func (m *Manager) loadLog(tp TopicPartition, dir string, cfg Config, st loadState) (*Log, error) {
	l := m.newLog(tp, dir, cfg)
	fsys := m.fsys
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, storageErr("list "+dir, err)
	}
	type segInfo struct {
		size int64
	}
	logs := map[int64]segInfo{}
	indexFiles := map[int64][]string{}
	var swaps []int64
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, DeletedFileSuffix), strings.HasSuffix(name, CleanedFileSuffix), strings.HasSuffix(name, tmpSuffix):
			// Interrupted deletion, abandoned cleaning, or a checkpoint
			// write that never got renamed: finish the job.
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !isNotExist(err) {
				return nil, storageErr("remove "+name, err)
			}
			continue
		}
		base, suffix, ok := parseSegmentFile(name)
		if !ok {
			continue
		}
		switch suffix {
		case LogFileSuffix:
			info, err := e.Info()
			if err != nil {
				return nil, storageErr("stat "+name, err)
			}
			logs[base] = segInfo{size: info.Size()}
		case IndexFileSuffix, TimeIndexFileSuffix, TxnIndexFileSuffix:
			indexFiles[base] = append(indexFiles[base], name)
		case LogFileSuffix + SwapFileSuffix:
			swaps = append(swaps, base)
		case IndexFileSuffix + SwapFileSuffix, TimeIndexFileSuffix + SwapFileSuffix, TxnIndexFileSuffix + SwapFileSuffix:
			// Index swap files are rebuilt from the log, as Kafka does.
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !isNotExist(err) {
				return nil, storageErr("remove "+name, err)
			}
		}
	}
	if len(swaps) > 0 {
		if err := m.completeSwaps(dir, swaps, logs2sizes(logs, func(s segInfo) int64 { return s.size })); err != nil {
			return nil, err
		}
		return m.loadLog(tp, dir, cfg, loadState{clean: false, recoveryPoint: 0, logStartOffset: st.logStartOffset})
	}
	// Indexes without a .log are leftovers of an interrupted deletion.
	for base, names := range indexFiles {
		if _, ok := logs[base]; !ok {
			for _, n := range names {
				if err := fsys.Remove(filepath.Join(dir, n)); err != nil && !isNotExist(err) {
					return nil, storageErr("remove "+n, err)
				}
			}
		}
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	segs := make([]*segment, 0, len(bases))
	for _, b := range bases {
		segs = append(segs, openSegment(fsys, dir, b, logs[b].size))
	}

	if err := l.epochs.load(); err != nil {
		m.logger.Warn("leader-epoch-checkpoint unreadable; starting an empty epoch cache", "partition", tp.String(), "err", err)
		l.epochs.entries = nil
	}
	if data, err := readFile(fsys, filepath.Join(dir, PartitionMetadataFile)); err == nil {
		if id, err := ParsePartitionMetadata(data); err == nil {
			l.topicID.Store(&id)
		} else {
			m.logger.Warn("partition.metadata unreadable", "partition", tp.String(), "err", err)
		}
	}

	if len(segs) == 0 {
		s, err := createSegment(fsys, dir, st.logStartOffset, &cfg, m.nowMs())
		if err != nil {
			return nil, err
		}
		if !st.created {
			if err := fsys.SyncDir(dir); err != nil {
				return nil, storageErr("sync partition dir", err)
			}
		}
		segs = append(segs, s)
	}

	recovered := false
	if st.clean {
		// Trust the files; only find the end of the active segment.
		last := segs[len(segs)-1]
		next, err := m.tailNextOffset(last)
		if err != nil {
			m.logger.Warn("active segment unreadable after a clean shutdown; recovering it", "partition", tp.String(), "err", err)
			st.clean = false
			st.recoveryPoint = last.base
		} else {
			last.next.Store(next)
		}
	}
	var recoveredEpochs []EpochEntry
	if !st.clean {
		segs, recoveredEpochs, err = m.recoverSegments(l, segs, st.recoveryPoint, &cfg)
		if err != nil {
			return nil, err
		}
		recovered = true
	}

	last := segs[len(segs)-1]
	leo := last.next.Load()
	lso := max(st.logStartOffset, segs[0].base)
	if leo < lso {
		// Everything below the checkpointed log start offset is gone (data
		// that was never flushed): start an empty log there, as Kafka does.
		m.logger.Warn("log end offset below log start offset; starting empty at the log start offset", "partition", tp.String(), "leo", leo, "lso", lso)
		for _, s := range segs {
			if err := removeSegmentFiles(fsys, s); err != nil {
				return nil, err
			}
		}
		s, err := createSegment(fsys, dir, lso, &cfg, m.nowMs())
		if err != nil {
			return nil, err
		}
		if err := fsys.SyncDir(dir); err != nil {
			return nil, storageErr("sync partition dir", err)
		}
		segs = []*segment{s}
		leo = lso
		last = s
	}
	l.setSegments(segs)
	l.active = last
	l.leo.Store(leo)
	l.lso.Store(lso)
	l.recoveryPoint.Store(leo)
	l.durable.Store(leo)
	l.hw.Store(st.highWatermark)
	// What the checkpoint files say now; after a recovery the Manager
	// writes them again before anything is appended.
	l.ckptRecoveryPoint.Store(st.recoveryPoint)
	l.ckptLogStartOffset.Store(st.logStartOffset)
	l.ckptHighWatermark.Store(st.highWatermark)
	if err := l.epochs.truncateFromEnd(leo); err != nil {
		return nil, err
	}
	if err := l.epochs.truncateFromStart(lso); err != nil {
		return nil, err
	}
	// Recovered batches of an epoch newer than the cache knows: their
	// entry was written after the data, and the power went in between.
	// Kafka's LogSegment.recover assigns them the same way.
	for _, e := range recoveredEpochs {
		if latest, ok := l.epochs.latest(); (!ok || e.Epoch > latest.Epoch) && e.StartOffset < leo && e.StartOffset >= lso {
			if err := l.epochs.assign(e.Epoch, e.StartOffset); err != nil {
				return nil, err
			}
		}
	}
	if recovered {
		// An abort's index entry is written (and fsynced) when its marker
		// is appended, before the marker is durable; a crash may have
		// taken the marker back, or a truncation stopped before trimming
		// the index. Entries at or past the recovered end would describe
		// records appended after it.
		for _, names := range indexFiles {
			for _, n := range names {
				if strings.HasSuffix(n, TxnIndexFileSuffix) {
					if err := trimTxnIndex(fsys, filepath.Join(dir, n), leo); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if recovered {
		m.logger.Debug("recovered log", "partition", tp.String(), "segments", len(segs), "logEndOffset", leo)
	}
	return l, nil
}

func logs2sizes[T any](m map[int64]T, f func(T) int64) map[int64]int64 {
	out := make(map[int64]int64, len(m))
	for k, v := range m {
		out[k] = f(v)
	}
	return out
}

// tailNextOffset finds the offset after the last batch of a segment from
// the last entry of its (trimmed) offset index and a short scan.
func (m *Manager) tailNextOffset(s *segment) (int64, error) {
	size := s.size.Load()
	if size == 0 {
		return s.base, nil
	}
	var entries []byte
	if f, err := m.fsys.OpenFile(s.path(IndexFileSuffix), os.O_RDONLY, 0); err == nil {
		if fi, err := f.Stat(); err == nil && fi.Size() >= offsetIndexEntrySize && fi.Size()%offsetIndexEntrySize == 0 {
			var e [offsetIndexEntrySize]byte
			if _, err := f.ReadAt(e[:], fi.Size()-offsetIndexEntrySize); err == nil {
				if rel, pos := offsetEntryAt(e[:], 0); int64(pos) < size && (rel != 0 || pos != 0) {
					entries = e[:]
				}
			}
		}
		f.Close()
	}
	f, err := m.files.acquire(s)
	if err != nil {
		return 0, err
	}
	defer m.files.release(s)
	next, err := lastOffsetFrom(f, s, entries, size)
	if err != nil && entries != nil {
		next, err = lastOffsetFrom(f, s, nil, size)
	}
	return next, err
}

// recoverSegments checks every segment from the one holding recoveryPoint
// and returns the segments that survive, and the first offset of each
// partition leader epoch in what it read (see scanResult.epochs).
func (m *Manager) recoverSegments(l *Log, segs []*segment, recoveryPoint int64, cfg *Config) ([]*segment, []EpochEntry, error) {
	var epochs []EpochEntry
	start := floorSegment(segs, recoveryPoint)
	expect := segs[start].base
	for i := start; i < len(segs); i++ {
		s := segs[i]
		f, err := m.files.acquire(s)
		if err != nil {
			return nil, nil, err
		}
		size := s.size.Load()
		res, err := scanLog(f, s, 0, size, max(expect, s.base), nil, cfg, true)
		if err != nil {
			m.files.release(s)
			return nil, nil, err
		}
		for _, e := range res.epochs {
			if n := len(epochs); n == 0 || e.Epoch > epochs[n-1].Epoch {
				epochs = append(epochs, e)
			}
		}
		if res.corrupt != nil {
			m.logger.Warn("truncating log at corrupt or torn batch", "partition", l.tp.String(), "err", res.corrupt)
			if err := f.Truncate(res.end); err != nil {
				m.files.release(s)
				return nil, nil, storageErr(fmt.Sprintf("truncate segment %d at %d", s.base, res.end), err)
			}
			s.size.Store(res.end)
		}
		s.offIdx = newIndex(offsetIndexEntrySize, cfg.SegmentIndexBytes)
		s.timeIdx = newIndex(timeIndexEntrySize, cfg.SegmentIndexBytes)
		s.offIdx.reset(res.offEntries)
		s.timeIdx.reset(res.timeEntries)
		s.bytesSinceIndex = res.bytesSinceIndex
		s.next.Store(res.next)
		s.maxTs.Store(&tsPair{ts: res.maxTs, offset: res.maxTsOffset})
		if now := m.nowMs(); res.batches > 0 && res.firstTs > 0 && res.firstTs < now {
			s.rollTs = res.firstTs
		}
		s.idxWritten = [2]int{}
		s.loaded.Store(true)
		lastKept := res.corrupt != nil || i == len(segs)-1
		if !lastKept {
			s.appendFinalTimeEntry()
		}
		if size == 0 && res.corrupt == nil {
			// Nothing written, nothing rebuilt: an empty segment costs no
			// fsync, so recovering thousands of empty partitions is quick.
			m.files.release(s)
			expect = res.next
			continue
		}
		// Make the rebuilt state durable before the recovery point passes it.
		err = syncData(f)
		m.files.release(s)
		if err != nil {
			return nil, nil, storageErr(fmt.Sprintf("sync segment %d", s.base), err)
		}
		if err := s.writeIndexes(cfg, !lastKept); err != nil {
			return nil, nil, err
		}
		expect = res.next
		if res.corrupt != nil {
			for _, later := range segs[i+1:] {
				m.logger.Warn("deleting segment after a corrupt batch", "partition", l.tp.String(), "segment", later.base)
				if err := removeSegmentFiles(m.fsys, later); err != nil {
					return nil, nil, err
				}
			}
			segs = segs[:i+1]
			if err := m.fsys.SyncDir(l.dir); err != nil {
				return nil, nil, storageErr("sync partition dir", err)
			}
			break
		}
	}
	return segs, epochs, nil
}

func removeSegmentFiles(fsys vfs.FS, s *segment) error {
	for _, suf := range segmentFileSuffixes {
		for _, extra := range []string{"", DeletedFileSuffix} {
			if err := fsys.Remove(s.path(suf + extra)); err != nil && !isNotExist(err) {
				return storageErr("remove segment file", err)
			}
		}
	}
	return nil
}

// completeSwaps finishes a cleaner's interrupted swap, as Kafka's loader
// does: a .log.swap file is a complete cleaned segment; the segments it
// replaces (bases within its offset range) are removed and the swap file
// takes its final name. Its indexes are rebuilt by recovery.
func (m *Manager) completeSwaps(dir string, swaps []int64, sizes map[int64]int64) error {
	for _, base := range swaps {
		s := openSegment(m.fsys, dir, base, 0)
		name := s.path(LogFileSuffix + SwapFileSuffix)
		f, err := m.fsys.OpenFile(name, os.O_RDONLY, 0)
		if err != nil {
			return storageErr("open "+name, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return storageErr("stat "+name, err)
		}
		next, err := lastOffsetFrom(f, s, nil, fi.Size())
		f.Close()
		if err != nil {
			// A swap file is complete by construction; if it is not, drop it
			// and keep the originals.
			m.logger.Warn("dropping unreadable swap segment", "file", name, "err", err)
			if err := m.fsys.Remove(name); err != nil {
				return storageErr("remove "+name, err)
			}
			continue
		}
		for b := range sizes {
			if b >= base && b < next {
				if err := removeSegmentFiles(m.fsys, openSegment(m.fsys, dir, b, 0)); err != nil {
					return err
				}
			}
		}
		if err := m.fsys.Rename(name, s.path(LogFileSuffix)); err != nil {
			return storageErr("rename "+name, err)
		}
	}
	return storageErr("sync partition dir", m.fsys.SyncDir(dir))
}
