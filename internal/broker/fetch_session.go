package broker

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Fetch sessions (KIP-227), as Kafka's FetchManager runs them.
//
// A request's (session id, epoch) says what kind of fetch it is:
//
//	epoch 0            full fetch: close the named session (if id != 0) and
//	                   open a new one holding exactly the request's partitions
//	epoch -1           full fetch: close the named session (if id != 0), open
//	                   none (sessionless; also every request before v7)
//	epoch > 0 (other)  incremental fetch of session id at exactly that epoch
//
// An incremental fetch names only the partitions whose fetch parameters
// changed (they are added to the session or updated from the request; the
// fetch offset in the session always comes from a request, never from a
// response) and the partitions to forget. The broker reads every partition
// of the session, and answers only those with something new: records, an
// error, a diverging epoch, or a high watermark, last stable offset or log
// start offset other than the one last sent. An unknown id gets
// FETCH_SESSION_ID_NOT_FOUND; a known id at another epoch gets
// INVALID_FETCH_SESSION_EPOCH and leaves the session as it was; a session
// opened with topic names (v12-) used by a v13+ request, or the reverse,
// gets FETCH_SESSION_TOPIC_ID_ERROR. A session error answers no partitions
// and session id 0.
//
// A client resynchronises by sending a full fetch with its session id and
// epoch 0: that is how a client recovers when the broker processed a
// request whose response it never read (the broker's epoch moved on, the
// client's did not). Treating that request as an epoch error instead would
// answer every later request with the same error.
//
// The session is locked twice per request, never across the long poll:
// when the request is applied (epoch checked and bumped, partitions added,
// updated, forgotten, the list of partitions to read copied), and when the
// response is chosen (what was sent is recorded). If another request used
// the session in between, the epoch has moved and the second step answers
// INVALID_FETCH_SESSION_EPOCH, as Kafka does for a duplicate request.
// Partitions that returned records move to the end of the session's list,
// so a request max bytes that stops short favours the others next time.
//
// Lock order: fetchSession.mu, then fetchSessionCache.mu (a leaf: nothing
// is locked while it is held).

// sessionEvictionAge is min.incremental.fetch.session.eviction.ms: a full
// cache evicts its least recently used session only if idle this long.
const sessionEvictionAge = 120 * time.Second

const (
	sessionInitialEpoch = 0
	sessionFinalEpoch   = -1
)

// nextSessionEpoch is the epoch after e: 1 after the largest int32.
func nextSessionEpoch(e int32) int32 {
	switch {
	case e < 0:
		return sessionFinalEpoch
	case e == 1<<31-1:
		return 1
	}
	return e + 1
}

// fetchKey names a partition in a fetch: by topic id from Fetch v13, by
// name before.
type fetchKey struct {
	topicID   [16]byte
	topic     string
	partition int32
}

// fetchPartition is one partition of a fetch (request parameters plus, in a
// session, the values last sent to the client).
type fetchPartition struct {
	key                fetchKey
	fetchOffset        int64
	maxBytes           int32
	currentLeaderEpoch int32
	lastFetchedEpoch   int32

	sentHighWatermark  int64
	sentLastStable     int64
	sentLogStartOffset int64
	sentRecords        bool // set while a response is chosen: move to the end
}

type fetchSession struct {
	mu           sync.Mutex
	id           int32
	usesTopicIDs bool  // opened by a v13+ request: partitions keyed by topic id
	epoch        int32 // the epoch the next request must carry
	parts        []*fetchPartition
	index        map[fetchKey]*fetchPartition
	lastUsed     time.Time // guarded by fetchSessionCache.mu
}

// upsertLocked adds a partition or updates its request parameters.
func (s *fetchSession) upsertLocked(p fetchPartition) {
	if cur, ok := s.index[p.key]; ok {
		cur.fetchOffset, cur.maxBytes = p.fetchOffset, p.maxBytes
		cur.currentLeaderEpoch, cur.lastFetchedEpoch = p.currentLeaderEpoch, p.lastFetchedEpoch
		return
	}
	np := p
	np.sentHighWatermark, np.sentLastStable, np.sentLogStartOffset = -2, -2, -2
	s.parts = append(s.parts, &np)
	s.index[p.key] = &np
}

func (s *fetchSession) forgetLocked(k fetchKey) {
	if _, ok := s.index[k]; !ok {
		return
	}
	delete(s.index, k)
	for i, p := range s.parts {
		if p.key == k {
			s.parts = append(s.parts[:i], s.parts[i+1:]...)
			return
		}
	}
}

// snapshotLocked copies the session's partitions: what this request reads.
func (s *fetchSession) snapshotLocked() []fetchPartition {
	out := make([]fetchPartition, len(s.parts))
	for i, p := range s.parts {
		out[i] = *p
	}
	return out
}

// fetchSessionCache holds the broker's fetch sessions, at most max of them.
type fetchSessionCache struct {
	mu       sync.Mutex
	max      int
	sessions map[int32]*fetchSession
	now      func() time.Time
}

func newFetchSessionCache(max int, now func() time.Time) *fetchSessionCache {
	if now == nil {
		now = time.Now
	}
	return &fetchSessionCache{max: max, sessions: map[int32]*fetchSession{}, now: now}
}

// create makes a session, evicting an idle one if the cache is full. It
// returns nil when no slot is free (the client then fetches without one).
func (c *fetchSessionCache) create(usesTopicIDs bool) *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.sessions) >= c.max {
		var lru *fetchSession
		for _, s := range c.sessions {
			if lru == nil || s.lastUsed.Before(lru.lastUsed) {
				lru = s
			}
		}
		if lru == nil || now.Sub(lru.lastUsed) < sessionEvictionAge {
			return nil
		}
		delete(c.sessions, lru.id)
	}
	var id int32
	for id == 0 || c.sessions[id] != nil {
		id = rand.Int32() // session ids are positive, never 0
	}
	s := &fetchSession{id: id, usesTopicIDs: usesTopicIDs, epoch: nextSessionEpoch(sessionInitialEpoch),
		index: map[fetchKey]*fetchPartition{}, lastUsed: now}
	c.sessions[id] = s
	return s
}

// get returns a session and marks it used.
func (c *fetchSessionCache) get(id int32) *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[id]
	if s != nil {
		s.lastUsed = c.now()
	}
	return s
}

// remove drops a session if it is (still) the one cached under its id.
func (c *fetchSessionCache) remove(s *fetchSession) {
	c.mu.Lock()
	if c.sessions[s.id] == s {
		delete(c.sessions, s.id)
	}
	c.mu.Unlock()
}

func (c *fetchSessionCache) removeID(id int32) {
	c.mu.Lock()
	delete(c.sessions, id)
	c.mu.Unlock()
}

func (c *fetchSessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}

// fetchContext is one Fetch request's use of the session cache: the
// partitions to read and, once read, which of them to answer.
type fetchContext struct {
	// code is a session error: the response carries it and nothing else.
	code *kerr.Error
	// parts are the partitions to read, in order; copies, so reading them
	// needs no lock.
	parts []fetchPartition
	// session is the session the request opened or used (nil: sessionless).
	session *fetchSession
	// incremental: answer only changed partitions, if the session is still
	// at expectEpoch when the response is chosen.
	incremental bool
	expectEpoch int32
}

// newContext applies a Fetch request to the session cache. reqParts are
// the request's partitions and forgotten its forgotten partitions, keyed
// by topic id when usesTopicIDs (v13+), by name before.
func (c *fetchSessionCache) newContext(version int16, id, epoch int32, usesTopicIDs bool, reqParts []fetchPartition, forgotten []fetchKey) fetchContext {
	if version < 7 {
		return fetchContext{parts: reqParts}
	}
	if epoch == sessionInitialEpoch || epoch == sessionFinalEpoch {
		if id != 0 {
			c.removeID(id) // any session a full fetch names is closed
		}
		if epoch == sessionFinalEpoch {
			return fetchContext{parts: reqParts}
		}
		s := c.create(usesTopicIDs)
		if s == nil {
			return fetchContext{parts: reqParts} // cache full: sessionless
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range reqParts {
			s.upsertLocked(p)
		}
		return fetchContext{parts: s.snapshotLocked(), session: s}
	}

	s := c.get(id)
	if s == nil {
		return fetchContext{code: kerr.FetchSessionIDNotFound}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case epoch != s.epoch:
		return fetchContext{code: kerr.InvalidFetchSessionEpoch}
	case s.usesTopicIDs != usesTopicIDs:
		return fetchContext{code: kerr.FetchSessionTopicIDError}
	}
	for _, p := range reqParts {
		s.upsertLocked(p)
	}
	for _, k := range forgotten {
		s.forgetLocked(k)
	}
	if len(s.parts) == 0 {
		// Nothing left to fetch: Kafka closes the session and answers
		// sessionless.
		c.remove(s)
		return fetchContext{parts: reqParts}
	}
	s.epoch = nextSessionEpoch(s.epoch)
	return fetchContext{parts: s.snapshotLocked(), session: s, incremental: true, expectEpoch: s.epoch}
}

// fetchOutcome is what a fetch read for one partition, as the session
// compares it with what it last sent.
type fetchOutcome struct {
	hasRecords bool
	failed     bool // an error or a diverging epoch
	hw, lso    int64
	logStart   int64
}

// respond chooses the partitions of the response: keep[i] says whether
// parts[i] (with outcome out[i]) is answered. It records what is sent,
// and returns the response's session id, or a session error if another
// request used the session since newContext.
func (fc *fetchContext) respond(out []fetchOutcome, keep []bool) (sessionID int32, code *kerr.Error) {
	s := fc.session
	if s == nil {
		for i := range keep {
			keep[i] = true
		}
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fc.incremental && s.epoch != fc.expectEpoch {
		return s.id, kerr.InvalidFetchSessionEpoch
	}
	moved := 0
	for i := range fc.parts {
		keep[i] = true
		cp := s.index[fc.parts[i].key]
		if cp == nil {
			continue // closed and cleared meanwhile: nothing to record
		}
		o := &out[i]
		changed := o.hasRecords || o.failed ||
			cp.sentHighWatermark != o.hw || cp.sentLastStable != o.lso || cp.sentLogStartOffset != o.logStart
		cp.sentHighWatermark, cp.sentLastStable, cp.sentLogStartOffset = o.hw, o.lso, o.logStart
		if o.failed {
			// Like Kafka: forget the high watermark sent with an error so
			// the partition is answered again once the error clears.
			cp.sentHighWatermark = -1
		}
		if fc.incremental && !changed {
			keep[i] = false
		}
		if o.hasRecords && !cp.sentRecords {
			cp.sentRecords = true
			moved++
		}
	}
	if moved > 0 {
		// Partitions that returned records go to the end of the list, in
		// their order (a stable partition of the list).
		reordered := make([]*fetchPartition, 0, len(s.parts))
		for _, p := range s.parts {
			if !p.sentRecords {
				reordered = append(reordered, p)
			}
		}
		for _, p := range s.parts {
			if p.sentRecords {
				p.sentRecords = false
				reordered = append(reordered, p)
			}
		}
		s.parts = reordered
	}
	return s.id, nil
}
