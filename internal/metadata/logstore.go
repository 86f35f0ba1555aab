package metadata

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// walStore is the Raft log store and stable store: one append-only file of
// CRC-framed operations, replayed into memory on open. The metadata log is
// small (it is compacted into a snapshot every few thousand entries), so
// keeping the live entries in memory is cheap, and every mutation is one
// write and one fsync.
//
// It exists because raft-boltdb's bolt (github.com/boltdb/bolt v1.3.1)
// fails Go's checkptr instrumentation under -race at open, and
// raft-boltdb/v2 does not build against raft v1.8's go-metrics. The file
// format is described in docs/metadata.md.
//
// Frame:  length uint32 BE (of payload) | crc32c(payload) uint32 BE | payload
// Payload: op byte, then
//
//	opStoreLogs:   count uvarint, then per log: index u64, term u64, type u8,
//	               appendedAt unix-nanos i64, data (uvarint len, bytes),
//	               extensions (uvarint len, bytes)
//	opDeleteRange: min u64, max u64 (inclusive)
//	opSet:         key (uvarint len, bytes), value (uvarint len, bytes)
//
// A frame that is short or fails its CRC ends the replay and is truncated:
// it was being written when the process stopped and was never acknowledged.
//
// The first failed write, fsync or compaction fails the store: every later
// write returns that error until the store is reopened (see fail). The
// store reports it on Failed, so the node can leave Raft.
//
// All methods are safe for concurrent use.
type walStore struct {
	mu       sync.RWMutex
	fs       vfs.FS
	path     string
	f        vfs.File
	size     int64 // bytes of valid frames in the file
	first    uint64
	entries  []*raft.Log // entries[i].Index == first+i
	stable   map[string][]byte
	closed   bool
	failed   error         // see fail
	failedCh chan struct{} // closed when failed is set
}

const (
	opStoreLogs   byte = 1
	opDeleteRange byte = 2
	opSet         byte = 3

	walFrameHeader = 8
	walMaxFrame    = 256 << 20 // refuse absurd lengths on replay
)

// walCompactMin: the file is rewritten when its dead bytes exceed this. A
// variable so the crash test can compact a small log.
var walCompactMin int64 = 4 << 20

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// errNotFound must read "not found": hashicorp/raft compares error text.
	errNotFound = errors.New("not found")
)

func openWALStore(fs vfs.FS, path string) (*walStore, error) {
	s := &walStore{fs: fs, path: path, stable: map[string][]byte{}, failedCh: make(chan struct{})}
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	s.f = f
	if err := s.replay(); err != nil {
		f.Close()
		return nil, err
	}
	// If the open created the file, its directory entry is durable only
	// once the directory is synced; until then a crash loses the file with
	// everything acknowledged from it.
	if err := fs.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync raft log directory: %w", err)
	}
	return s, nil
}

func (s *walStore) replay() error {
	br := bufio.NewReaderSize(s.f, 64<<10)
	var off int64
	var hdr [walFrameHeader]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			break // EOF or torn header
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > walMaxFrame {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			break
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		if err := s.applyOp(payload); err != nil {
			return fmt.Errorf("replay raft log %s at byte %d: %w", s.path, off, err)
		}
		off += walFrameHeader + int64(n)
	}
	if err := s.f.Truncate(off); err != nil {
		return fmt.Errorf("truncate raft log %s at byte %d: %w", s.path, off, err)
	}
	if _, err := s.f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("seek raft log: %w", err)
	}
	s.size = off
	return nil
}

// applyOp applies one decoded operation to the in-memory state.
func (s *walStore) applyOp(p []byte) error {
	d := walDecoder{b: p[1:]}
	switch p[0] {
	case opStoreLogs:
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			return errors.New("bad log count")
		}
		logs := make([]*raft.Log, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			l := &raft.Log{Index: d.u64(), Term: d.u64(), Type: raft.LogType(d.byte())}
			l.AppendedAt = time.Unix(0, int64(d.u64()))
			l.Data = d.bytes()
			l.Extensions = d.bytes()
			logs = append(logs, l)
		}
		if d.err != nil {
			return d.err
		}
		return s.storeLocked(logs)
	case opDeleteRange:
		lo, hi := d.u64(), d.u64()
		if d.err != nil {
			return d.err
		}
		s.deleteLocked(lo, hi)
	case opSet:
		k, v := d.bytes(), d.bytes()
		if d.err != nil {
			return d.err
		}
		s.stable[string(k)] = v
	default:
		return fmt.Errorf("unknown operation %d", p[0])
	}
	return nil
}

// storeLocked appends logs, overwriting any suffix they overlap.
func (s *walStore) storeLocked(logs []*raft.Log) error {
	for _, l := range logs {
		if len(s.entries) == 0 {
			s.first = l.Index
			s.entries = append(s.entries, l)
			continue
		}
		last := s.first + uint64(len(s.entries)) - 1
		switch {
		case l.Index == last+1:
			s.entries = append(s.entries, l)
		case l.Index >= s.first && l.Index <= last:
			s.entries = append(s.entries[:l.Index-s.first], l)
		case l.Index < s.first:
			s.first = l.Index
			s.entries = append(s.entries[:0], l)
		default:
			return fmt.Errorf("log index %d leaves a gap after %d", l.Index, last)
		}
	}
	return nil
}

func (s *walStore) deleteLocked(lo, hi uint64) {
	if len(s.entries) == 0 || hi < lo {
		return
	}
	last := s.first + uint64(len(s.entries)) - 1
	if lo <= s.first && hi >= last {
		s.entries, s.first = nil, 0
		return
	}
	if lo <= s.first && hi >= s.first { // prefix
		rest := s.entries[hi-s.first+1:]
		s.entries = append(make([]*raft.Log, 0, len(rest)), rest...)
		s.first = hi + 1
		return
	}
	if lo > s.first && lo <= last && hi >= last { // suffix
		s.entries = s.entries[:lo-s.first]
		return
	}
	if lo > s.first && hi < last { // middle: raft never does this; keep the prefix contiguous
		s.entries = s.entries[:lo-s.first]
	}
}

// writeLocked frames, writes and syncs one operation.
func (s *walStore) writeLocked(payload []byte) error {
	if s.closed {
		return errors.New("raft log closed")
	}
	if s.failed != nil {
		return s.failed
	}
	frame := appendFrame(make([]byte, 0, walFrameHeader+len(payload)), payload)
	if _, err := s.f.Write(frame); err != nil {
		return s.fail(fmt.Errorf("write raft log: %w", err))
	}
	if err := s.f.Sync(); err != nil {
		return s.fail(fmt.Errorf("sync raft log: %w", err))
	}
	s.size += int64(len(frame))
	return nil
}

// appendFrame appends payload to dst as one frame.
func appendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

func encodeStoreLogs(logs []*raft.Log) []byte {
	p := []byte{opStoreLogs}
	p = binary.AppendUvarint(p, uint64(len(logs)))
	for _, l := range logs {
		p = binary.BigEndian.AppendUint64(p, l.Index)
		p = binary.BigEndian.AppendUint64(p, l.Term)
		p = append(p, byte(l.Type))
		var at int64
		if !l.AppendedAt.IsZero() {
			at = l.AppendedAt.UnixNano()
		}
		p = binary.BigEndian.AppendUint64(p, uint64(at))
		p = binary.AppendUvarint(p, uint64(len(l.Data)))
		p = append(p, l.Data...)
		p = binary.AppendUvarint(p, uint64(len(l.Extensions)))
		p = append(p, l.Extensions...)
	}
	return p
}

func encodeSet(k, v []byte) []byte {
	p := []byte{opSet}
	p = binary.AppendUvarint(p, uint64(len(k)))
	p = append(p, k...)
	p = binary.AppendUvarint(p, uint64(len(v)))
	return append(p, v...)
}

// FirstIndex implements raft.LogStore.
func (s *walStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.entries) == 0 {
		return 0, nil
	}
	return s.first, nil
}

// LastIndex implements raft.LogStore.
func (s *walStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.entries) == 0 {
		return 0, nil
	}
	return s.first + uint64(len(s.entries)) - 1, nil
}

// GetLog implements raft.LogStore. The returned log shares its Data with
// the store; raft never modifies it.
func (s *walStore) GetLog(index uint64, log *raft.Log) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.entries) == 0 || index < s.first || index-s.first >= uint64(len(s.entries)) {
		return raft.ErrLogNotFound
	}
	*log = *s.entries[index-s.first]
	return nil
}

// StoreLog implements raft.LogStore.
func (s *walStore) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

// StoreLogs implements raft.LogStore: durable when it returns.
func (s *walStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	own := make([]*raft.Log, len(logs))
	for i, l := range logs {
		c := *l
		c.Data = append([]byte(nil), l.Data...)
		c.Extensions = append([]byte(nil), l.Extensions...)
		own[i] = &c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeLocked(encodeStoreLogs(own)); err != nil {
		return err
	}
	return s.storeLocked(own)
}

// DeleteRange implements raft.LogStore.
func (s *walStore) DeleteRange(lo, hi uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := []byte{opDeleteRange}
	p = binary.BigEndian.AppendUint64(p, lo)
	p = binary.BigEndian.AppendUint64(p, hi)
	if err := s.writeLocked(p); err != nil {
		return err
	}
	s.deleteLocked(lo, hi)
	return s.maybeCompactLocked()
}

// maybeCompactLocked rewrites the file with only the live state once most
// of it is dead (after raft truncated the log behind a snapshot).
func (s *walStore) maybeCompactLocked() error {
	live := int64(0)
	for _, l := range s.entries {
		live += int64(len(l.Data)+len(l.Extensions)) + 40
	}
	if s.size-live < walCompactMin || s.size < 2*live {
		return nil
	}
	return s.compactLocked()
}

// compactLocked replaces the file with one holding only the live state.
func (s *walStore) compactLocked() error {
	var data []byte
	for k, v := range s.stable {
		data = appendFrame(data, encodeSet([]byte(k), v))
	}
	for i := 0; i < len(s.entries); i += 256 {
		end := min(i+256, len(s.entries))
		data = appendFrame(data, encodeStoreLogs(s.entries[i:end]))
	}
	// After a failure the rename may or may not have happened (or be
	// durable), so neither the old file nor the new one is safe to append
	// to.
	if err := vfs.WriteFileAtomic(s.fs, s.path, data); err != nil {
		return s.fail(fmt.Errorf("compact raft log: %w", err))
	}
	f, err := s.fs.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return s.fail(fmt.Errorf("compact raft log: %w", err))
	}
	if _, err := f.Seek(int64(len(data)), io.SeekStart); err != nil {
		f.Close()
		return s.fail(fmt.Errorf("compact raft log: %w", err))
	}
	s.f.Close()
	s.f, s.size = f, int64(len(data))
	return nil
}

// Set implements raft.StableStore.
func (s *walStore) Set(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := append([]byte(nil), val...)
	if err := s.writeLocked(encodeSet(key, v)); err != nil {
		return err
	}
	s.stable[string(key)] = v
	return nil
}

// Get implements raft.StableStore.
func (s *walStore) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.stable[string(key)]
	if !ok {
		return nil, errNotFound
	}
	return append([]byte(nil), v...), nil
}

// raftCurrentTerm is the stable-store key hashicorp/raft keeps its term in.
const raftCurrentTerm = "CurrentTerm"

// SetUint64 implements raft.StableStore.
//
// Once the store has failed, it reports success for the current term
// without writing it: hashicorp/raft panics when it cannot store its term,
// which would take the whole broker down with the metadata log. This
// cannot break Raft's guarantees: a failed store writes nothing more, so
// the node can neither vote (the vote is written first) nor accept
// entries, and the store's owner shuts Raft down on Failed.
func (s *walStore) SetUint64(key []byte, val uint64) error {
	err := s.Set(key, binary.BigEndian.AppendUint64(nil, val))
	if err != nil && string(key) == raftCurrentTerm && s.Err() != nil {
		return nil
	}
	return err
}

// GetUint64 implements raft.StableStore.
func (s *walStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stable key %q holds %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// fail fails the store with err, unless it has already failed, and
// returns the store's error. After a failed write or fsync the file's
// tail is unknown: part of a frame may be there, or an fsync error may
// have dropped written pages, and a frame appended after it could be
// cut off at replay along with it. Replay at the next open settles the
// tail. Callers hold mu.
func (s *walStore) fail(err error) error {
	if s.failed == nil {
		s.failed = err
		close(s.failedCh)
	}
	return s.failed
}

// Failed is closed when the store fails.
func (s *walStore) Failed() <-chan struct{} { return s.failedCh }

// Err returns the error the store failed with, or nil.
func (s *walStore) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.failed
}

// Close closes the file; later writes fail.
func (s *walStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}

// walDecoder reads the fields of one payload; errors are sticky.
type walDecoder struct {
	b   []byte
	err error
}

func (d *walDecoder) fail() {
	if d.err == nil {
		d.err = errors.New("truncated operation")
	}
	d.b = nil
}

func (d *walDecoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *walDecoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *walDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *walDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}
