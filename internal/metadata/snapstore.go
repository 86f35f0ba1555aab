package metadata

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// snapshotStore is the raft.SnapshotStore: hashicorp/raft's
// FileSnapshotStore rewritten over a vfs.FS, so the metadata log can be
// crash-tested on the in-memory file system. It keeps FileSnapshotStore's
// layout, so snapshots written by either can be read by the other:
//
//	snapshots/<term>-<index>-<unix ms>/state.bin   the FSM's snapshot
//	snapshots/<term>-<index>-<unix ms>/meta.json   raft.SnapshotMeta and the
//	                                               CRC-64 (ECMA) of state.bin
//
// A snapshot is written in a directory whose name ends in .tmp and renamed
// into place once complete. Where FileSnapshotStore does not, it fsyncs the
// snapshot's own directory before the rename (or state.bin and meta.json
// may be missing from it after a crash, while the log behind the snapshot
// is already gone), reports every error, and removes the .tmp directories
// a crash leaves behind.
//
// SnapshotMeta.Peers is left empty: raft reads it only from version-0
// snapshots, and Create refuses any version but 1.
type snapshotStore struct {
	fs     vfs.FS
	dir    string // the snapshots directory
	retain int
	log    *slog.Logger
}

const (
	snapshotsDir      = "snapshots"
	snapshotStateFile = "state.bin"
	snapshotMetaFile  = "meta.json"
)

var crc64Table = crc64.MakeTable(crc64.ECMA)

// snapshotMeta is meta.json: FileSnapshotStore's fileSnapshotMeta.
type snapshotMeta struct {
	raft.SnapshotMeta
	CRC []byte
}

// newSnapshotStore opens the snapshots directory under base, creating it,
// and removes unfinished snapshots. It keeps the newest retain snapshots.
func newSnapshotStore(fs vfs.FS, base string, retain int, log *slog.Logger) (*snapshotStore, error) {
	s := &snapshotStore{fs: fs, dir: filepath.Join(base, snapshotsDir), retain: retain, log: log}
	if err := fs.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create snapshot directory: %w", err)
	}
	if err := fs.SyncDir(base); err != nil {
		return nil, fmt.Errorf("sync %s: %w", base, err)
	}
	entries, err := fs.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	removed := false
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), vfs.TempSuffix) {
			if err := fs.RemoveAll(filepath.Join(s.dir, e.Name())); err != nil {
				return nil, fmt.Errorf("remove unfinished snapshot: %w", err)
			}
			removed = true
		}
	}
	if removed {
		if err := fs.SyncDir(s.dir); err != nil {
			return nil, fmt.Errorf("sync snapshot directory: %w", err)
		}
	}
	return s, nil
}

// Create implements raft.SnapshotStore.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version != 1 {
		return nil, fmt.Errorf("unsupported snapshot version %d", version)
	}
	id := fmt.Sprintf("%d-%d-%d", term, index, time.Now().UnixMilli())
	tmp := filepath.Join(s.dir, id+vfs.TempSuffix)
	if err := s.fs.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("create snapshot %s: %w", id, err)
	}
	f, err := s.fs.OpenFile(filepath.Join(tmp, snapshotStateFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		_ = s.fs.RemoveAll(tmp)
		return nil, fmt.Errorf("create snapshot %s: %w", id, err)
	}
	k := &snapshotSink{
		s: s, tmp: tmp, f: f, crc: crc64.New(crc64Table),
		meta: snapshotMeta{SnapshotMeta: raft.SnapshotMeta{
			Version: version, ID: id, Index: index, Term: term,
			Configuration: configuration, ConfigurationIndex: configurationIndex,
		}},
	}
	k.w = bufio.NewWriterSize(io.MultiWriter(f, k.crc), 64<<10)
	return k, nil
}

// List implements raft.SnapshotStore: the newest retain snapshots, newest
// first.
func (s *snapshotStore) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.snapshots()
	if err != nil {
		return nil, err
	}
	var out []*raft.SnapshotMeta
	for _, m := range metas[:min(len(metas), s.retain)] {
		out = append(out, &m.SnapshotMeta)
	}
	return out, nil
}

// snapshots lists every complete snapshot, newest first. One whose
// meta.json cannot be read is skipped, as FileSnapshotStore does: it is
// not one this store finished writing.
func (s *snapshotStore) snapshots() ([]*snapshotMeta, error) {
	entries, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var metas []*snapshotMeta
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), vfs.TempSuffix) {
			continue
		}
		m, err := s.readMeta(e.Name())
		if err != nil {
			s.log.Warn("skipping unreadable snapshot", "id", e.Name(), "err", err)
			continue
		}
		if m.Version < raft.SnapshotVersionMin || m.Version > raft.SnapshotVersionMax {
			s.log.Warn("skipping snapshot of unsupported version", "id", e.Name(), "version", m.Version)
			continue
		}
		metas = append(metas, m)
	}
	sort.Slice(metas, func(i, j int) bool {
		a, b := metas[i], metas[j]
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return metas, nil
}

func (s *snapshotStore) readMeta(id string) (*snapshotMeta, error) {
	data, err := vfs.ReadFile(s.fs, filepath.Join(s.dir, id, snapshotMetaFile))
	if err != nil {
		return nil, err
	}
	m := &snapshotMeta{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("decode %s of snapshot %s: %w", snapshotMetaFile, id, err)
	}
	return m, nil
}

// Open implements raft.SnapshotStore. It checks the CRC of the whole state
// before returning it, so a damaged snapshot fails here rather than
// half-way through a restore.
func (s *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	m, err := s.readMeta(id)
	if err != nil {
		return nil, nil, fmt.Errorf("open snapshot %s: %w", id, err)
	}
	f, err := s.fs.OpenFile(filepath.Join(s.dir, id, snapshotStateFile), os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open snapshot %s: %w", id, err)
	}
	h := crc64.New(crc64Table)
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	if sum := h.Sum(nil); !bytes.Equal(sum, m.CRC) {
		f.Close()
		return nil, nil, fmt.Errorf("snapshot %s: CRC %x, want %x", id, sum, m.CRC)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	return &m.SnapshotMeta, &snapshotReader{Reader: bufio.NewReaderSize(f, 64<<10), f: f}, nil
}

// reap removes the snapshots beyond the newest retain.
func (s *snapshotStore) reap() error {
	metas, err := s.snapshots()
	if err != nil {
		return err
	}
	if len(metas) <= s.retain {
		return nil
	}
	for _, m := range metas[s.retain:] {
		if err := s.fs.RemoveAll(filepath.Join(s.dir, m.ID)); err != nil {
			return fmt.Errorf("remove snapshot %s: %w", m.ID, err)
		}
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("sync snapshot directory: %w", err)
	}
	return nil
}

type snapshotReader struct {
	*bufio.Reader
	f vfs.File
}

func (r *snapshotReader) Close() error { return r.f.Close() }

// snapshotSink is a snapshot being written. Raft calls its methods from
// one goroutine.
type snapshotSink struct {
	s      *snapshotStore
	tmp    string // the .tmp directory
	f      vfs.File
	crc    hash.Hash64
	w      *bufio.Writer
	meta   snapshotMeta
	closed bool
}

// ID implements raft.SnapshotSink.
func (k *snapshotSink) ID() string { return k.meta.ID }

// Write implements raft.SnapshotSink.
func (k *snapshotSink) Write(p []byte) (int, error) { return k.w.Write(p) }

// Close implements raft.SnapshotSink: the snapshot is durable, and listed,
// when it returns nil. On an error the unfinished snapshot is removed.
func (k *snapshotSink) Close() error {
	if k.closed {
		return nil
	}
	k.closed = true
	if err := k.finish(); err != nil {
		if rerr := k.s.fs.RemoveAll(k.tmp); rerr != nil {
			k.s.log.Warn("cannot remove unfinished snapshot", "path", k.tmp, "err", rerr)
		}
		return fmt.Errorf("write snapshot %s: %w", k.meta.ID, err)
	}
	return k.s.reap()
}

func (k *snapshotSink) finish() error {
	if err := k.w.Flush(); err != nil {
		k.f.Close()
		return err
	}
	if err := k.f.Sync(); err != nil {
		k.f.Close()
		return err
	}
	st, err := k.f.Stat()
	if err != nil {
		k.f.Close()
		return err
	}
	if err := k.f.Close(); err != nil {
		return err
	}
	k.meta.Size = st.Size()
	k.meta.CRC = k.crc.Sum(nil)
	data, err := json.Marshal(&k.meta)
	if err != nil {
		return err
	}
	// WriteFileAtomic ends by syncing the snapshot's directory, which
	// makes state.bin's entry durable along with meta.json's.
	if err := vfs.WriteFileAtomic(k.s.fs, filepath.Join(k.tmp, snapshotMetaFile), append(data, '\n')); err != nil {
		return err
	}
	final := strings.TrimSuffix(k.tmp, vfs.TempSuffix)
	if err := k.s.fs.Rename(k.tmp, final); err != nil {
		return err
	}
	return k.s.fs.SyncDir(k.s.dir)
}

// Cancel implements raft.SnapshotSink: the unfinished snapshot is removed.
func (k *snapshotSink) Cancel() error {
	if k.closed {
		return nil
	}
	k.closed = true
	_ = k.f.Close() // the file is about to be removed
	if err := k.s.fs.RemoveAll(k.tmp); err != nil {
		return fmt.Errorf("cancel snapshot %s: %w", k.meta.ID, err)
	}
	return nil
}
