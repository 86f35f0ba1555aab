package broker

// Fetch, versions 4 to 18.
//
// Each partition is read from its fetch offset up to the high watermark
// (read_uncommitted) or the last stable offset (read_committed), bounded by
// the partition's max bytes and what is left of the request's max bytes;
// the first partition that has data always returns at least one whole batch,
// however large, so consumers progress. A fetch offset below the log start
// or above the log end gets OFFSET_OUT_OF_RANGE with the log start offset.
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
	"errors"
	"math/rand/v2"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/replica"
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
	topicName   string // resolved name ("" if the topic is unknown)
	rep         *replica.Replica
	code        *kerr.Error
	hw, lso     int64
	logStart    int64
	data        log.ReadResult
	hasData     bool
	diverging   *kmsg.FetchResponseTopicPartitionDivergingEpoch
	readCommits bool
	aborted     []partition.AbortedTxn // read_committed: aborted transactions in the range read
}

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
			*fr = fetchRead{fp: fp, hw: -1, lso: -1, logStart: -1, readCommits: readCommitted}
			if useIDs {
				if t := im.TopicByID(fp.key.topicID); t != nil {
					fr.topicName = t.Name
				}
			} else {
				fr.topicName = fp.key.topic
			}
			if fr.rep = b.replicas.Replica(fr.topicName, fp.key.partition); fr.rep != nil {
				waitable = true
			}
			limit := int64(fp.maxBytes)
			if limit > budget {
				limit = budget
			}
			b.readPartition(fr, im, useIDs, limit, minOne)
			if fr.code != nil || fr.diverging != nil {
				anyErr = true
			}
			if fr.hasData {
				minOne = false
				total += fr.data.Size
				budget -= fr.data.Size
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
				reads[i].data.Release()
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
	if fr.rep == nil {
		if _, ok := im.Partition(fr.topicName, fp.key.partition); ok {
			fr.code = kerr.NotLeaderForPartition
		} else if useIDs {
			fr.code = kerr.UnknownTopicID
		} else {
			fr.code = kerr.UnknownTopicOrPartition
		}
		return
	}
	part, l := fr.rep.Partition(), fr.rep.Log()
	fr.hw = part.HighWatermark()
	fr.lso = part.LastStableOffset()
	fr.logStart = l.LogStartOffset()
	if err := part.CheckLeaderEpoch(fp.currentLeaderEpoch); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			fr.code = ke
		} else {
			fr.code = kerr.UnknownServerError
		}
		return
	}
	if fp.lastFetchedEpoch >= 0 {
		// The log diverged from the client's if it holds no records of the
		// client's last epoch up to the fetch offset (Kafka's check).
		epoch, end := l.EndOffsetForEpoch(fp.lastFetchedEpoch)
		if epoch < fp.lastFetchedEpoch || end < fp.fetchOffset {
			fr.diverging = &kmsg.FetchResponseTopicPartitionDivergingEpoch{Epoch: epoch, EndOffset: end}
			return
		}
	}
	maxOffset := fr.hw
	if fr.readCommits {
		maxOffset = fr.lso
	}
	if limit < 0 {
		limit = 0
	}
	if limit > 1<<31-1 {
		limit = 1<<31 - 1
	}
	rr, err := l.Read(fp.fetchOffset, log.ReadOptions{MaxBytes: int32(limit), MaxOffset: maxOffset, MinOneBatch: minOne})
	switch {
	case errors.Is(err, log.ErrOffsetOutOfRange):
		fr.code = kerr.OffsetOutOfRange
		return
	case err != nil:
		b.logger.Error("fetch read failed", "topic", fr.topicName, "partition", fp.key.partition, "offset", fp.fetchOffset, "err", err)
		fr.code = kerr.KafkaStorageError
		return
	}
	if rr.Size > 0 {
		fr.data, fr.hasData = rr, true
		if fr.readCommits {
			fr.aborted = part.AbortedTransactions(fp.fetchOffset, rr.NextOffset)
		}
	} else {
		rr.Release()
	}
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
		if rep := reads[i].rep; rep != nil {
			rep.Partition().WatchHighWatermark(w.wake)
			w.watched = append(w.watched, rep.Partition())
		}
	}
	return w
}

// wait blocks until a watched high watermark advances past what reads saw
// (true), or the deadline passes or ctx ends (false).
func (w *fetchWait) wait(ctx context.Context, reads []fetchRead, deadline time.Time) bool {
	for i := range reads {
		if fr := &reads[i]; fr.rep != nil && fr.code == nil && fr.rep.Partition().HighWatermark() != fr.hw {
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
	for i := range reads {
		fr := &reads[i]
		outcomes[i] = fetchOutcome{hasRecords: fr.hasData, failed: fr.code != nil || fr.diverging != nil,
			hw: fr.hw, lso: fr.lso, logStart: fr.logStart}
	}
	keep := make([]bool, len(reads))
	sessionID, code := fc.respond(outcomes, keep)
	resp.SessionID = sessionID
	if code != nil {
		// Another request used the session meanwhile (a duplicate).
		for i := range reads {
			if reads[i].hasData {
				reads[i].data.Release()
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
				fr.data.Release()
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
		rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = fr.hw, fr.lso, fr.logStart
		if fr.code != nil {
			rp.ErrorCode = fr.code.Code
			codes = append(codes, fr.code.Code)
		}
		if fr.diverging != nil {
			rp.DivergingEpoch = *fr.diverging
		}
		if fr.readCommits {
			rp.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(fr.aborted))
			for _, a := range fr.aborted {
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
				rp.AbortedTransactions = append(rp.AbortedTransactions, at)
			}
		}
		rp.RecordBatches = []byte{}
		if fr.hasData {
			out.files = append(out.files, fr.data)
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
	files    []log.ReadResult // in encoding order: one per partition whose RecordBatches is nil
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
		l0 := len(lens)
		if f.flexible {
			lens = kbin.AppendUvarint(lens, uint32(rr.Size)+1)
		} else {
			lens = kbin.AppendInt32(lens, int32(rr.Size))
		}
		parts = append(parts, server.Part{Bytes: lens[l0:len(lens):len(lens)]})
		fr := &server.FileRange{ReaderAt: rr.File, Offset: rr.Position, Size: rr.Size}
		if osf, ok := vfs.OSFile(rr.File); ok {
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
