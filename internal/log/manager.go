package log

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// ManagerOptions configure a Manager. Zero values take the defaults noted.
type ManagerOptions struct {
	// FS is the file system; default vfs.OS.
	FS vfs.FS
	// Dir is the log directory (a log.dirs entry). Required.
	Dir string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RetentionCheckInterval (log.retention.check.interval.ms): how often
	// retention runs; default 5 minutes.
	RetentionCheckInterval time.Duration
	// MaxOpenFiles bounds the open .log handles of unreferenced segments;
	// default half the process's open-file limit, between 1024 and 65536.
	MaxOpenFiles int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Config is used for logs found on disk until Create or SetConfig gives
	// them theirs; the zero value means DefaultConfig().
	Config Config
	// FlushCheckInterval: how often flush.ms is checked for
	// DurabilityPageCache logs; default 1 second.
	FlushCheckInterval time.Duration
	// CheckpointInterval (log.flush.offset.checkpoint.interval.ms): how often
	// the recovery-point and log-start-offset checkpoints are written;
	// default 1 minute.
	CheckpointInterval time.Duration
	// HighWatermarkCheckpointInterval
	// (replica.high.watermark.checkpoint.interval.ms): how often
	// replication-offset-checkpoint is written, when a high watermark
	// changed; default 5 seconds.
	HighWatermarkCheckpointInterval time.Duration
	// SyncParallelism: how many files the group committer fsyncs at once;
	// default 8.
	SyncParallelism int
	// CommitObserver, optional, receives the group committer's rounds and
	// fsyncs (for metrics).
	CommitObserver CommitObserver
	// ManualCommit runs the group committer without its goroutine: a
	// round (the fsyncs of what was appended since the last one, then the
	// durable offsets) runs only when CommitRound is called, and at Close.
	// For deterministic tests and simulations, which choose when the disk
	// catches up with the appends (and so what a crash takes back).
	ManualCommit bool
}

// Manager owns one log directory: it opens (and recovers) every partition
// in it, writes the per-directory checkpoints and the clean-shutdown
// marker, runs retention and flush.ms in the background and shares one
// group committer and one file-handle cache across its logs.
type Manager struct {
	fsys      vfs.FS
	dir       string
	now       func() time.Time
	logger    *slog.Logger
	opts      ManagerOptions
	files     *fileCache
	committer *committer
	lock      io.Closer // the directory's lock, held from open to the end of Close

	mu     sync.Mutex // guards logs and closed
	logs   map[TopicPartition]*Log
	closed bool

	ckptMu sync.Mutex // serialises checkpoint writes
	hwLogs int        // logs in the last replication-offset-checkpoint written (ckptMu)

	stop chan struct{}
	wg   sync.WaitGroup
}

func (m *Manager) nowMs() int64 { return m.now().UnixMilli() }

// OpenManager opens the log directory, recovering partitions after an
// unclean shutdown, and starts the background work.
func OpenManager(opts ManagerOptions) (*Manager, error) {
	if opts.Dir == "" {
		return nil, errors.New("log manager: Dir is required")
	}
	if opts.FS == nil {
		opts.FS = vfs.OS
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetentionCheckInterval <= 0 {
		opts.RetentionCheckInterval = 5 * time.Minute
	}
	if opts.MaxOpenFiles <= 0 {
		opts.MaxOpenFiles = defaultMaxOpenFiles()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Config == (Config{}) {
		opts.Config = DefaultConfig()
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.FlushCheckInterval <= 0 {
		opts.FlushCheckInterval = time.Second
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Minute
	}
	if opts.HighWatermarkCheckpointInterval <= 0 {
		opts.HighWatermarkCheckpointInterval = 5 * time.Second
	}
	if opts.SyncParallelism <= 0 {
		opts.SyncParallelism = 8
	}
	m := &Manager{
		fsys: opts.FS, dir: opts.Dir, now: opts.Now, logger: opts.Logger, opts: opts,
		files: newFileCache(opts.FS, opts.MaxOpenFiles),
		logs:  make(map[TopicPartition]*Log),
		stop:  make(chan struct{}),
	}
	if err := m.fsys.MkdirAll(m.dir, 0o755); err != nil {
		return nil, storageErr("create log dir", err)
	}
	// Nothing is read or written in the directory before its lock is held:
	// a second process on the same directory would overwrite acknowledged
	// records and mark a live directory clean.
	lock, err := m.fsys.Lock(m.dir)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, err
		}
		return nil, storageErr("lock log dir", err)
	}
	m.lock = lock
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	// The log directory's own entry must be durable before any partition
	// in it acknowledges data.
	if err := m.fsys.SyncDir(filepath.Dir(filepath.Clean(m.dir))); err != nil {
		return nil, storageErr("sync parent of log dir", err)
	}
	if err := m.load(); err != nil {
		return nil, err
	}
	if opts.ManualCommit {
		m.committer = makeCommitter(m.files, opts.SyncParallelism, opts.CommitObserver)
		m.committer.manual = true
	} else {
		m.committer = newCommitter(m.files, opts.SyncParallelism, opts.CommitObserver)
	}
	m.wg.Add(1)
	go m.background()
	ok = true
	return m, nil
}

func (m *Manager) load() error {
	markerPath := filepath.Join(m.dir, CleanShutdownFile)
	_, err := m.fsys.Stat(markerPath)
	clean := err == nil
	rps := m.readCheckpoint(RecoveryPointCheckpointFile)
	lsos := m.readCheckpoint(LogStartOffsetCheckpointFile)
	hws := m.readCheckpoint(ReplicationOffsetCheckpointFile)
	entries, err := m.fsys.ReadDir(m.dir)
	if err != nil {
		return storageErr("list log dir", err)
	}
	type job struct {
		tp  TopicPartition
		dir string
	}
	var jobs []job
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if strings.HasSuffix(name, "-delete") {
			// A partition deletion interrupted by a crash.
			if err := m.fsys.RemoveAll(filepath.Join(m.dir, name)); err != nil {
				return storageErr("remove "+name, err)
			}
			continue
		}
		tp, ok := ParseTopicPartition(name)
		if !ok {
			continue
		}
		jobs = append(jobs, job{tp, filepath.Join(m.dir, name)})
	}
	// Open partitions in parallel: with a clean shutdown each costs a few
	// small reads; recovery is sequential I/O plus CRC32C per partition.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan job)
	)
	for w := 0; w < max(2, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				st := loadState{clean: clean}
				st.recoveryPoint = rps[j.tp]
				st.logStartOffset = lsos[j.tp]
				st.highWatermark = hws[j.tp]
				l, err := m.loadLog(j.tp, j.dir, m.opts.Config, st)
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("open %s: %w", j.tp, err)
				}
				if err == nil {
					m.logs[j.tp] = l
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	if first != nil {
		for _, l := range m.logs {
			for _, s := range l.segments() {
				m.files.forget(s)
			}
		}
		return first
	}
	if !clean {
		// Recovery made everything up to each log end offset durable.
		if err := m.writeCheckpoints(); err != nil {
			return err
		}
	}
	if clean {
		// From here on the directory is in use: a crash must trigger recovery.
		if err := m.fsys.Remove(markerPath); err != nil {
			return storageErr("remove clean shutdown marker", err)
		}
		if err := m.fsys.SyncDir(m.dir); err != nil {
			return storageErr("sync log dir", err)
		}
	}
	return nil
}

// readCheckpoint reads a per-directory checkpoint; a missing or corrupt
// file gives an empty map (so recovery covers every log).
func (m *Manager) readCheckpoint(name string) map[TopicPartition]int64 {
	data, err := readFile(m.fsys, filepath.Join(m.dir, name))
	if err != nil {
		if !isNotExist(err) {
			m.logger.Warn("read checkpoint", "file", name, "err", err)
		}
		return map[TopicPartition]int64{}
	}
	out, err := ParseOffsetCheckpoint(data)
	if err != nil {
		m.logger.Warn("corrupt checkpoint; recovering all logs", "file", name, "err", err)
		return map[TopicPartition]int64{}
	}
	return out
}

// writeCheckpoints writes recovery-point-offset-checkpoint,
// log-start-offset-checkpoint and replication-offset-checkpoint for every
// open log, atomically. A truncation calls it under its log's appender
// lock (Log.mu → Manager.ckptMu → Manager.mu); it takes no log's lock.
func (m *Manager) writeCheckpoints() error {
	m.ckptMu.Lock()
	defer m.ckptMu.Unlock()
	logs := m.Logs()
	rps := make(map[TopicPartition]int64, len(logs))
	lsos := make(map[TopicPartition]int64, len(logs))
	for _, l := range logs {
		rps[l.tp] = l.recoveryPoint.Load()
		lsos[l.tp] = l.lso.Load()
	}
	if err := writeFileAtomic(m.fsys, filepath.Join(m.dir, RecoveryPointCheckpointFile), FormatOffsetCheckpoint(rps)); err != nil {
		return err
	}
	for _, l := range logs {
		l.ckptRecoveryPoint.Store(rps[l.tp])
	}
	if err := writeFileAtomic(m.fsys, filepath.Join(m.dir, LogStartOffsetCheckpointFile), FormatOffsetCheckpoint(lsos)); err != nil {
		return err
	}
	for _, l := range logs {
		l.ckptLogStartOffset.Store(lsos[l.tp])
	}
	return m.writeHighWatermarksLocked(logs, true)
}

// WriteCheckpoints writes the per-directory checkpoint files now.
func (m *Manager) WriteCheckpoints() error { return m.writeCheckpoints() }

// WriteHighWatermarks writes replication-offset-checkpoint now if a log's
// high watermark changed since it was last written (the background loop
// does every HighWatermarkCheckpointInterval).
func (m *Manager) WriteHighWatermarks() error {
	m.ckptMu.Lock()
	defer m.ckptMu.Unlock()
	return m.writeHighWatermarksLocked(m.Logs(), false)
}

// writeHighWatermarksLocked writes replication-offset-checkpoint for logs,
// unless (without always) every high watermark is what the file holds.
func (m *Manager) writeHighWatermarksLocked(logs []*Log, always bool) error {
	hws := make(map[TopicPartition]int64, len(logs))
	changed := always || len(logs) != m.hwLogs
	for _, l := range logs {
		hw := l.HighWatermark()
		hws[l.tp] = hw
		changed = changed || hw != l.ckptHighWatermark.Load()
	}
	if !changed {
		return nil
	}
	if err := writeFileAtomic(m.fsys, filepath.Join(m.dir, ReplicationOffsetCheckpointFile), FormatOffsetCheckpoint(hws)); err != nil {
		return err
	}
	for _, l := range logs {
		l.ckptHighWatermark.Store(hws[l.tp])
	}
	m.hwLogs = len(logs)
	return nil
}

func (m *Manager) newLog(tp TopicPartition, dir string, cfg Config) *Log {
	l := &Log{m: m, tp: tp, dir: dir}
	l.cfg.Store(&cfg)
	var zero [16]byte
	l.topicID.Store(&zero)
	l.epochs = epochCache{fsys: m.fsys, path: filepath.Join(dir, LeaderEpochCheckpointFile)}
	return l
}

// Create opens the partition's log, creating it if needed. It is
// idempotent: for an existing log it applies cfg and returns it. A topic ID
// different from the stored one gives ErrInconsistentTopicID.
func (m *Manager) Create(tp TopicPartition, topicID [16]byte, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if tp.Topic == "" || strings.ContainsAny(tp.Topic, "/\\ \n") || tp.Topic == "." || tp.Topic == ".." || tp.Partition < 0 {
		return nil, fmt.Errorf("log: invalid partition %q", tp.String())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	var zero [16]byte
	if l, ok := m.logs[tp]; ok {
		cur := l.TopicID()
		if cur != zero && topicID != zero && cur != topicID {
			return nil, fmt.Errorf("%w: %s has %s, asked for %s", ErrInconsistentTopicID, tp, FormatTopicID(cur), FormatTopicID(topicID))
		}
		if cur == zero && topicID != zero {
			if err := writeFileAtomic(m.fsys, filepath.Join(l.dir, PartitionMetadataFile), FormatPartitionMetadata(topicID)); err != nil {
				return nil, err
			}
			l.topicID.Store(&topicID)
		}
		l.cfg.Store(&cfg)
		return l, nil
	}
	// No fsync here: the log's first data fsync makes the directory and
	// partition.metadata durable first (Log.syncDirs). A power cut before
	// then loses an empty partition, which the metadata image re-creates;
	// a torn partition.metadata does not parse and is written again.
	dir := filepath.Join(m.dir, tp.String())
	if err := m.fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, storageErr("create partition dir", err)
	}
	if topicID != zero {
		if err := writeFileUnsynced(m.fsys, filepath.Join(dir, PartitionMetadataFile), FormatPartitionMetadata(topicID)); err != nil {
			return nil, err
		}
	}
	l, err := m.loadLog(tp, dir, cfg, loadState{clean: true, created: true})
	if err != nil {
		return nil, err
	}
	m.logs[tp] = l
	return l, nil
}

// Get returns an open log.
func (m *Manager) Get(tp TopicPartition) (*Log, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.logs[tp]
	return l, ok
}

// Logs returns every open log, sorted by topic and partition.
func (m *Manager) Logs() []*Log {
	m.mu.Lock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].tp.less(out[j].tp) })
	return out
}

// Delete closes the partition's log and removes its directory: first
// renamed to "<dir>.<random>-delete" (removed at the next open if a crash
// interrupts the removal), then removed.
func (m *Manager) Delete(tp TopicPartition) error {
	m.mu.Lock()
	l, ok := m.logs[tp]
	if ok {
		delete(m.logs, tp)
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}
	l.mu.Lock()
	l.closed = true
	l.isClosed.Store(true)
	l.mu.Unlock()
	l.bg.Wait()
	for _, s := range l.segments() {
		m.files.forget(s)
	}
	l.closeDone.Store(true)
	l.wakeReaders()
	l.durableChanged()
	var rnd [8]byte
	if _, err := io.ReadFull(rand.Reader, rnd[:]); err != nil {
		return fmt.Errorf("delete %s: %w", tp, err)
	}
	gone := l.dir + "." + hex.EncodeToString(rnd[:]) + "-delete"
	if err := m.fsys.Rename(l.dir, gone); err != nil {
		return storageErr("rename partition dir for deletion", err)
	}
	if err := m.fsys.SyncDir(m.dir); err != nil {
		return storageErr("sync log dir", err)
	}
	if err := m.fsys.RemoveAll(gone); err != nil {
		return storageErr("remove partition dir", err)
	}
	return m.writeCheckpoints()
}

// Close flushes every log, writes the checkpoints and the clean-shutdown
// marker. Appends after Close fail with ErrClosed.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()
	var errs []error
	allOK := true
	for _, l := range m.Logs() {
		if err := l.close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", l.tp, err))
			allOK = false
		}
		// A log that failed earlier (a failed write or fsync) was not
		// flushed by close: the directory must be recovered at the next
		// open, as Kafka writes no clean marker for a failed log dir.
		if err := l.Failed(); err != nil {
			allOK = false
		}
	}
	m.committer.close()
	if err := m.writeCheckpoints(); err != nil {
		errs = append(errs, err)
		allOK = false
	}
	if allOK {
		marker := []byte(`{"version":0,"brokerEpoch":-1}`)
		if err := writeFileAtomic(m.fsys, filepath.Join(m.dir, CleanShutdownFile), marker); err != nil {
			errs = append(errs, err)
		}
	}
	// The lock goes last: the marker is written while this process owns
	// the directory.
	if err := m.lock.Close(); err != nil {
		errs = append(errs, storageErr("unlock log dir", err))
	}
	return errors.Join(errs...)
}

// background runs retention, flush.ms and the periodic checkpoints.
func (m *Manager) background() {
	defer m.wg.Done()
	retention := time.NewTicker(m.opts.RetentionCheckInterval)
	flush := time.NewTicker(m.opts.FlushCheckInterval)
	ckpt := time.NewTicker(m.opts.CheckpointInterval)
	hwCkpt := time.NewTicker(m.opts.HighWatermarkCheckpointInterval)
	defer hwCkpt.Stop()
	defer retention.Stop()
	defer flush.Stop()
	defer ckpt.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-retention.C:
			m.RunRetention()
		case <-flush.C:
			now := m.nowMs()
			for _, l := range m.Logs() {
				if err := l.flushIfDue(now); err != nil {
					m.logger.Error("flush", "partition", l.tp.String(), "err", err)
				}
			}
		case <-ckpt.C:
			if err := m.writeCheckpoints(); err != nil {
				m.logger.Error("write checkpoints", "err", err)
			}
		case <-hwCkpt.C:
			if err := m.WriteHighWatermarks(); err != nil {
				m.logger.Error("write replication-offset-checkpoint", "err", err)
			}
		}
	}
}

// RunRetention applies retention to every log now (the background loop
// calls it every RetentionCheckInterval). It returns the segments deleted.
func (m *Manager) RunRetention() int {
	now := m.nowMs()
	n := 0
	for _, l := range m.Logs() {
		d, err := l.applyRetention(now)
		if err != nil {
			m.logger.Error("retention", "partition", l.tp.String(), "err", err)
		}
		n += d
	}
	return n
}

// OpenFiles reports the open .log handles (for tests and metrics).
func (m *Manager) OpenFiles() int { return m.files.openHandles() }

// CommitRound runs the group committer's pending round now, on the
// caller's goroutine, and reports how many logs it covered (0 when nothing
// was appended since the last round). It is meant for ManualCommit; with
// the committer's goroutine running it only takes a round from it.
func (m *Manager) CommitRound() int {
	r := m.committer.take()
	if r == nil {
		return 0
	}
	m.committer.run(r)
	return len(r.ends)
}

// SyncRounds reports how many group-commit rounds have run.
func (m *Manager) SyncRounds() int64 {
	m.committer.mu.Lock()
	defer m.committer.mu.Unlock()
	return m.committer.rounds
}
