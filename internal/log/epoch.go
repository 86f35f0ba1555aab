package log

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Kafka's "no epoch" answers for OffsetForLeaderEpoch.
const (
	UndefinedEpoch       = -1
	UndefinedEpochOffset = -1
)

// epochCache is the leader-epoch cache: for each leader epoch, the first
// offset written in it. It is persisted in leader-epoch-checkpoint after
// every change.
type epochCache struct {
	mu      sync.Mutex
	fsys    vfs.FS
	path    string
	entries []EpochEntry
}

func (c *epochCache) load() error {
	data, err := readFile(c.fsys, c.path)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return storageErr("read leader-epoch-checkpoint", err)
	}
	entries, err := ParseLeaderEpochCheckpoint(data)
	if err != nil {
		return err
	}
	c.entries = entries
	return nil
}

func (c *epochCache) writeLocked() error {
	return writeFileAtomic(c.fsys, c.path, FormatLeaderEpochCheckpoint(c.entries))
}

// assign records that epoch starts at offset, with the semantics of
// Kafka's LeaderEpochFileCache.assign: nothing changes when epoch is the
// latest epoch and offset is not below its start (or epoch is negative:
// the batch carries none); otherwise every entry from the end whose epoch
// is at or above epoch, or whose start offset is at or above offset, is
// dropped (they contradict the new one: a leader's entry written at
// become-leader for records that never came, or epochs of a log that was
// truncated) and the entry is added. A follower calls it for every batch it
// appends, a leader for its appends and when it becomes leader.
func (c *epochCache) assign(epoch int32, offset int64) error {
	if epoch < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	if n > 0 && epoch == c.entries[n-1].Epoch && offset >= c.entries[n-1].StartOffset {
		return nil
	}
	for n > 0 && (c.entries[n-1].Epoch >= epoch || c.entries[n-1].StartOffset >= offset) {
		n--
	}
	c.entries = append(c.entries[:n], EpochEntry{Epoch: epoch, StartOffset: offset})
	return c.writeLocked()
}

// latest returns the newest entry, ok=false with none.
func (c *epochCache) latest() (EpochEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return EpochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// clear drops every entry (TruncateFullyAndStartAt).
func (c *epochCache) clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return nil
	}
	c.entries = nil
	return c.writeLocked()
}

// truncateFromEnd drops epochs that start at or after endOffset (after the
// log was truncated to endOffset).
func (c *epochCache) truncateFromEnd(endOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	for n > 0 && c.entries[n-1].StartOffset >= endOffset {
		n--
	}
	if n == len(c.entries) {
		return nil
	}
	c.entries = c.entries[:n]
	return c.writeLocked()
}

// truncateFromStart drops epochs wholly below startOffset; the epoch
// holding startOffset now starts there (Kafka's truncateFromStart).
func (c *epochCache) truncateFromStart(startOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.entries) && c.entries[i].StartOffset <= startOffset {
		i++
	}
	if i == 0 || (i == 1 && c.entries[0].StartOffset == startOffset) {
		return nil
	}
	kept := append([]EpochEntry{{Epoch: c.entries[i-1].Epoch, StartOffset: startOffset}}, c.entries[i:]...)
	c.entries = kept
	return c.writeLocked()
}

// endOffsetFor answers OffsetForLeaderEpoch as Kafka's
// LeaderEpochFileCache.endOffsetFor does: for the latest epoch the log end
// offset; for an older one the start offset of the next higher epoch (with
// the largest known epoch at or below the requested one); for an unknown
// newer epoch, or with no epochs, (-1, -1).
func (c *epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	if epoch == UndefinedEpoch || n == 0 {
		return UndefinedEpoch, UndefinedEpochOffset
	}
	if c.entries[n-1].Epoch == epoch {
		return epoch, leo
	}
	higher := -1
	for i, e := range c.entries {
		if e.Epoch > epoch {
			higher = i
			break
		}
	}
	if higher < 0 {
		return UndefinedEpoch, UndefinedEpochOffset
	}
	if higher == 0 {
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}

func (c *epochCache) snapshot() []EpochEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]EpochEntry(nil), c.entries...)
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the leader-epoch cache.
func (l *Log) EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	return l.epochs.endOffsetFor(epoch, l.leo.Load())
}

// LeaderEpochs returns the leader-epoch cache's entries, oldest first.
func (l *Log) LeaderEpochs() []EpochEntry { return l.epochs.snapshot() }

// LatestEpoch is the newest epoch in the leader-epoch cache, ok=false
// when it is empty: what a follower sends as LastFetchedEpoch.
func (l *Log) LatestEpoch() (epoch int32, ok bool) {
	e, ok := l.epochs.latest()
	return e.Epoch, ok
}

// BeginLeaderEpoch records in the leader-epoch cache that epoch starts at
// the log end offset, and returns that offset (the epoch start offset),
// for a replica becoming leader of epoch before it appends anything, as
// Kafka's Partition.makeLeader does since KAFKA-7415: until its first
// append, OffsetForLeaderEpoch must already answer the previous epoch with
// this offset, or a follower of the new leader could keep records the new
// leader does not have. The cache follows Kafka's assign rules: entries at
// or above epoch, or starting at or after the log end offset, are replaced;
// the entry of an epoch that is already the latest is kept. The entry is
// written (leader-epoch-checkpoint) before BeginLeaderEpoch returns.
func (l *Log) BeginLeaderEpoch(epoch int32) (startOffset int64, err error) {
	if epoch < 0 {
		return 0, fmt.Errorf("log %s: leader epoch %d is negative", l.tp, epoch)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return 0, err
	}
	leo := l.leo.Load()
	if err := l.epochs.assign(epoch, leo); err != nil {
		return 0, err
	}
	return leo, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
