package broker

// Fetch, versions 4 to 18.
//
// Each partition is read by Partition.Read, which holds the per-partition
// rules: the leader epoch checks, the diverging-epoch check (KIP-320), the
// high watermark (read_uncommitted) or last stable offset (read_committed)
// bound with the aborted transactions, OFFSET_OUT_OF_RANGE. The handler
// gives each partition the smaller of its max bytes and what is left of the
// request's max bytes; a partition this node does not lead answers
// NOT_LEADER_OR_FOLLOWER, from v16 with the current leader and its
// endpoint (KIP-951); the first partition that has data always returns at
// least one whole batch, however large, so consumers progress. A partition
// answered with an error still carries the offsets the read saw (high
// watermark, last stable offset, log start offset).
//
// Long polling: while fewer than min.bytes are available, no partition has
// an error and max.wait.ms has not passed, the request parks on the
// partitions' high-watermark notifications (closed by appends, no polling)
// and reads again when one fires.
//
// Sessions (v7+, KIP-227, see fetch_session.go): epoch -1 is a sessionless
// full fetch and epoch 0 a full fetch opening a session, each closing the
// session its id names; a known id with the expected epoch is an
// incremental fetch; an unknown id gets FETCH_SESSION_ID_NOT_FOUND, a wrong
// epoch INVALID_FETCH_SESSION_EPOCH.
//
// Topics are named up to v12 and given by id from v13 (UNKNOWN_TOPIC_ID).
// The record bytes are sent straight from the segment files (sendfile on
// plain TCP connections): the response is encoded with a marker in place
// of each partition's records, then split around the markers.

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(1, 4, 18, handleFetch) }

// fetchRead is one partition's outcome in a fetch pass.
type fetchRead struct {
	fp          *fetchPartition
	topicName   string               // resolved name ("" if the topic is unknown)
	part        *partition.Partition // nil if this node does not host it
	code        *kerr.Error
	res         partition.ReadResult // offsets (-1 until read), records, aborted transactions, diverging epoch
	hasData     bool
	readCommits bool
	follower    bool // a follower replica's fetch
}

// replicaFetcher is the follower broker a replica fetch comes from.
type replicaFetcher struct {
	id          int32 // -1 for a consumer
	brokerEpoch int64 // -1 before Fetch v15
}

// followerFetched tells the leader's partition that the follower has
// everything below its fetch offset (the handler only gets here when the
// read passed the leader-epoch check in the current epoch), sends the ISR
// change that may follow to the controller, and answers the high watermark
// the fetch moved.
func (b *Broker) followerFetched(fr *fetchRead, f replicaFetcher) {
	if c := fr.part.FollowerFetched(f.id, f.brokerEpoch, fr.fp.fetchOffset, time.Now()); c != nil {
		b.replicas.AlterISR(fr.part, c)
	}
	fr.res.HighWatermark = fr.part.HighWatermark()
}

// unread is the result of a partition that was not read.
var unread = partition.ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, LogEndOffset: -1}

func handleFetch(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	useIDs := req.Version >= 13

	reqParts := make([]fetchPartition, 0, 8)
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			k := fetchKey{partition: p.Partition}
			if useIDs {
				k.topicID = t.TopicID
			} else {
				k.topic = t.Topic
			}
			reqParts = append(reqParts, fetchPartition{key: k, fetchOffset: p.FetchOffset, maxBytes: p.PartitionMaxBytes,
				currentLeaderEpoch: p.CurrentLeaderEpoch, lastFetchedEpoch: p.LastFetchedEpoch})
		}
	}

	var forgotten []fetchKey
	for _, ft := range req.ForgottenTopics {
		for _, p := range ft.Partitions {
			k := fetchKey{partition: p}
			if useIDs {
				k.topicID = ft.TopicID
			} else {
				k.topic = ft.Topic
			}
			forgotten = append(forgotten, k)
		}
	}
	fc := b.sessions.newContext(req.Version, req.SessionID, req.SessionEpoch, useIDs, reqParts, forgotten)
	if fc.code != nil {
		resp.ErrorCode = fc.code.Code
		return resp, nil
	}
	items := make([]*fetchPartition, len(fc.parts))
	for i := range fc.parts {
		items[i] = &fc.parts[i]
	}

	readCommitted := req.IsolationLevel == 1
	// A follower replica's fetch (replica id >= 0; from v15 in
	// ReplicaState, with its broker epoch, KIP-903) reads up to the log end
	// offset and tells the leader how far the follower has come.
	follower := replicaFetcher{id: req.ReplicaID, brokerEpoch: -1}
	if req.Version >= 15 {
		follower = replicaFetcher{id: req.ReplicaState.ID, brokerEpoch: req.ReplicaState.Epoch}
	}
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	reads := make([]fetchRead, len(items))
	var parked *fetchWait // set once the fetch has to wait
	defer func() {
		if parked != nil {
			parked.stop()
		}
	}()
	for {
		im := b.meta.Image()
		waitable := false
		total, anyErr := int64(0), false
		budget := int64(req.MaxBytes)
		if budget <= 0 {
			budget = 0
		}
		minOne := true
		for i, fp := range items {
			fr := &reads[i]
			*fr = fetchRead{fp: fp, res: unread, readCommits: readCommitted, follower: follower.id >= 0}
			if useIDs {
				if t := im.TopicByID(fp.key.topicID); t != nil {
					fr.topicName = t.Name
				}
			} else {
				fr.topicName = fp.key.topic
			}
			if fr.part = b.hostedPartition(fr.topicName, fp.key.partition); fr.part != nil {
				waitable = true
			}
			limit := int64(fp.maxBytes)
			if limit > budget {
				limit = budget
			}
			b.readPartition(fr, im, useIDs, limit, minOne)
			if fr.follower && fr.code == nil && !fr.res.Diverging {
				b.followerFetched(fr, follower)
			}
			if fr.code != nil || fr.res.Diverging {
				anyErr = true
			}
			if fr.hasData {
				minOne = false
				total += fr.res.Records.Size()
				budget -= fr.res.Records.Size()
			}
		}
		if total >= int64(req.MinBytes) || anyErr || req.MaxWaitMillis <= 0 || !waitable || !time.Now().Before(deadline) {
			break
		}
		if parked == nil {
			parked = park(reads)
		}
		if !parked.wait(ctx, reads, deadline) {
			break // timed out or shutting down: answer with what there is (nothing)
		}
		for i := range reads {
			if reads[i].hasData {
				reads[i].res.Records.Release()
			}
		}
	}
	return b.buildFetchResponse(req, resp, reads, &fc), nil
}

// readPartition fills fr for one partition.
func (b *Broker) readPartition(fr *fetchRead, im *metadata.Image, useIDs bool, limit int64, minOne bool) {
	fp := fr.fp
	if fr.topicName == "" {
		fr.code = kerr.UnknownTopicID
		return
	}
	if fr.part == nil {
		if _, ok := im.Partition(fr.topicName, fp.key.partition); ok {
			fr.code = kerr.NotLeaderForPartition
		} else if useIDs {
			fr.code = kerr.UnknownTopicID
		} else {
			fr.code = kerr.UnknownTopicOrPartition
		}
		return
	}
	isolation := partition.ReadUncommitted
	if fr.readCommits {
		isolation = partition.ReadCommitted
	}
	res, err := fr.part.Read(partition.ReadOptions{
		Offset:             fp.fetchOffset,
		MaxBytes:           limit,
		MinOneBatch:        minOne,
		Isolation:          isolation,
		CurrentLeaderEpoch: fp.currentLeaderEpoch,
		LastFetchedEpoch:   fp.lastFetchedEpoch,
		FromFollower:       fr.follower,
	})
	fr.res = res
	if err != nil {
		code, _ := partition.KafkaError(err)
		if code == kerr.KafkaStorageError {
			b.logger.Error("fetch read failed", "topic", fr.topicName, "partition", fp.key.partition, "offset", fp.fetchOffset, "err", err)
		}
		fr.code = code
		return
	}
	fr.hasData = res.Records.Size() > 0
}

// fetchWait is a fetch parked until one of its partitions' high watermark
// advances: one channel, signalled by every partition it watches.
type fetchWait struct {
	wake    chan struct{}
	watched []*partition.Partition
}

// park starts watching the partitions read. A high watermark that moved
// between the read and the start of the watch is caught by wait.
func park(reads []fetchRead) *fetchWait {
	w := &fetchWait{wake: make(chan struct{}, 1)}
	for i := range reads {
		if part := reads[i].part; part != nil {
			part.WatchHighWatermark(w.wake)
			w.watched = append(w.watched, part)
		}
	}
	return w
}

// wait blocks until a watched high watermark advances past what reads saw
// (true), or the deadline passes or ctx ends (false).
func (w *fetchWait) wait(ctx context.Context, reads []fetchRead, deadline time.Time) bool {
	for i := range reads {
		if fr := &reads[i]; fr.part != nil && fr.code == nil && fr.part.Moved(fr.res, fr.follower) {
			return true
		}
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-w.wake:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

func (w *fetchWait) stop() {
	for _, p := range w.watched {
		p.UnwatchHighWatermark(w.wake)
	}
}

// buildFetchResponse turns the reads into the response, leaving out what
// the session says is unchanged.
func (b *Broker) buildFetchResponse(req *kmsg.FetchRequest, resp *kmsg.FetchResponse, reads []fetchRead, fc *fetchContext) kmsg.Response {
	out := &fetchResponse{FetchResponse: resp, flexible: req.Version >= 12}
	outcomes := make([]fetchOutcome, len(reads))
	withData := 0
	for i := range reads {
		fr := &reads[i]
		outcomes[i] = fetchOutcome{hasRecords: fr.hasData, failed: fr.code != nil || fr.res.Diverging,
			hw: fr.res.HighWatermark, lso: fr.res.LastStableOffset, logStart: fr.res.LogStartOffset}
		if fr.hasData {
			withData++
		}
	}
	out.files = make([]partition.Records, 0, withData)
	keep := make([]bool, len(reads))
	sessionID, code := fc.respond(outcomes, keep)
	resp.SessionID = sessionID
	if code != nil {
		// Another request used the session meanwhile (a duplicate).
		for i := range reads {
			if reads[i].hasData {
				reads[i].res.Records.Release()
			}
		}
		resp.ErrorCode = code.Code
		return out
	}
	var codes []int16
	for i := range reads {
		fr := &reads[i]
		fp := fr.fp
		if !keep[i] {
			if fr.hasData { // cannot happen: records are always answered
				fr.res.Records.Release()
			}
			continue
		}
		// Group consecutive partitions of one topic.
		n := len(resp.Topics)
		if n == 0 || resp.Topics[n-1].Topic != fp.key.topic || resp.Topics[n-1].TopicID != fp.key.topicID {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = fp.key.topic, fp.key.topicID
			resp.Topics = append(resp.Topics, rt)
			n++
		}
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = fp.key.partition
		rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = fr.res.HighWatermark, fr.res.LastStableOffset, fr.res.LogStartOffset
		if fr.code != nil {
			rp.ErrorCode = fr.code.Code
			codes = append(codes, fr.code.Code)
			if req.Version >= 16 && (fr.code == kerr.NotLeaderForPartition || fr.code == kerr.FencedLeaderEpoch) {
				var add *kmsg.ProduceResponseBroker
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch, add = leaderHint(b.meta.Image(), fr.topicName, rp.Partition,
					func(id int32) bool {
						return slices.ContainsFunc(resp.Brokers, func(b kmsg.FetchResponseBroker) bool { return b.NodeID == id })
					})
				if add != nil {
					resp.Brokers = append(resp.Brokers, kmsg.FetchResponseBroker(*add))
				}
			}
		}
		if fr.res.Diverging {
			rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = fr.res.DivergingEpoch.Epoch, fr.res.DivergingEpoch.EndOffset
		}
		if fr.readCommits {
			aborted := fr.res.AbortedTransactions
			rp.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(aborted))
			for _, a := range aborted {
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
				rp.AbortedTransactions = append(rp.AbortedTransactions, at)
			}
		}
		rp.RecordBatches = []byte{}
		if fr.hasData {
			out.files = append(out.files, fr.res.Records)
			rp.RecordBatches = nil // replaced by a marker when encoding
		}
		resp.Topics[n-1].Partitions = append(resp.Topics[n-1].Partitions, rp)
	}
	b.metrics.Errors(1, codes...)
	return out
}

// fetchResponse is a Fetch response whose record batches are file ranges.
type fetchResponse struct {
	*kmsg.FetchResponse
	flexible bool
	files    []partition.Records // in encoding order: one per partition whose RecordBatches is nil
}

// encodeParts encodes the response with a random 16-byte marker as each
// partition's records, then splits the encoding at the markers, replacing
// each marker and its length prefix with the real length and the file range.
func (f *fetchResponse) encodeParts() ([]server.Part, func()) {
	release := func() {
		for i := range f.files {
			f.files[i].Release()
		}
	}
	if len(f.files) == 0 {
		return []server.Part{{Bytes: f.FetchResponse.AppendTo(make([]byte, 0, 512))}}, release
	}
	var marker [16]byte
	binary.BigEndian.PutUint64(marker[:8], rand.Uint64())
	binary.BigEndian.PutUint64(marker[8:], rand.Uint64())
	k := 0
	for ti := range f.Topics {
		for pi := range f.Topics[ti].Partitions {
			if p := &f.Topics[ti].Partitions[pi]; p.RecordBatches == nil {
				p.RecordBatches = marker[:]
				k++
			}
		}
	}
	buf := f.FetchResponse.AppendTo(make([]byte, 0, 512))
	var markerPrefix []byte
	if f.flexible {
		markerPrefix = kbin.AppendUvarint(nil, uint32(len(marker)+1))
	} else {
		markerPrefix = kbin.AppendInt32(nil, int32(len(marker)))
	}
	parts := make([]server.Part, 0, 3*len(f.files)+1)
	lens := make([]byte, 0, 5*len(f.files))
	pos := 0
	for i := range f.files {
		rr := &f.files[i]
		idx := bytes.Index(buf[pos:], marker[:])
		if idx < 0 || k != len(f.files) {
			return f.copyFallback(marker[:], release)
		}
		idx += pos
		start := idx - len(markerPrefix)
		if start < pos || !bytes.Equal(buf[start:idx], markerPrefix) {
			return f.copyFallback(marker[:], release)
		}
		parts = append(parts, server.Part{Bytes: buf[pos:start]})
		file, position, size := rr.File()
		l0 := len(lens)
		if f.flexible {
			lens = kbin.AppendUvarint(lens, uint32(size)+1)
		} else {
			lens = kbin.AppendInt32(lens, int32(size))
		}
		parts = append(parts, server.Part{Bytes: lens[l0:len(lens):len(lens)]})
		fr := &server.FileRange{ReaderAt: file, Offset: position, Size: size}
		if osf, ok := vfs.OSFile(file); ok {
			fr.OS = osf
		}
		parts = append(parts, server.Part{File: fr})
		pos = idx + len(marker)
	}
	parts = append(parts, server.Part{Bytes: buf[pos:]})
	return parts, release
}

// copyFallback copies the records into the encoding; used only if the
// markers cannot be found, which would be a bug.
func (f *fetchResponse) copyFallback(marker []byte, release func()) ([]server.Part, func()) {
	i := 0
	for ti := range f.Topics {
		for pi := range f.Topics[ti].Partitions {
			p := &f.Topics[ti].Partitions[pi]
			if i < len(f.files) && bytes.Equal(p.RecordBatches, marker) {
				b, err := f.files[i].AppendTo(nil)
				if err != nil {
					b = []byte{}
					p.ErrorCode = kerr.KafkaStorageError.Code
				}
				p.RecordBatches = b
				i++
			}
		}
	}
	return []server.Part{{Bytes: f.FetchResponse.AppendTo(nil)}}, release
}
