package log

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// File names Kafka uses, kept so operators feel at home.
const (
	RecoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"
	LeaderEpochCheckpointFile    = "leader-epoch-checkpoint"
	// ReplicationOffsetCheckpointFile holds each log's high watermark
	// (Log.HighWatermark), as Kafka's replica manager keeps it.
	ReplicationOffsetCheckpointFile = "replication-offset-checkpoint"
	PartitionMetadataFile           = "partition.metadata"
	CleanShutdownFile               = ".kafka_cleanshutdown"
	tmpSuffix                       = vfs.TempSuffix
)

// maxCheckpointEntries bounds what a reader will believe from a count line,
// so a corrupt file cannot make it allocate without end.
const maxCheckpointEntries = 1 << 24

// ErrCorruptCheckpoint is wrapped by every checkpoint parse error.
var ErrCorruptCheckpoint = errors.New("corrupt checkpoint file")

// writeFileAtomic is vfs.WriteFileAtomic with its error marked as a
// storage error.
func writeFileAtomic(fsys vfs.FS, name string, data []byte) error {
	return storageErr("write "+filepath.Base(name), vfs.WriteFileAtomic(fsys, name, data))
}

// writeFileUnsynced writes a new small file in place, without fsync: for
// files whose durability a later fsync provides (Log.syncDirs).
func writeFileUnsynced(fsys vfs.FS, name string, data []byte) error {
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return storageErr("create "+name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return storageErr("write "+name, err)
	}
	return storageErr("close "+name, f.Close())
}

// readFile reads a whole (small) file.
func readFile(fsys vfs.FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// checkpointLines splits a Kafka checkpoint file (version line, count line,
// count entry lines) and returns the entry lines, each split on white space
// into want fields.
func checkpointLines(data []byte, want int) ([][]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCorruptCheckpoint}, args...)...)
	}
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil, bad("empty file")
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 2 {
		return nil, bad("missing entry count")
	}
	if v := strings.TrimSpace(lines[0]); v != "0" {
		return nil, bad("unsupported version %q", v)
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil || n < 0 || n > maxCheckpointEntries {
		return nil, bad("bad entry count %q", lines[1])
	}
	if len(lines)-2 != n {
		return nil, bad("expected %d entries, found %d", n, len(lines)-2)
	}
	out := make([][]string, 0, n)
	for i, line := range lines[2:] {
		fields := strings.Fields(line)
		if len(fields) != want {
			return nil, bad("entry %d: %q has %d fields, want %d", i, line, len(fields), want)
		}
		out = append(out, fields)
	}
	return out, nil
}

// ParseOffsetCheckpoint decodes a per-directory offset checkpoint
// (recovery-point-offset-checkpoint, log-start-offset-checkpoint): "0", the
// entry count, then "topic partition offset" lines.
func ParseOffsetCheckpoint(data []byte) (map[TopicPartition]int64, error) {
	lines, err := checkpointLines(data, 3)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(lines))
	for i, f := range lines {
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 || off < 0 {
			return nil, fmt.Errorf("%w: entry %d: bad partition or offset in %q", ErrCorruptCheckpoint, i, strings.Join(f, " "))
		}
		out[TopicPartition{Topic: f[0], Partition: int32(p)}] = off
	}
	return out, nil
}

// FormatOffsetCheckpoint encodes offsets in Kafka's checkpoint format,
// sorted by topic and partition so the file is deterministic.
func FormatOffsetCheckpoint(offsets map[TopicPartition]int64) []byte {
	tps := make([]TopicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool { return tps[i].less(tps[j]) })
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, offsets[tp])
	}
	return b.Bytes()
}

// EpochEntry is one line of the leader-epoch checkpoint: the first offset
// written in a leader epoch.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// ParseLeaderEpochCheckpoint decodes a leader-epoch-checkpoint file: "0",
// the entry count, then "epoch startOffset" lines with epochs and offsets
// increasing.
func ParseLeaderEpochCheckpoint(data []byte) ([]EpochEntry, error) {
	lines, err := checkpointLines(data, 2)
	if err != nil {
		return nil, err
	}
	out := make([]EpochEntry, 0, len(lines))
	for i, f := range lines {
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || off < 0 {
			return nil, fmt.Errorf("%w: entry %d: bad epoch or offset in %q", ErrCorruptCheckpoint, i, strings.Join(f, " "))
		}
		if n := len(out); n > 0 && (int32(e) <= out[n-1].Epoch || off < out[n-1].StartOffset) {
			return nil, fmt.Errorf("%w: entry %d: epoch %d at %d does not follow epoch %d at %d", ErrCorruptCheckpoint, i, e, off, out[n-1].Epoch, out[n-1].StartOffset)
		}
		out = append(out, EpochEntry{Epoch: int32(e), StartOffset: off})
	}
	return out, nil
}

// FormatLeaderEpochCheckpoint encodes entries in Kafka's format.
func FormatLeaderEpochCheckpoint(entries []EpochEntry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

// FormatTopicID renders a topic ID as Kafka's Uuid.toString does: URL-safe
// base64 without padding (22 characters).
func FormatTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseTopicID is the inverse of FormatTopicID.
func ParseTopicID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("%w: bad topic id %q", ErrCorruptCheckpoint, s)
	}
	copy(id[:], b)
	return id, nil
}

// FormatPartitionMetadata encodes partition.metadata as Kafka does.
func FormatPartitionMetadata(topicID [16]byte) []byte {
	return []byte("version: 0\ntopic_id: " + FormatTopicID(topicID))
}

// ParsePartitionMetadata decodes partition.metadata ("version: 0" then
// "topic_id: <base64url uuid>").
func ParsePartitionMetadata(data []byte) ([16]byte, error) {
	var zero [16]byte
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) != 2 {
		return zero, fmt.Errorf("%w: partition.metadata has %d lines, want 2", ErrCorruptCheckpoint, len(lines))
	}
	field := func(line, key string) (string, bool) {
		k, v, ok := strings.Cut(line, ": ")
		return strings.TrimSpace(v), ok && k == key
	}
	if v, ok := field(lines[0], "version"); !ok || v != "0" {
		return zero, fmt.Errorf("%w: partition.metadata: bad version line %q", ErrCorruptCheckpoint, lines[0])
	}
	v, ok := field(lines[1], "topic_id")
	if !ok {
		return zero, fmt.Errorf("%w: partition.metadata: bad topic_id line %q", ErrCorruptCheckpoint, lines[1])
	}
	return ParseTopicID(v)
}
