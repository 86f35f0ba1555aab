package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Producer snapshot files: "<20-digit offset>.snapshot" in the partition
// directory, holding the producer state as it was after every record below
// that offset. The byte layout is in docs/format/producer-snapshot.md.
const (
	snapshotSuffix    = ".snapshot"
	snapshotTmpSuffix = snapshotSuffix + vfs.TempSuffix // WriteFileAtomic's temporary file
	snapshotVersion   = 1
	// snapshotsToKeep: the newest snapshot and one before it, in case the
	// newest is damaged.
	snapshotsToKeep = 2

	snapshotHeaderSize = 2 + 4 + 4             // version, crc, entry count
	snapshotEntrySize  = 8 + 2 + 4 + 8 + 8 + 1 // fixed part of an entry
	snapshotBatchSize  = 4 + 8 + 4 + 8
)

var snapshotCRCTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot reports a producer snapshot that cannot be trusted.
var ErrCorruptSnapshot = errors.New("corrupt producer snapshot")

func snapshotName(offset int64) string { return fmt.Sprintf("%020d%s", offset, snapshotSuffix) }

// parseSnapshotName returns the offset of a snapshot file name.
func parseSnapshotName(name string) (int64, bool) {
	if !strings.HasSuffix(name, snapshotSuffix) {
		return 0, false
	}
	digits := strings.TrimSuffix(name, snapshotSuffix)
	if len(digits) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || off < 0 {
		return 0, false
	}
	return off, true
}

// encodeSnapshot serialises the producers, sorted by id so equal states give
// equal bytes.
func encodeSnapshot(producers map[int64]*producerEntry) []byte {
	ids := make([]int64, 0, len(producers))
	size := snapshotHeaderSize
	for id, e := range producers {
		ids = append(ids, id)
		size += snapshotEntrySize + e.n*snapshotBatchSize
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	be := binary.BigEndian
	b := make([]byte, 0, size)
	b = be.AppendUint16(b, snapshotVersion)
	b = be.AppendUint32(b, 0) // CRC, filled in below
	b = be.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := producers[id]
		b = be.AppendUint64(b, uint64(e.ProducerID))
		b = be.AppendUint16(b, uint16(e.Epoch))
		b = be.AppendUint32(b, uint32(e.CoordinatorEpoch))
		b = be.AppendUint64(b, uint64(e.CurrentTxnFirstOffset))
		b = be.AppendUint64(b, uint64(e.LastTimestamp))
		b = append(b, byte(e.n))
		for _, bm := range e.batches() {
			b = be.AppendUint32(b, uint32(bm.LastSeq))
			b = be.AppendUint64(b, uint64(bm.LastOffset))
			b = be.AppendUint32(b, uint32(bm.OffsetDelta))
			b = be.AppendUint64(b, uint64(bm.Timestamp))
		}
	}
	be.PutUint32(b[2:], crc32.Checksum(b[6:], snapshotCRCTable))
	return b
}

// readSnapshot decodes a producer snapshot. It never panics: damaged or
// hostile input returns an error wrapping ErrCorruptSnapshot.
func readSnapshot(b []byte) (map[int64]*producerEntry, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
	}
	if len(b) < snapshotHeaderSize {
		return nil, corrupt("%d bytes, shorter than the %d-byte header", len(b), snapshotHeaderSize)
	}
	be := binary.BigEndian
	if v := be.Uint16(b); v != snapshotVersion {
		return nil, corrupt("unknown version %d", v)
	}
	if want, got := be.Uint32(b[2:]), crc32.Checksum(b[6:], snapshotCRCTable); want != got {
		return nil, corrupt("crc mismatch: stored %08x, computed %08x", want, got)
	}
	n := be.Uint32(b[6:])
	rest := b[snapshotHeaderSize:]
	if uint64(n)*snapshotEntrySize > uint64(len(rest)) {
		return nil, corrupt("%d entries cannot fit in %d bytes", n, len(rest))
	}
	producers := make(map[int64]*producerEntry, n)
	pos := snapshotHeaderSize
	prevID := int64(-1)
	for i := uint32(0); i < n; i++ {
		if len(rest) < snapshotEntrySize {
			return nil, corrupt("entry %d truncated at byte %d", i, pos)
		}
		e := &producerEntry{
			ProducerID:            int64(be.Uint64(rest)),
			Epoch:                 int16(be.Uint16(rest[8:])),
			CoordinatorEpoch:      int32(be.Uint32(rest[10:])),
			CurrentTxnFirstOffset: int64(be.Uint64(rest[14:])),
			LastTimestamp:         int64(be.Uint64(rest[22:])),
		}
		nb := int(rest[30])
		rest, pos = rest[snapshotEntrySize:], pos+snapshotEntrySize
		if e.ProducerID < 0 {
			return nil, corrupt("entry %d has producer id %d", i, e.ProducerID)
		}
		if e.ProducerID <= prevID {
			return nil, corrupt("producer id %d follows %d: ids must ascend", e.ProducerID, prevID)
		}
		prevID = e.ProducerID
		if nb > BatchesToRetain {
			return nil, corrupt("producer %d has %d batches, more than %d", e.ProducerID, nb, BatchesToRetain)
		}
		if len(rest) < nb*snapshotBatchSize {
			return nil, corrupt("batches of producer %d truncated at byte %d", e.ProducerID, pos)
		}
		e.n = nb
		for j := 0; j < nb; j++ {
			bm := batchMetadata{
				LastSeq:     int32(be.Uint32(rest)),
				LastOffset:  int64(be.Uint64(rest[4:])),
				OffsetDelta: int32(be.Uint32(rest[12:])),
				Timestamp:   int64(be.Uint64(rest[16:])),
			}
			if bm.OffsetDelta < 0 || bm.LastSeq < 0 || bm.LastOffset < int64(bm.OffsetDelta) {
				return nil, corrupt("producer %d batch %d: last sequence %d, last offset %d, offset delta %d",
					e.ProducerID, j, bm.LastSeq, bm.LastOffset, bm.OffsetDelta)
			}
			e.batchBuf[j] = bm
			rest, pos = rest[snapshotBatchSize:], pos+snapshotBatchSize
		}
		producers[e.ProducerID] = e
	}
	if len(rest) != 0 {
		return nil, corrupt("%d trailing bytes", len(rest))
	}
	return producers, nil
}

// listSnapshots returns the offsets of the snapshot files in dir, ascending.
func listSnapshots(fs vfs.FS, dir string) ([]int64, error) {
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list producer snapshots: %w", err)
	}
	var offs []int64
	for _, de := range entries {
		if off, ok := parseSnapshotName(de.Name()); ok && !de.IsDir() {
			offs = append(offs, off)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs, nil
}

// writeSnapshotFile writes data as the snapshot for offset durably.
func writeSnapshotFile(fs vfs.FS, dir string, offset int64, data []byte) error {
	if err := vfs.WriteFileAtomic(fs, filepath.Join(dir, snapshotName(offset)), data); err != nil {
		return fmt.Errorf("write producer snapshot %d: %w", offset, err)
	}
	return nil
}

func readSnapshotFile(fs vfs.FS, dir string, offset int64) (map[int64]*producerEntry, error) {
	f, err := fs.OpenFile(filepath.Join(dir, snapshotName(offset)), os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open producer snapshot %d: %w", offset, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read producer snapshot %d: %w", offset, err)
	}
	producers, err := readSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("producer snapshot %d: %w", offset, err)
	}
	return producers, nil
}

// removeStrayTmp deletes half-written snapshots left by a crash.
func removeStrayTmp(fs vfs.FS, dir string) error {
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list producer snapshots: %w", err)
	}
	for _, de := range entries {
		if strings.HasSuffix(de.Name(), snapshotTmpSuffix) {
			if err := fs.Remove(filepath.Join(dir, de.Name())); err != nil {
				return fmt.Errorf("remove stray producer snapshot: %w", err)
			}
		}
	}
	return nil
}
