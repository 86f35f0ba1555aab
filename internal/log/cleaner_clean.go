package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// batchReader reads a segment's batches in order through a buffer,
// checking each one's framing and CRC32C: the cleaner never copies or
// re-encodes a corrupt batch (re-encoding would give bad data a good CRC).
type batchReader struct {
	f          vfs.File
	s          *segment
	buf        []byte
	chunk      []byte
	chunkStart int64
	pos, end   int64
}

func newBatchReader(f vfs.File, s *segment, buf []byte, from int64) *batchReader {
	return &batchReader{f: f, s: s, buf: buf, pos: from, end: s.size.Load(), chunkStart: from}
}

func (r *batchReader) corrupt(reason string, args ...any) error {
	return &CorruptionError{File: r.s.path(LogFileSuffix), Segment: r.s.base, Offset: -1, Position: r.pos, Reason: fmt.Sprintf(reason, args...)}
}

// next returns the next batch (valid until the following call) and its
// position; ok=false at the end of the segment.
func (r *batchReader) next() (h record.Header, batch []byte, pos int64, ok bool, err error) {
	if r.pos >= r.end {
		return h, nil, 0, false, nil
	}
	if r.pos+record.HeaderSize > r.chunkStart+int64(len(r.chunk)) {
		if err := r.fill(r.pos); err != nil {
			return h, nil, 0, false, err
		}
		if int64(len(r.chunk)) < record.HeaderSize {
			return h, nil, 0, false, r.corrupt("%d bytes left, a batch header needs %d", len(r.chunk), record.HeaderSize)
		}
	}
	rel := r.pos - r.chunkStart
	h, _ = record.ParseHeader(r.chunk[rel:])
	if h.Magic != record.CurrentMagic {
		return h, nil, 0, false, r.corrupt("magic %d, want 2", h.Magic)
	}
	if h.BatchLength < record.HeaderSize-record.LogOverhead || r.pos+h.Size() > r.end {
		return h, nil, 0, false, r.corrupt("batch length %d does not fit", h.BatchLength)
	}
	if rel+h.Size() > int64(len(r.chunk)) {
		if h.Size() > int64(len(r.buf)) {
			r.buf = make([]byte, h.Size())
		}
		if err := r.fill(r.pos); err != nil {
			return h, nil, 0, false, err
		}
		rel = 0
		if int64(len(r.chunk)) < h.Size() {
			return h, nil, 0, false, r.corrupt("short read of a %d-byte batch", h.Size())
		}
	}
	batch = r.chunk[rel : rel+h.Size()]
	if record.ComputeCRC(batch) != h.CRC {
		return h, nil, 0, false, r.corrupt("CRC32C does not match")
	}
	pos = r.pos
	r.pos += h.Size()
	return h, batch, pos, true, nil
}

func (r *batchReader) fill(pos int64) error {
	chunk, err := readChunk(r.f, r.buf, pos, r.end)
	if err != nil {
		return storageErr(fmt.Sprintf("read segment %d at %d", r.s.base, pos), err)
	}
	r.chunk, r.chunkStart = chunk, pos
	return nil
}

// offsetRange is an inclusive offset range.
type offsetRange struct{ first, last int64 }

// producerLast is the last batch of a producer in the log.
type producerLast struct {
	lastDataOffset int64 // last offset of its last data batch; -1 if its last batch is a marker
	epoch          int16
	timestamp      int64 // max timestamp of its last batch
}

// txnState is what a pass over the whole log's headers tells the cleaner
// about producers and transactions, standing in for Kafka's producer state
// and transaction index: the last batch of each producer, the offset
// ranges of aborted transactions, and where the first open transaction
// starts.
type txnState struct {
	producers     map[int64]producerLast
	aborted       map[int64][]offsetRange
	firstUnstable int64 // -1 if no transaction is open
}

// scanTxnState reads every batch header of the log (and the record of
// every control batch) up to the log end offset.
func (c *Cleaner) scanTxnState(ct *cleanable) (*txnState, error) {
	st := &txnState{producers: map[int64]producerLast{}, aborted: map[int64][]offsetRange{}, firstUnstable: -1}
	open := map[int64]int64{} // producer → first offset of its open transaction
	leo := ct.log.LogEndOffset()
	for _, s := range ct.segs {
		if s.base >= leo {
			break
		}
		f, err := c.m.files.acquire(s)
		if err != nil {
			return nil, c.abortIfGone(err)
		}
		end := s.size.Load()
		hr := newHeaderReader(f)
		for pos := int64(0); pos < end; {
			h, err := hr.at(pos, end)
			if err != nil {
				c.m.files.release(s)
				return nil, s.corruptErr(pos, -1, err)
			}
			if h.BaseOffset >= leo {
				break
			}
			if h.ProducerID >= 0 {
				pl := producerLast{lastDataOffset: h.LastOffset(), epoch: h.ProducerEpoch, timestamp: h.MaxTimestamp}
				if h.IsControl() {
					pl.lastDataOffset = -1
					batch := make([]byte, h.Size())
					if _, err := f.ReadAt(batch, pos); err != nil {
						c.m.files.release(s)
						return nil, storageErr("read control batch", err)
					}
					cr, err := record.ParseControlBatch(h, batch)
					if err == nil && cr.Type == record.ControlAbort {
						if first, ok := open[h.ProducerID]; ok {
							st.aborted[h.ProducerID] = append(st.aborted[h.ProducerID], offsetRange{first, h.BaseOffset})
						}
					}
					if err == nil && (cr.Type == record.ControlAbort || cr.Type == record.ControlCommit) {
						delete(open, h.ProducerID)
					}
				} else if h.IsTransactional() {
					if _, ok := open[h.ProducerID]; !ok {
						open[h.ProducerID] = h.BaseOffset
					}
				}
				st.producers[h.ProducerID] = pl
			}
			pos += h.Size()
		}
		c.m.files.release(s)
	}
	for _, first := range open {
		if st.firstUnstable < 0 || first < st.firstUnstable {
			st.firstUnstable = first
		}
	}
	return st, nil
}

// isAborted reports whether a transactional data batch belongs to an
// aborted transaction.
func (st *txnState) isAborted(h record.Header) bool {
	if !h.IsTransactional() || h.IsControl() {
		return false
	}
	for _, r := range st.aborted[h.ProducerID] {
		if h.BaseOffset >= r.first && h.BaseOffset <= r.last {
			return true
		}
	}
	return false
}

// abortIfGone turns "segment deleted under us" into an abort.
func (c *Cleaner) abortIfGone(err error) error {
	if errors.Is(err, errSegmentGone) {
		return fmt.Errorf("%w: segment deleted meanwhile", errCleanerAborted)
	}
	return err
}

// cleanLocked runs one cleaning round over ct's log.
func (c *Cleaner) cleanLocked(ct *cleanable, nowMs int64) (res CleanResult, err error) {
	c.gen = ct.gen
	defer func() {
		// A truncation under the cleaner may cut what it reads short: that
		// is an abort, not a broken log.
		if err != nil && !errors.Is(err, errCleanerAborted) && ct.log.truncGen.Load() != ct.gen {
			err = fmt.Errorf("%w: log truncated meanwhile (%v)", errCleanerAborted, err)
		}
	}()
	start := time.Now()
	l := ct.log
	cfg := l.cfg.Load()
	res = CleanResult{Partition: l.tp, FirstDirtyOffset: ct.firstDirty, EndOffset: ct.firstDirty}
	if c.stopping() || l.isClosed.Load() {
		return res, errCleanerAborted
	}
	st, err := c.scanTxnState(ct)
	if err != nil {
		return res, err
	}
	if st.firstUnstable >= 0 && st.firstUnstable < ct.firstUncleanable {
		ct.firstUncleanable = ct.segs[floorSegment(ct.segs, st.firstUnstable)].base
	}
	if ct.firstUncleanable <= ct.firstDirty {
		return res, nil
	}
	for _, s := range ct.segs[:len(ct.segs)-1] {
		// Old segments' indexes must be in memory before the swap: their
		// index files are renamed away, and a reader may still use them.
		if err := s.ensureLoaded(c.m.files, cfg); err != nil {
			return res, c.abortIfGone(err)
		}
	}
	if c.omap == nil {
		c.omap = newOffsetMap(c.cfg.DedupeBufferSize, c.cfg.DedupeBufferLoadFactor)
	}
	if c.readBuf == nil {
		c.readBuf = make([]byte, c.cfg.IOBufferSize)
	}
	full, err := c.buildOffsetMap(ct, st)
	if err != nil {
		return res, err
	}
	end := ct.firstUncleanable
	if full {
		end = c.omap.latest + 1
	}
	res.EndOffset = end
	res.MapKeys = c.omap.size
	res.MapUtilization = c.omap.utilization()

	// Every segment from the log start up to where the map ends.
	first := floorSegment(ct.segs, l.LogStartOffset())
	var todo []*segment
	for _, s := range ct.segs[first : len(ct.segs)-1] {
		if s.base >= end {
			break
		}
		todo = append(todo, s)
	}
	groups := groupSegmentsBySize(todo, cfg, ct.firstUncleanable)
	f := &cleanFilter{c: c, st: st, nowMs: nowMs, deleteRetentionMs: cfg.DeleteRetentionMs,
		expiryMs: c.cfg.ProducerIDExpirationMs, latest: c.omap.latest}
	for _, g := range groups {
		if c.stopping() {
			return res, errCleanerAborted
		}
		cs, err := c.cleanSegments(l, g, f, cfg)
		if err != nil {
			if errors.Is(err, errCleanerAborted) {
				c.total.Aborted++
			}
			return res, err
		}
		res.SegmentsBefore += len(g)
		res.SegmentsAfter++
		res.BytesRead += cs.bytesRead
		res.BytesWritten += cs.bytesWritten
		res.RecordsRead += cs.recordsRead
		res.RecordsKept += cs.recordsKept
	}
	c.ckpt[l.tp] = end
	if err := c.writeCheckpointLocked(); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	c.total.Rounds++
	c.total.BytesRead += res.BytesRead
	c.total.BytesWritten += res.BytesWritten
	c.total.RecordsRead += res.RecordsRead
	c.total.RecordsKept += res.RecordsKept
	c.m.logger.Info("cleaned log", "partition", l.tp.String(), "firstDirty", res.FirstDirtyOffset, "end", end,
		"segments", fmt.Sprintf("%d->%d", res.SegmentsBefore, res.SegmentsAfter),
		"bytes", fmt.Sprintf("%d->%d", res.BytesRead, res.BytesWritten), "keys", res.MapKeys, "took", res.Duration)
	return res, nil
}

// buildOffsetMap fills the offset map from the dirty section: for every
// keyed record of a batch that is not a control batch and not aborted, key
// → offset. It returns full=true if the map filled before the end, in
// which case the map's latest offset says how far it got.
func (c *Cleaner) buildOffsetMap(ct *cleanable, st *txnState) (full bool, err error) {
	m := c.omap
	m.clear()
	cfg := ct.log.cfg.Load()
	for _, s := range ct.segs[floorSegment(ct.segs, ct.firstDirty):] {
		if s.base >= ct.firstUncleanable {
			break
		}
		f, err := c.m.files.acquire(s)
		if err != nil {
			return false, c.abortIfGone(err)
		}
		from := int64(0)
		if ct.firstDirty > s.base {
			if err := s.ensureLoaded(c.m.files, cfg); err != nil {
				c.m.files.release(s)
				return false, err
			}
			from = lookupOffset(s.offIdx.entries(), ct.firstDirty-s.base)
		}
		full, err := c.mapSegment(newBatchReader(f, s, c.readBuf, from), ct.firstDirty, st)
		c.m.files.release(s)
		if err != nil || full {
			return full, err
		}
	}
	return false, nil
}

func (c *Cleaner) mapSegment(r *batchReader, firstDirty int64, st *txnState) (bool, error) {
	m := c.omap
	defer func() { c.readBuf = r.buf }()
	for n := 0; ; n++ {
		if n%64 == 0 && c.stopping() {
			return false, errCleanerAborted
		}
		h, batch, _, ok, err := r.next()
		if err != nil || !ok {
			return false, err
		}
		if h.LastOffset() < firstDirty {
			continue
		}
		if !h.IsControl() && !st.isAborted(h) && h.NumRecords > 0 {
			full := false
			err := c.dec.Decode(h, batch, func(rec *record.Record) error {
				off := rec.Offset(h)
				if rec.Key == nil || off < firstDirty {
					return nil
				}
				if !m.put(rec.Key, off) {
					full = true
					return errMapFull
				}
				return nil
			})
			if full {
				return true, nil
			}
			if err != nil {
				return false, r.corruptAt(h, err)
			}
		}
		m.updateLatest(h.LastOffset())
	}
}

var errMapFull = errors.New("offset map full")

func (r *batchReader) corruptAt(h record.Header, err error) error {
	return &CorruptionError{File: r.s.path(LogFileSuffix), Segment: r.s.base, Offset: h.BaseOffset, Position: r.pos - h.Size(), Reason: err.Error()}
}

// groupSegmentsBySize groups adjacent segments so each group's data fits
// segment.bytes, its index entries fit segment.index.bytes, and its
// offsets fit the 32-bit relative offsets of one segment (Kafka's
// groupSegmentsBySize).
func groupSegmentsBySize(segs []*segment, cfg *Config, firstUncleanable int64) [][]*segment {
	var groups [][]*segment
	idxBytes := func(s *segment) (int64, int64) {
		if s.loaded.Load() {
			return int64(s.offIdx.len()) * offsetIndexEntrySize, int64(s.timeIdx.len()) * timeIndexEntrySize
		}
		n := s.size.Load()/max(int64(cfg.IndexIntervalBytes), 1) + 1
		return n * offsetIndexEntrySize, n * timeIndexEntrySize
	}
	for i := 0; i < len(segs); {
		g := []*segment{segs[i]}
		size := segs[i].size.Load()
		oi, ti := idxBytes(segs[i])
		i++
		for i < len(segs) {
			s := segs[i]
			o, t := idxBytes(s)
			// The last offset of s: the next segment's base - 1, or the first
			// uncleanable offset - 1 for the last one.
			lastOff := firstUncleanable - 1
			if i+1 < len(segs) {
				lastOff = segs[i+1].base - 1
			}
			if size+s.size.Load() > cfg.SegmentBytes || oi+o > int64(cfg.SegmentIndexBytes) ||
				ti+t > int64(cfg.SegmentIndexBytes) || lastOff-g[0].base > math.MaxInt32 {
				break
			}
			g = append(g, s)
			size += s.size.Load()
			oi += o
			ti += t
			i++
		}
		groups = append(groups, g)
	}
	return groups
}

// cleanFilter decides, batch by batch and record by record, what a
// cleaning round keeps (Kafka's cleaner RecordFilter).
type cleanFilter struct {
	c                 *Cleaner
	st                *txnState
	nowMs             int64
	deleteRetentionMs int64
	expiryMs          int64
	latest            int64 // the offset map's latest offset
}

// isLastOfProducer: the batch holds the last sequence (or, for a marker,
// the last epoch) of a producer that has not expired; Kafka keeps it, even
// empty, so idempotence and fencing survive cleaning.
func (f *cleanFilter) isLastOfProducer(h record.Header) bool {
	if h.ProducerID < 0 {
		return false
	}
	pl, ok := f.st.producers[h.ProducerID]
	if !ok || (pl.timestamp >= 0 && pl.timestamp < f.nowMs-f.expiryMs) {
		return false
	}
	if pl.lastDataOffset >= 0 {
		return h.LastOffset() == pl.lastDataOffset
	}
	return h.IsControl() && h.ProducerEpoch == pl.epoch
}

type cleanStats struct {
	bytesRead, bytesWritten  int64
	recordsRead, recordsKept int64
}

// filterBatch appends to out what survives of one batch.
func (f *cleanFilter) filterBatch(out []byte, h record.Header, batch []byte, cs *cleanStats) ([]byte, error) {
	c := f.c
	retainEmpty := f.isLastOfProducer(h)
	if h.IsControl() {
		// Transaction markers are kept (see docs/compaction.md). Other
		// batches are checked by the decoder; this one is checked here, so
		// the cleaner never copies a malformed batch.
		if _, err := record.ValidateStored(batch); err != nil {
			return out, err
		}
		cs.recordsRead += int64(h.NumRecords)
		cs.recordsKept += int64(h.NumRecords)
		return append(out, batch...), nil
	}
	if f.st.isAborted(h) {
		cs.recordsRead += int64(h.NumRecords)
		if retainEmpty {
			return appendEmptyBatch(out, h), nil
		}
		return out, nil
	}
	horizon := int64(-1)
	if h.Attributes&record.DeleteHorizonBit != 0 {
		horizon = h.BaseTimestamp
	}
	keep := func(r *record.Record) bool {
		off := r.Offset(h)
		if off > f.latest {
			return true
		}
		if r.Key == nil {
			return false // Kafka drops keyless records from compacted logs
		}
		if off < c.omap.get(r.Key) {
			return false
		}
		// A tombstone stays until its batch's delete horizon has passed.
		return r.Value != nil || horizon < 0 || f.nowMs < horizon
	}
	var kept, tombstones int
	var firstTs, maxTs int64 = -1, -1
	err := c.dec.Decode(h, batch, func(r *record.Record) error {
		cs.recordsRead++
		if !keep(r) {
			return nil
		}
		ts := r.Timestamp(h)
		if kept == 0 {
			firstTs = ts
		}
		maxTs = max(maxTs, ts)
		kept++
		if r.Value == nil {
			tombstones++
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("decode batch at offset %d: %w", h.BaseOffset, err)
	}
	cs.recordsKept += int64(kept)
	if kept == 0 {
		if retainEmpty {
			return appendEmptyBatch(out, h), nil
		}
		return out, nil
	}
	needHorizon := tombstones > 0 && horizon < 0
	if kept == int(h.NumRecords) && !needHorizon {
		return append(out, batch...), nil
	}
	if needHorizon {
		horizon = f.nowMs + f.deleteRetentionMs
	}
	base := firstTs
	if horizon >= 0 {
		base = horizon
	}
	spec := record.BatchSpec{
		BaseOffset: h.BaseOffset, PartitionLeaderEpoch: h.PartitionLeaderEpoch, Compression: h.Compression(),
		LogAppendTime: h.LogAppendTime(), Transactional: h.IsTransactional(),
		ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, BaseSequence: h.BaseSequence,
		BaseTimestamp: base, MaxTimestamp: h.MaxTimestamp,
		KeepOffsetDeltas: true, LastOffsetDelta: h.LastOffsetDelta,
	}
	b := &c.builder
	b.Reset(spec)
	err = c.dec.Decode(h, batch, func(r *record.Record) error {
		if !keep(r) {
			return nil
		}
		nr := *r
		nr.TimestampDelta = r.Timestamp(h) - base
		if h.LogAppendTime() {
			nr.TimestampDelta = r.TimestampDelta
		}
		return b.Append(nr)
	})
	if err != nil {
		return out, fmt.Errorf("re-encode batch at offset %d: %w", h.BaseOffset, err)
	}
	start := len(out)
	out, err = b.Build(out)
	if err != nil {
		return out, fmt.Errorf("re-encode batch at offset %d: %w", h.BaseOffset, err)
	}
	nb := out[start:]
	if horizon >= 0 {
		attrs := binary.BigEndian.Uint16(nb[record.AttributesOffset:]) | record.DeleteHorizonBit
		binary.BigEndian.PutUint16(nb[record.AttributesOffset:], attrs)
	}
	if !h.LogAppendTime() {
		binary.BigEndian.PutUint64(nb[record.MaxTimestampOffset:], uint64(maxTs))
	}
	binary.BigEndian.PutUint32(nb[record.CRCOffset:], record.ComputeCRC(nb))
	return out, nil
}

// appendEmptyBatch writes a batch with the header of h and no records (as
// Kafka's writeEmptyHeader): it keeps the offsets, producer id, epoch and
// sequence range in the log after all its records were cleaned away.
func appendEmptyBatch(out []byte, h record.Header) []byte {
	start := len(out)
	out = append(out, make([]byte, record.HeaderSize)...)
	b := out[start:]
	be := binary.BigEndian
	be.PutUint64(b[record.BaseOffsetOffset:], uint64(h.BaseOffset))
	be.PutUint32(b[record.BatchLengthOffset:], uint32(record.HeaderSize-record.LogOverhead))
	be.PutUint32(b[record.PartitionLeaderEpochOffset:], uint32(h.PartitionLeaderEpoch))
	b[record.MagicOffset] = record.CurrentMagic
	attrs := uint16(h.Attributes) &^ (record.CompressionMask | record.DeleteHorizonBit)
	be.PutUint16(b[record.AttributesOffset:], attrs)
	be.PutUint32(b[record.LastOffsetDeltaOffset:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[record.BaseTimestampOffset:], uint64(h.MaxTimestamp))
	be.PutUint64(b[record.MaxTimestampOffset:], uint64(h.MaxTimestamp))
	be.PutUint64(b[record.ProducerIDOffset:], uint64(h.ProducerID))
	be.PutUint16(b[record.ProducerEpochOffset:], uint16(h.ProducerEpoch))
	be.PutUint32(b[record.BaseSequenceOffset:], uint32(h.BaseSequence))
	be.PutUint32(b[record.RecordCountOffset:], 0)
	be.PutUint32(b[record.CRCOffset:], record.ComputeCRC(b))
	return out
}

// cleanSegments writes the cleaned form of a group of segments as one new
// segment (.cleaned files, fsynced) and swaps it in.
func (c *Cleaner) cleanSegments(l *Log, group []*segment, f *cleanFilter, cfg *Config) (cleanStats, error) {
	var cs cleanStats
	base := group[0].base
	fsys := c.m.fsys
	name := segmentPath(l.dir, base, LogFileSuffix+CleanedFileSuffix)
	out, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return cs, storageErr("create "+name, err)
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			removeCleanedFiles(fsys, l.dir, base)
		}
	}()
	x := indexer{
		base: base, off: newIndex(offsetIndexEntrySize, cfg.SegmentIndexBytes),
		time: newIndex(timeIndexEntrySize, cfg.SegmentIndexBytes), maxTs: -1, maxTsOffset: base,
		interval: int64(cfg.IndexIntervalBytes),
	}
	var wbuf []byte
	written := int64(0)
	next := base
	flush := func() error {
		if len(wbuf) == 0 {
			return nil
		}
		if written+int64(len(wbuf)) > math.MaxInt32 {
			return fmt.Errorf("cleaned segment %d would pass 2 GiB", base)
		}
		if _, err := out.WriteAt(wbuf, written); err != nil {
			return storageErr("write "+name, err)
		}
		written += int64(len(wbuf))
		wbuf = wbuf[:0]
		return nil
	}
	for _, s := range group {
		fh, err := c.m.files.acquire(s)
		if err != nil {
			return cs, c.abortIfGone(err)
		}
		r := newBatchReader(fh, s, c.readBuf, 0)
		for n := 0; ; n++ {
			if n%64 == 0 && (c.stopping() || l.isClosed.Load()) {
				c.m.files.release(s)
				return cs, errCleanerAborted
			}
			h, batch, _, more, err := r.next()
			if err != nil {
				c.m.files.release(s)
				return cs, err
			}
			if !more {
				break
			}
			cs.bytesRead += h.Size()
			from := len(wbuf)
			wbuf, err = f.filterBatch(wbuf, h, batch, &cs)
			if err != nil {
				c.m.files.release(s)
				return cs, r.corruptAt(h, err)
			}
			for p := from; p < len(wbuf); {
				nh, _ := record.ParseHeader(wbuf[p:])
				x.add(written+int64(p), nh)
				next = nh.NextOffset()
				p += int(nh.Size())
			}
			if len(wbuf) >= c.cfg.IOBufferSize {
				if err := flush(); err != nil {
					c.m.files.release(s)
					return cs, err
				}
			}
		}
		c.readBuf = r.buf
		c.m.files.release(s)
	}
	if err := flush(); err != nil {
		return cs, err
	}
	cs.bytesWritten = written
	if err := out.Sync(); err != nil {
		return cs, storageErr("sync "+name, err)
	}
	if err := out.Close(); err != nil {
		return cs, storageErr("close "+name, err)
	}
	ok = true

	ns := &segment{base: base, dir: l.dir, fsys: fsys, rollTs: -1}
	ns.size.Store(written)
	ns.next.Store(next)
	ns.offIdx, ns.timeIdx = x.off, x.time
	ns.maxTs.Store(&tsPair{ts: x.maxTs, offset: x.maxTsOffset})
	ns.bytesSinceIndex = x.bytesSince
	ns.loaded.Store(true)
	ns.appendFinalTimeEntry()
	ns.idxWritten = [2]int{ns.offIdx.len(), ns.timeIdx.len()}
	if err := writeCleanedIndexes(fsys, ns); err != nil {
		removeCleanedFiles(fsys, l.dir, base)
		return cs, err
	}
	if err := c.swapSegments(l, group, ns); err != nil {
		return cs, err
	}
	return cs, nil
}

// writeCleanedIndexes writes a cleaned segment's offset and time indexes
// as .cleaned files, trimmed to their entries, and fsyncs them.
func writeCleanedIndexes(fsys vfs.FS, s *segment) error {
	for _, w := range []struct {
		suffix string
		ix     *index
	}{{IndexFileSuffix, s.offIdx}, {TimeIndexFileSuffix, s.timeIdx}} {
		name := s.path(w.suffix + CleanedFileSuffix)
		f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return storageErr("create "+name, err)
		}
		if _, err := f.WriteAt(w.ix.entries(), 0); err != nil {
			f.Close()
			return storageErr("write "+name, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return storageErr("sync "+name, err)
		}
		if err := f.Close(); err != nil {
			return storageErr("close "+name, err)
		}
	}
	return nil
}

// removeCleanedFiles deletes a cleaned segment's .cleaned files (a round
// that did not finish). Errors are left for open to clean up.
func removeCleanedFiles(fsys vfs.FS, dir string, base int64) {
	for _, suf := range []string{LogFileSuffix, IndexFileSuffix, TimeIndexFileSuffix} {
		fsys.Remove(segmentPath(dir, base, suf+CleanedFileSuffix))
	}
}
