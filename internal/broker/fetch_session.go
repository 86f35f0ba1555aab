package broker

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Fetch sessions (KIP-227). A client that opens a session (id 0, epoch 0)
// gets a session id; later requests (epoch 1, 2, ...) list only the
// partitions whose fetch parameters changed and the ones to forget, and the
// response lists only partitions with something new: records, an error, or
// a changed high watermark, last stable offset or log start offset.
//
// Lock order: fetchSessionCache.mu, then fetchSession.mu. A session is held
// (its mu) by the one request using it for the whole request.

// sessionEvictionAge is min.incremental.fetch.session.eviction.ms: a full
// cache evicts its least recently used session only if idle this long.
const sessionEvictionAge = 120 * time.Second

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
}

type fetchSession struct {
	mu       sync.Mutex
	id       int32
	epoch    int32 // the epoch the next request must carry
	parts    []*fetchPartition
	index    map[fetchKey]*fetchPartition
	lastUsed time.Time // guarded by fetchSessionCache.mu
}

// upsert adds a partition or updates its request parameters.
func (s *fetchSession) upsert(p fetchPartition) {
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

func (s *fetchSession) forget(k fetchKey) {
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
func (c *fetchSessionCache) create() *fetchSession {
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
	s := &fetchSession{id: id, epoch: 1, index: map[fetchKey]*fetchPartition{}, lastUsed: now}
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

func (c *fetchSessionCache) remove(id int32) {
	c.mu.Lock()
	delete(c.sessions, id)
	c.mu.Unlock()
}

func (c *fetchSessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}
