package replica

// The transaction coordinator's marker channel, after Kafka's
// TransactionMarkerChannelManager: the markers of a transaction go to the
// leader of each of its partitions as the metadata image names it. A
// partition this node leads gets its marker in process; the others are
// queued per destination broker, and each broker's queue is sent as one
// WriteTxnMarkers request (version 1) carrying the markers of every
// transaction waiting for that broker, one request in flight per broker,
// so concurrent commits share round trips. Answers are matched back to
// each transaction by producer id, as Kafka matches them (a request
// carries at most one marker per producer id; a second waits for the
// next request).
//
// Each partition's answer decides, as in Kafka's
// TransactionMarkerRequestCompletionHandler:
//
//   - none: written. UNSUPPORTED_FOR_MESSAGE_FORMAT or UNSUPPORTED_VERSION
//     counts as written too (the partition cannot hold a marker, so the
//     producer could not have written a transaction there).
//   - NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS
//     (_AFTER_APPEND), REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR,
//     COORDINATOR_NOT_AVAILABLE, a failed connection, a partition without
//     a leader or whose leader is not a usable broker: tried again, routed
//     by the image then current, as soon as a newer image is applied (the
//     leader moved) or after a backoff (the destination may not have
//     applied the image that made it leader yet).
//   - INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED: this
//     coordinator has been superseded; not retried here.
//   - a partition the image no longer has (its topic deleted): dropped,
//     counted as written, as Kafka drops the markers of deleted partitions.
//
// A call of WriteMarkers keeps retrying for at most markerRetryWindow (or
// its context), and stops early when the transaction's coordinator epoch
// is no longer the coordinator's (the __transaction_state partition moved);
// what is still unwritten then is returned as failed, and the coordinator
// keeps the transaction prepared and tries again at its next Tick or
// request for the id, exactly as for in-process markers.

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
)

const (
	// markerRetryWindow bounds how long one WriteMarkers call retries
	// (the coordinator holds the transaction's lock meanwhile).
	markerRetryWindow = 5 * time.Second
	// markerBackoff is the first wait before retrying a marker whose
	// image did not change, doubling up to markerMaxBackoff.
	markerBackoff    = 50 * time.Millisecond
	markerMaxBackoff = time.Second
	// markerRequestTimeout bounds one WriteTxnMarkers request (Kafka's
	// request.timeout.ms).
	markerRequestTimeout = 30 * time.Second
)

// markerSender sends one WriteTxnMarkers request to a broker.
type markerSender func(ctx context.Context, broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)

// markerChannelConfig is what a markerChannel works with.
type markerChannelConfig struct {
	self int32 // this node
	// image is the current metadata image; changed returns a channel
	// closed once an image newer than the current one is applied.
	image   func() *metadata.Image
	changed func() <-chan struct{}
	// local writes a marker to a partition this node leads, returning
	// its Kafka error code.
	local func(ctx context.Context, m txn.Marker, tp txn.TopicPartition) int16
	send  markerSender
	// current reports whether the marker's coordinator epoch is still
	// its coordinator's; nil means always.
	current func(m txn.Marker) bool
	logger  *slog.Logger
	// window, backoff and maxBackoff default to markerRetryWindow,
	// markerBackoff and markerMaxBackoff.
	window, backoff, maxBackoff time.Duration
}

// markerChannel is the transaction coordinator's txn.MarkerWriter.
type markerChannel struct {
	cfg    markerChannelConfig
	ctx    context.Context // cancelled by close: ends requests and waits
	cancel context.CancelFunc
	wg     sync.WaitGroup // the senders

	mu     sync.Mutex
	queues map[int32]*markerQueue // by destination broker
	closed bool
}

// markerQueue is one destination broker's markers not yet sent.
type markerQueue struct {
	waiting []*markerBatch
	sending bool // a sender goroutine works through the queue
}

// markerBatch is the marker of one transaction for the partitions one
// broker leads, and, once done is closed, the broker's answer: a code per
// partition, or err when the request failed as a whole.
type markerBatch struct {
	m     txn.Marker
	done  chan struct{}
	codes map[txn.TopicPartition]int16
	err   error
}

func newMarkerChannel(cfg markerChannelConfig) *markerChannel {
	if cfg.window <= 0 {
		cfg.window = markerRetryWindow
	}
	if cfg.backoff <= 0 {
		cfg.backoff = markerBackoff
	}
	if cfg.maxBackoff <= 0 {
		cfg.maxBackoff = markerMaxBackoff
	}
	if cfg.current == nil {
		cfg.current = func(txn.Marker) bool { return true }
	}
	c := &markerChannel{cfg: cfg, queues: map[int32]*markerQueue{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// close fails the markers in flight and waiting, ends the calls' waits
// and waits for the senders to return. Later calls write nothing remote.
func (c *markerChannel) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// markerOutcome is what a partition's answer means for its marker.
type markerOutcome int8

const (
	markerWritten markerOutcome = iota
	markerRetry
	markerFailed
)

func markerOutcomeOf(code int16) markerOutcome {
	switch code {
	case 0, kerr.UnsupportedForMessageFormat.Code, kerr.UnsupportedVersion.Code:
		return markerWritten
	case kerr.NotLeaderForPartition.Code, kerr.UnknownTopicOrPartition.Code,
		kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicasAfterAppend.Code,
		kerr.RequestTimedOut.Code, kerr.KafkaStorageError.Code,
		kerr.CoordinatorNotAvailable.Code, kerr.NetworkException.Code:
		return markerRetry
	}
	return markerFailed
}

// WriteMarkers implements txn.MarkerWriter.
func (c *markerChannel) WriteMarkers(ctx context.Context, m txn.Marker) []txn.TopicPartition {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.window)
	defer cancel()
	log := c.cfg.logger.With("transactional_id", m.TransactionalID, "producer_id", m.ProducerID, "commit", m.Commit)
	var failed []txn.TopicPartition
	todo := m.Partitions
	backoff := c.cfg.backoff
	for len(todo) > 0 {
		changed := c.cfg.changed()
		im := c.cfg.image()
		var retry, local []txn.TopicPartition
		remote := map[int32][]txn.TopicPartition{}
		for _, tp := range todo {
			p, ok := im.Partition(tp.Topic, tp.Partition)
			switch {
			case !ok:
				log.Info("dropping the transaction marker of a partition that no longer exists", "topic", tp.Topic, "partition", tp.Partition)
			case p.Leader == c.cfg.self:
				local = append(local, tp)
			case p.Leader < 0 || !usableBroker(im, p.Leader):
				retry = append(retry, tp)
			default:
				remote[p.Leader] = append(remote[p.Leader], tp)
			}
		}
		var batches []*markerBatch
		for broker, tps := range remote {
			bm := m
			bm.Partitions = tps
			b := &markerBatch{m: bm, done: make(chan struct{})}
			if !c.enqueue(broker, b) {
				failed = append(failed, tps...)
				continue
			}
			batches = append(batches, b)
		}
		settle := func(tp txn.TopicPartition, code int16, err error) {
			switch outcome := markerOutcomeOf(code); {
			case err != nil || outcome == markerRetry:
				log.Debug("transaction marker not written yet; will retry", "topic", tp.Topic, "partition", tp.Partition, "code", code, "err", err)
				retry = append(retry, tp)
			case outcome == markerFailed:
				log.Warn("transaction marker not written", "topic", tp.Topic, "partition", tp.Partition, "err", kerr.ErrorForCode(code))
				failed = append(failed, tp)
			}
		}
		for _, tp := range local {
			settle(tp, c.cfg.local(ctx, m, tp), nil)
		}
		for _, b := range batches {
			select {
			case <-b.done:
			case <-ctx.Done():
			case <-c.ctx.Done():
			}
			select {
			case <-b.done:
				for _, tp := range b.m.Partitions {
					code, ok := b.codes[tp]
					err := b.err
					if err == nil && !ok {
						err = errors.New("no answer for the partition")
					}
					settle(tp, code, err)
				}
			default: // the call's time is up; the request may still land
				failed = append(failed, b.m.Partitions...)
			}
		}
		if len(retry) == 0 {
			break
		}
		if !c.cfg.current(m) {
			log.Info("transaction coordinator epoch changed; leaving the markers to the new coordinator", "coordinator_epoch", m.CoordinatorEpoch)
			failed = append(failed, retry...)
			break
		}
		select {
		case <-changed:
		case <-time.After(backoff):
			backoff = min(2*backoff, c.cfg.maxBackoff)
		case <-ctx.Done():
		case <-c.ctx.Done():
		}
		if ctx.Err() != nil || c.ctx.Err() != nil {
			failed = append(failed, retry...)
			break
		}
		todo = retry
	}
	return failed
}

// usableBroker reports whether the image has the broker registered,
// unfenced: a partition leader that can take a marker.
func usableBroker(im *metadata.Image, id int32) bool {
	b, ok := im.Brokers[id]
	return ok && !b.Fenced
}

// enqueue adds a batch to its broker's queue and starts the broker's
// sender if none runs; false when the channel is closed.
func (c *markerChannel) enqueue(broker int32, b *markerBatch) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	q := c.queues[broker]
	if q == nil {
		q = &markerQueue{}
		c.queues[broker] = q
	}
	q.waiting = append(q.waiting, b)
	if !q.sending {
		q.sending = true
		c.wg.Add(1)
		go c.run(broker, q)
	}
	return true
}

// run sends a broker's queue, one request at a time, until it is empty.
func (c *markerChannel) run(broker int32, q *markerQueue) {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		var take, keep []*markerBatch
		seen := map[int64]bool{}
		for _, b := range q.waiting {
			if seen[b.m.ProducerID] {
				keep = append(keep, b)
				continue
			}
			seen[b.m.ProducerID] = true
			take = append(take, b)
		}
		q.waiting = keep
		if len(take) == 0 {
			q.sending = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.sendBatches(broker, take)
	}
}

// sendBatches sends the batches to a broker as one WriteTxnMarkers
// request and hands each its answer.
func (c *markerChannel) sendBatches(broker int32, batches []*markerBatch) {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.SetVersion(1)
	for _, b := range batches {
		rm := kmsg.NewWriteTxnMarkersRequestMarker()
		rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = b.m.ProducerID, b.m.ProducerEpoch, b.m.Commit, b.m.CoordinatorEpoch
		for _, tp := range b.m.Partitions {
			if n := len(rm.Topics); n > 0 && rm.Topics[n-1].Topic == tp.Topic {
				rm.Topics[n-1].Partitions = append(rm.Topics[n-1].Partitions, tp.Partition)
				continue
			}
			rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
			rm.Topics = append(rm.Topics, rt)
		}
		req.Markers = append(req.Markers, rm)
	}
	ctx, cancel := context.WithTimeout(c.ctx, markerRequestTimeout)
	resp, err := c.cfg.send(ctx, broker, req)
	cancel()
	if err != nil {
		c.cfg.logger.Info("transaction markers request failed; will retry", "broker", broker, "markers", len(batches), "err", err)
	}
	byPID := map[int64]map[txn.TopicPartition]int16{}
	if err == nil {
		for _, rm := range resp.Markers {
			codes := map[txn.TopicPartition]int16{}
			for _, rt := range rm.Topics {
				for _, rp := range rt.Partitions {
					codes[txn.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.ErrorCode
				}
			}
			byPID[rm.ProducerID] = codes
		}
	}
	for _, b := range batches {
		b.err = err
		b.codes = byPID[b.m.ProducerID]
		close(b.done)
	}
}
