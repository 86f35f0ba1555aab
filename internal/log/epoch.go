package log

import (
	"errors"
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

// assign records that epoch starts at offset, if epoch is newer than the
// latest known one.
func (c *epochCache) assign(epoch int32, offset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 && epoch <= c.entries[n-1].Epoch {
		return nil
	}
	c.entries = append(c.entries, EpochEntry{Epoch: epoch, StartOffset: offset})
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

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
