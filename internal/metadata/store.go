package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Config configures a Store. The zero value of every optional field picks
// the default documented on it.
type Config struct {
	// NodeID is this node's id (Kafka's node.id); it is also the Raft
	// server id. Must be >= 0.
	NodeID int32
	// Dir holds the Raft log, snapshots and meta.properties. Use a
	// directory of its own (Kafka uses <log.dirs>/__cluster_metadata-0).
	Dir string
	// FS is the file system Dir is on. Nil means vfs.OS.
	FS vfs.FS
	// ClusterID is generated (a random base64 UUID, as kafka-storage
	// random-uuid) and persisted on first start if empty. A non-empty value
	// must match the persisted one.
	ClusterID string
	// Logger receives the store's logs and Raft's warnings and errors, as
	// given (tag it with With if wanted). Nil means slog.Default().
	Logger *slog.Logger

	// DefaultNumPartitions is num.partitions, used when CreateTopic asks for
	// -1 partitions. 0 means 1.
	DefaultNumPartitions int32
	// DefaultReplicationFactor is default.replication.factor, used when
	// CreateTopic asks for replication factor -1. 0 means 1.
	DefaultReplicationFactor int16
	// MaxPartitionsPerRequest bounds the partitions one CreateTopic or
	// CreatePartitions creates (samsa.max.partitions.per.request); 0 means
	// MaxPartitions.
	MaxPartitionsPerRequest int32
	// MaxBrokerPartitions bounds the partition replicas any one broker
	// holds after a CreateTopic or CreatePartitions (max.broker.partitions);
	// 0 means no bound.
	MaxBrokerPartitions int32

	// MaxReplicationFactor, if > 0, refuses topics with more replicas per
	// partition (INVALID_REPLICATION_FACTOR). A node whose partitions do
	// not replicate sets 1: a second replica would be an empty log that an
	// election could make leader.
	MaxReplicationFactor int

	// OpenTimeout bounds how long Open waits for this node to elect itself
	// and replay the log. 0 means 10 s.
	OpenTimeout time.Duration
	// Transport is the Raft transport. Nil means an in-memory transport:
	// enough for the single voter this store bootstraps. A quorum passes a
	// network transport.
	Transport raft.Transport
	// Stream, when Transport is nil, carries a network transport: Open
	// builds Raft's NetworkTransport over it (a quorum's nodes pass the
	// Raft side of their controller listener).
	Stream raft.StreamLayer
	// Voters is the controller quorum (controller.quorum.voters). Empty
	// means a cluster of one: this node bootstraps itself as the only
	// voter, and Open returns once it leads. Otherwise a voter bootstraps
	// the quorum of all Voters on first start, a node not among them
	// waits to be added as a non-voter (it receives the log but never
	// votes), and Open returns at once: the node follows the log as it
	// arrives, and becomes the active controller if elected.
	Voters []Voter
	// ElectionTimeout is how long a voter of a quorum waits without a
	// leader before it stands for election
	// (controller.quorum.election.timeout.ms). 0 means 1 s.
	ElectionTimeout time.Duration
	// SnapshotThreshold is how many log entries since the last snapshot
	// trigger a new one. 0 means 1024.
	SnapshotThreshold uint64
}

// Voter is a member of the controller quorum: its node id and the
// address of its controller listener (Raft's server address).
type Voter struct {
	ID   int32
	Addr string
}

// clustered reports whether the store is part of a quorum of several nodes
// (or of one declared voter) rather than a cluster of one.
func (c *Config) clustered() bool { return len(c.Voters) > 0 }

// isVoter reports whether this node is one of the configured voters.
func (c *Config) isVoter() bool {
	for _, v := range c.Voters {
		if v.ID == c.NodeID {
			return true
		}
	}
	return false
}

// Validate checks the config and returns the first problem found.
func (c *Config) Validate() error {
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("metadata: node.id %d must be >= 0", c.NodeID)
	case c.Dir == "":
		return errors.New("metadata: Dir is required")
	case c.DefaultNumPartitions < 0:
		return fmt.Errorf("metadata: num.partitions %d must be >= 1", c.DefaultNumPartitions)
	case c.DefaultReplicationFactor < 0:
		return fmt.Errorf("metadata: default.replication.factor %d must be >= 1", c.DefaultReplicationFactor)
	case c.OpenTimeout < 0:
		return fmt.Errorf("metadata: open timeout %s is negative", c.OpenTimeout)
	}
	if c.ClusterID != "" {
		if err := validateClusterID(c.ClusterID); err != nil {
			return err
		}
	}
	return nil
}

// Store is the cluster metadata: a Raft log of metadata records applied to
// an immutable Image. See the package documentation.
type Store struct {
	cfg    Config
	log    *slog.Logger
	raft   *raft.Raft
	wal    *walStore
	trans  raft.Transport
	fsm    *fsm
	image  atomic.Pointer[Image]
	nodeID raft.ServerID
	dirID  Uuid // the metadata directory's directory.id

	// active is set while this node is the active controller: it leads
	// the Raft group and has applied every entry of earlier terms (a
	// barrier), so the image it validates against is current.
	active      atomic.Bool
	activeTerm  atomic.Uint64 // the term active was set in
	leadersMu   sync.Mutex
	leaderFuncs []func(active bool)

	// pubMu serialises publishing images (the FSM and leader changes);
	// readers never take it.
	pubMu sync.Mutex

	// ctrlMu serialises controller operations so each validates against
	// the image its records will apply to.
	ctrlMu sync.Mutex

	watchMu  sync.Mutex
	watchers []func(prev, next *Image)
	events   []imageEvent // pending notifications, guarded by watchMu
	wake     chan struct{}

	observer  *raft.Observer
	obsCh     chan raft.Observation
	done      chan struct{}
	wg        sync.WaitGroup
	stopOnce  sync.Once
	stopped   raft.Future // Raft's shutdown, once begun
	closeOnce sync.Once
	closeErr  error
	lock      io.Closer // the metadata directory's lock, released last by Close
}

// imageEvent is a pending notification; watchers are the first nWatchers
// registered when it was published (later ones start after it).
type imageEvent struct {
	prev, next *Image
	nWatchers  int
}

// Open opens (or creates) the metadata store in cfg.Dir: it starts Raft,
// bootstraps a one-voter cluster on first start, waits until this node
// leads and has applied every committed record, and returns. On a restart
// the image is rebuilt from the latest snapshot and the log after it.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DefaultNumPartitions == 0 {
		cfg.DefaultNumPartitions = 1
	}
	if cfg.DefaultReplicationFactor == 0 {
		cfg.DefaultReplicationFactor = 1
	}
	if cfg.MaxPartitionsPerRequest <= 0 || cfg.MaxPartitionsPerRequest > MaxPartitions {
		cfg.MaxPartitionsPerRequest = MaxPartitions
	}
	if cfg.OpenTimeout == 0 {
		cfg.OpenTimeout = 10 * time.Second
	}
	if cfg.ElectionTimeout == 0 {
		cfg.ElectionTimeout = time.Second
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = 1024
	}
	if cfg.FS == nil {
		cfg.FS = vfs.OS
	}
	if err := cfg.FS.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	// The directory is one process's: a second node on it would append to
	// the same Raft log.
	dirLock, err := cfg.FS.Lock(cfg.Dir)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("metadata: lock %s: %w", cfg.Dir, err)
	}
	// Dir's own entry must be durable before anything in it is relied on.
	if err := cfg.FS.SyncDir(filepath.Dir(filepath.Clean(cfg.Dir))); err != nil {
		dirLock.Close()
		return nil, fmt.Errorf("metadata: sync parent of %s: %w", cfg.Dir, err)
	}
	clusterID, dirID, err := loadMetaProperties(cfg.FS, cfg.Dir, cfg.NodeID, cfg.ClusterID)
	if err != nil {
		dirLock.Close()
		return nil, err
	}
	cfg.ClusterID = clusterID

	s := &Store{
		cfg:    cfg,
		log:    cfg.Logger,
		nodeID: raft.ServerID(strconv.Itoa(int(cfg.NodeID))),
		dirID:  dirID,
		lock:   dirLock,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	s.image.Store(emptyImage(clusterID, -1))
	s.fsm = &fsm{s: s}

	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	if s.wal, err = openWALStore(cfg.FS, filepath.Join(cfg.Dir, "raft.wal")); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	hlog := newHCLogger(s.log)
	snaps, err := newSnapshotStore(cfg.FS, cfg.Dir, 2, s.log)
	if err != nil {
		return nil, fmt.Errorf("metadata: snapshot store: %w", err)
	}
	s.trans = cfg.Transport
	if s.trans == nil && cfg.Stream != nil {
		s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: cfg.Stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
		})
	}
	if s.trans == nil {
		_, s.trans = raft.NewInmemTransport(raft.ServerAddress("node-" + string(s.nodeID)))
	}

	rc := raft.DefaultConfig()
	rc.LocalID = s.nodeID
	rc.Logger = hlog
	// A single voter elects itself after one heartbeat timeout; keep it
	// short so Open is quick. A multi-voter quorum over a network wants the
	// library defaults (1 s) instead.
	rc.HeartbeatTimeout = 50 * time.Millisecond
	rc.ElectionTimeout = 50 * time.Millisecond
	rc.LeaderLeaseTimeout = 50 * time.Millisecond
	rc.CommitTimeout = 5 * time.Millisecond
	if cfg.clustered() {
		// A quorum over a network: a leader not heard from for the
		// election timeout is replaced; one that cannot reach a majority
		// for half of it steps down (hashicorp's leader lease), so an
		// isolated leader stops accepting changes (KAFKA-15489). Followers
		// learn of commits with the next AppendEntries, sent at least every
		// CommitTimeout: that bounds the metadata propagation delay.
		rc.HeartbeatTimeout = cfg.ElectionTimeout
		rc.ElectionTimeout = cfg.ElectionTimeout
		rc.LeaderLeaseTimeout = cfg.ElectionTimeout / 2
		rc.CommitTimeout = 25 * time.Millisecond
	}
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.SnapshotThreshold
	rc.SnapshotInterval = 30 * time.Second
	rc.NoSnapshotRestoreOnStart = false

	bootstraps := !cfg.clustered() || cfg.isVoter()
	if bootstraps {
		if err := s.finishBootstrap(snaps); err != nil {
			return nil, err
		}
	}
	existing, err := raft.HasExistingState(s.wal, s.wal, snaps)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if !existing && bootstraps {
		conf := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: s.nodeID, Address: s.trans.LocalAddr(),
		}}}
		if cfg.clustered() {
			// Every voter bootstraps the same configuration; Raft elects
			// a leader once a majority of them runs.
			conf.Servers = conf.Servers[:0]
			for _, v := range cfg.Voters {
				conf.Servers = append(conf.Servers, raft.Server{
					Suffrage: raft.Voter, ID: raft.ServerID(strconv.Itoa(int(v.ID))), Address: raft.ServerAddress(v.Addr),
				})
			}
		}
		if err := raft.BootstrapCluster(rc, s.wal, s.wal, snaps, s.trans, conf); err != nil {
			return nil, fmt.Errorf("metadata: bootstrap: %w", err)
		}
	}

	s.wg.Add(1)
	go s.notifyLoop()

	s.obsCh = make(chan raft.Observation, 16)
	if s.raft, err = raft.NewRaft(rc, s.fsm, s.wal, s.wal, snaps, s.trans); err != nil {
		return nil, fmt.Errorf("metadata: start raft: %w", err)
	}
	s.observer = raft.NewObserver(s.obsCh, false, func(o *raft.Observation) bool {
		_, isLeader := o.Data.(raft.LeaderObservation)
		return isLeader
	})
	s.raft.RegisterObserver(s.observer)
	s.wg.Add(1)
	go s.observeLoop()

	if !cfg.clustered() {
		if err := s.waitReady(); err != nil {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// finishBootstrap lets Open bootstrap again after a crash cut its
// bootstrap short. raft.BootstrapCluster stores the term before the
// configuration entry; in between, the store holds a term and no
// configuration, which raft.HasExistingState counts as existing state, so
// Raft would start without a configuration and wait for one forever.
// Open bootstraps every new store as a one-voter cluster, so a term with
// no log entry and no snapshot can only be such a leftover: it is reset to
// 0, which HasExistingState reads as no state.
func (s *Store) finishBootstrap(snaps raft.SnapshotStore) error {
	term, err := s.wal.GetUint64([]byte(raftCurrentTerm))
	if err != nil || term == 0 {
		return nil // no term (or an unreadable one, for HasExistingState to report)
	}
	last, _ := s.wal.LastIndex()
	if last > 0 {
		return nil
	}
	if list, err := snaps.List(); err != nil || len(list) > 0 {
		return nil
	}
	s.log.Warn("finishing a bootstrap cut short", "term", term)
	if err := s.wal.SetUint64([]byte(raftCurrentTerm), 0); err != nil {
		return fmt.Errorf("metadata: reset term of an unfinished bootstrap: %w", err)
	}
	return nil
}

// waitReady waits for leadership, then for every committed entry to be
// applied (a barrier), then publishes this node as controller.
func (s *Store) waitReady() error {
	deadline := time.NewTimer(s.cfg.OpenTimeout)
	defer deadline.Stop()
	for s.raft.State() != raft.Leader {
		select {
		case <-s.raft.LeaderCh():
		case <-s.wal.Failed():
			return fmt.Errorf("metadata: %w", s.wal.Err())
		case <-deadline.C:
			return fmt.Errorf("metadata: node %d did not become the controller within %s", s.cfg.NodeID, s.cfg.OpenTimeout)
		}
	}
	if err := s.raft.Barrier(s.cfg.OpenTimeout).Error(); err != nil {
		return fmt.Errorf("metadata: replay log: %w", err)
	}
	s.setController(s.cfg.NodeID)
	s.setActive(true, s.raft.CurrentTerm())
	return nil
}

// activate makes this node the active controller once every entry of
// earlier terms is applied, unless leadership was lost meanwhile.
func (s *Store) activate(term uint64) {
	defer s.wg.Done()
	for {
		if s.raft.State() != raft.Leader || s.raft.CurrentTerm() != term {
			return
		}
		err := s.raft.Barrier(s.cfg.ElectionTimeout * 5).Error()
		if err == nil {
			break
		}
		if errors.Is(err, raft.ErrRaftShutdown) || errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return
		}
		select {
		case <-s.done:
			return
		default:
		}
	}
	if s.raft.State() == raft.Leader && s.raft.CurrentTerm() == term {
		s.setActive(true, term)
	}
}

func (s *Store) setActive(active bool, term uint64) {
	s.leadersMu.Lock()
	defer s.leadersMu.Unlock()
	if s.active.Load() == active && (!active || s.activeTerm.Load() == term) {
		return
	}
	s.active.Store(active)
	s.activeTerm.Store(term)
	if active {
		s.log.Info("this node is the active controller", "term", term)
	}
	for _, fn := range s.leaderFuncs {
		fn(active)
	}
}

// Active reports whether this node is the active controller.
func (s *Store) Active() bool { return s.active.Load() }

// WatchLeadership registers fn to be called with true when this node
// becomes the active controller and false when it stops being it. Calls are
// serialised; fn must not block and must not call WatchLeadership.
func (s *Store) WatchLeadership(fn func(active bool)) {
	s.leadersMu.Lock()
	s.leaderFuncs = append(s.leaderFuncs, fn)
	active := s.active.Load()
	s.leadersMu.Unlock()
	if active {
		fn(true)
	}
}

// checkActive answers NOT_CONTROLLER unless this node is the active
// controller. Controller operations call it under ctrlMu before reading
// the image they validate against.
func (s *Store) checkActive() error {
	if !s.active.Load() {
		return newError(kerr.NotController, "node %d is not the active controller", s.cfg.NodeID)
	}
	return nil
}

// observeLoop keeps Image.ControllerID current as leadership changes, and
// stops Raft when the log fails.
func (s *Store) observeLoop() {
	defer s.wg.Done()
	walFailed := s.wal.Failed()
	for {
		select {
		case <-s.done:
			return
		case <-walFailed:
			// Raft cannot work on a log that takes no writes; this node
			// leaves the quorum until the store is reopened.
			s.log.Error("metadata log failed, stopping raft", "err", s.wal.Err())
			s.stopRaft()
			walFailed = nil
		case o := <-s.obsCh:
			lo, ok := o.Data.(raft.LeaderObservation)
			if !ok {
				continue
			}
			id := int32(-1)
			if n, err := strconv.ParseInt(string(lo.LeaderID), 10, 32); err == nil && lo.LeaderID != "" {
				id = int32(n)
			}
			s.setController(id)
			if id == s.cfg.NodeID && s.cfg.clustered() {
				s.wg.Add(1)
				go s.activate(s.raft.CurrentTerm())
			} else if id != s.cfg.NodeID {
				s.setActive(false, 0)
			}
		}
	}
}

func (s *Store) setController(id int32) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	prev := s.image.Load()
	if prev.ControllerID == id {
		return
	}
	next := *prev
	next.ControllerID = id
	s.publishLocked(prev, &next)
}

// publishLocked installs next and queues the watch notification. Callers
// hold pubMu, so notifications are queued in publication order.
func (s *Store) publishLocked(prev, next *Image) {
	s.image.Store(next)
	s.watchMu.Lock()
	if len(s.watchers) > 0 {
		s.events = append(s.events, imageEvent{prev, next, len(s.watchers)})
	}
	s.watchMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Image returns the current image. It never blocks; the image must not be
// modified.
func (s *Store) Image() *Image { return s.image.Load() }

// RaftStatus is this node's view of the metadata Raft group, for metrics.
type RaftStatus struct {
	State        string // Follower, Candidate, Leader or Shutdown
	Term         uint64 // the current term
	LastLogIndex uint64 // the last index in the log (or the latest snapshot)
	CommitIndex  uint64 // the highest index known to be committed
	AppliedIndex uint64 // the last index handed to the state machine
	ImageEpoch   int64  // Image().Epoch: the raft index of the last batch applied to the image
	ControllerID int32  // the active controller (raft leader) in the image, -1 if none
}

// RaftStatus returns the Raft state. It takes no lock Raft's main loop
// holds, so a scrape never waits behind a slow disk.
func (s *Store) RaftStatus() RaftStatus {
	im := s.Image()
	st := RaftStatus{ImageEpoch: im.Epoch, ControllerID: im.ControllerID, State: raft.Shutdown.String()}
	if s.raft != nil {
		st.State = s.raft.State().String()
		st.Term = s.raft.CurrentTerm()
		st.LastLogIndex = s.raft.LastIndex()
		st.CommitIndex = s.raft.CommitIndex()
		st.AppliedIndex = s.raft.AppliedIndex()
	}
	return st
}

// ClusterID returns the cluster id.
func (s *Store) ClusterID() string { return s.cfg.ClusterID }

// DirectoryID is the id of this node's metadata directory
// (meta.properties directory.id): the same on every start of the node.
func (s *Store) DirectoryID() Uuid { return s.dirID }

// NodeID returns this node's id.
func (s *Store) NodeID() int32 { return s.cfg.NodeID }

// Watch registers fn to be called after each change of the image with the
// image before and after it. Calls happen in publication order, one at a
// time, from a single goroutine owned by the store, and start with the
// first change published after Watch returns. fn must not block for long
// (it delays every later notification) and must not call Watch. Store
// operations return once the image is updated; the matching fn call may
// come a moment later.
func (s *Store) Watch(fn func(prev, next *Image)) {
	s.watchMu.Lock()
	s.watchers = append(s.watchers, fn)
	s.watchMu.Unlock()
}

func (s *Store) notifyLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.watchMu.Lock()
			events := s.events
			s.events = nil
			watchers := s.watchers
			s.watchMu.Unlock()
			if len(events) == 0 {
				break
			}
			for _, ev := range events {
				for _, fn := range watchers[:ev.nWatchers] {
					fn(ev.prev, ev.next)
				}
			}
		}
	}
}

// Close stops Raft and releases the files. Pending watch notifications are
// dropped. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.raft != nil {
			if err := s.stopRaft().Error(); err != nil {
				errs = append(errs, fmt.Errorf("metadata: shutdown raft: %w", err))
			}
			if s.observer != nil {
				s.raft.DeregisterObserver(s.observer)
			}
		}
		if c, ok := s.trans.(io.Closer); ok && s.cfg.Transport == nil {
			_ = c.Close()
		}
		close(s.done)
		s.wg.Wait()
		if s.wal != nil {
			if err := s.wal.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.lock != nil {
			if err := s.lock.Close(); err != nil {
				errs = append(errs, fmt.Errorf("metadata: unlock: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// stopRaft begins Raft's shutdown, once, and returns its future.
func (s *Store) stopRaft() raft.Future {
	s.stopOnce.Do(func() { s.stopped = s.raft.Shutdown() })
	return s.stopped
}

// propose replicates records as one batch and waits until it is applied.
// Errors: *Error NOT_CONTROLLER when this node does not lead, the FSM's
// rejection (an *Error) when the batch does not fit the image, ctx's error
// when ctx ends first (the batch may still be applied later).
func (s *Store) propose(ctx context.Context, records []Record) (*Image, error) {
	if err := s.checkActive(); err != nil {
		return nil, err
	}
	data := EncodeRecords(records...)
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
		if timeout <= 0 {
			return nil, ctx.Err()
		}
	}
	f := s.raft.Apply(data, timeout)
	done := make(chan struct{})
	go func() {
		_ = f.Error()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrRaftShutdown) {
			return nil, newError(kerr.NotController, "node %d is not the active controller: %v", s.cfg.NodeID, err)
		}
		if errors.Is(err, raft.ErrLeadershipLost) {
			// The entry may still commit under the next leader (hashicorp
			// raft #561): the caller cannot know, so this is not the
			// clean NOT_CONTROLLER a retry may follow blindly.
			return nil, newError(kerr.NotController, "node %d lost the controller's leadership while the change was in flight; it may or may not have been applied: %v", s.cfg.NodeID, err)
		}
		return nil, fmt.Errorf("metadata: propose: %w", err)
	}
	switch resp := f.Response().(type) {
	case error:
		return nil, resp
	case *Image:
		return resp, nil
	}
	return s.Image(), nil
}

// fsm is the raft.FSM: it decodes each committed batch and publishes the
// next image. Raft calls Apply, Snapshot and Restore from one goroutine.
type fsm struct{ s *Store }

// Apply implements raft.FSM. The response is the new *Image or the error
// that rejected the batch.
func (f *fsm) Apply(l *raft.Log) any {
	s := f.s
	records, err := DecodeRecords(l.Data)
	if err != nil {
		// Every node skips the same undecodable entry; it can only come
		// from a newer or broken writer.
		s.log.Error("skipping undecodable metadata entry", "index", l.Index, "err", err)
		return err
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	prev := s.image.Load()
	next, err := applyRecordsAt(prev, records, int64(l.Index))
	if err != nil {
		s.log.Warn("metadata batch rejected", "index", l.Index, "err", err)
		return err
	}
	next.Epoch = int64(l.Index)
	s.publishLocked(prev, next)
	return next
}

// Snapshot implements raft.FSM: the current image, written lazily.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{image: f.s.image.Load()}, nil
}

// Restore implements raft.FSM: replaces the image with the snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("metadata: read snapshot: %w", err)
	}
	s := f.s
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	prev := s.image.Load()
	next, err := decodeSnapshot(data, prev.ClusterID, prev.ControllerID)
	if err != nil {
		return err
	}
	s.publishLocked(prev, next)
	return nil
}

type fsmSnapshot struct{ image *Image }

func (fs *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(encodeSnapshot(fs.image)); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("metadata: write snapshot: %w", err)
	}
	return sink.Close()
}

func (fs *fsmSnapshot) Release() {}

// Quorum is this node's view of the controller quorum.
type Quorum struct {
	Active      bool   // this node is the active controller
	LeaderID    int32  // the Raft leader, -1 if unknown
	Term        uint64 // the current Raft term (the leader epoch)
	CommitIndex uint64
	LastIndex   uint64
	Voters      []int32 // node ids with a vote, ascending
	Observers   []int32 // registered brokers without a vote, ascending
	Now         int64   // when this was taken, in Unix milliseconds
}

// Quorum describes the quorum: its configuration comes from Raft, the
// observers are the registered brokers that are not voters.
func (s *Store) Quorum() Quorum {
	q := Quorum{Active: s.active.Load(), LeaderID: s.Image().ControllerID, Now: time.Now().UnixMilli()}
	if s.raft == nil {
		return q
	}
	q.Term, q.CommitIndex, q.LastIndex = s.raft.CurrentTerm(), s.raft.CommitIndex(), s.raft.LastIndex()
	voters := map[int32]bool{}
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			id, err := strconv.ParseInt(string(srv.ID), 10, 32)
			if err != nil || srv.Suffrage != raft.Voter {
				continue
			}
			voters[int32(id)] = true
			q.Voters = append(q.Voters, int32(id))
		}
	}
	slices.Sort(q.Voters)
	for _, id := range s.Image().BrokerIDs() {
		if !voters[id] {
			q.Observers = append(q.Observers, id)
		}
	}
	return q
}

// IsVoter reports whether the node is a voter of the metadata quorum. On
// a cluster of one, only this node is.
func (s *Store) IsVoter(id int32) bool {
	if !s.cfg.clustered() {
		return id == s.cfg.NodeID
	}
	for _, v := range s.cfg.Voters {
		if v.ID == id {
			return true
		}
	}
	return false
}

// AddNonvoter adds a node that is not a voter to the Raft configuration so
// that the leader sends it the log (a broker-only node). Adding a node
// already present with the same address changes nothing. Errors:
// NOT_CONTROLLER.
func (s *Store) AddNonvoter(ctx context.Context, id int32, addr string) error {
	if err := s.checkActive(); err != nil {
		return err
	}
	sid := raft.ServerID(strconv.Itoa(int(id)))
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			if srv.ID == sid && string(srv.Address) == addr {
				return nil
			}
			if srv.ID == sid && srv.Suffrage == raft.Voter {
				return newError(kerr.InvalidRequest, "node %d is a voter", id)
			}
		}
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if err := s.raft.AddNonvoter(sid, raft.ServerAddress(addr), 0, timeout).Error(); err != nil {
		return newError(kerr.NotController, "add node %d to the metadata log's replicas: %v", id, err)
	}
	return nil
}

// AppliedIndex is the last metadata log index this node has applied.
func (s *Store) AppliedIndex() uint64 {
	if s.raft == nil {
		return 0
	}
	return s.raft.AppliedIndex()
}

// WaitApplied waits until this node has applied the metadata log up to
// index, or ctx ends.
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	if s.AppliedIndex() >= index {
		return nil
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return errors.New("metadata: store closed")
		case <-t.C:
		}
	}
	return nil
}

// TransferLeadership hands the quorum's leadership to another voter when
// this node is the active controller of a quorum, so that a node shutting
// down does not leave the quorum to wait out an election timeout. It
// waits at most one election timeout; failing, it leaves the election to
// the timeout.
func (s *Store) TransferLeadership() {
	if !s.cfg.clustered() || s.raft == nil || s.raft.State() != raft.Leader || len(s.cfg.Voters) < 2 {
		return
	}
	f := s.raft.LeadershipTransfer()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			s.log.Warn("handing over the controller's leadership failed; the quorum elects after its timeout", "err", err)
			return
		}
		s.log.Info("handed the controller's leadership to another voter")
	case <-time.After(s.cfg.ElectionTimeout):
		s.log.Warn("handing over the controller's leadership did not finish in time")
	}
}
