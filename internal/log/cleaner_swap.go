package log

import (
	"fmt"
)

// swapSegments replaces the segments of group (still in the log, in order,
// none active) with the cleaned segment ns, whose files were written as
// fsynced .cleaned files. The steps, each made durable before the next:
//
//  1. rename the .cleaned index files, then the .cleaned log, to .swap:
//     once "<base>.log.swap" is durable the swap is committed;
//  2. rename every old segment's files to .deleted (readers keep their
//     open handles; the segment objects remember the new names);
//  3. rename the .swap files to their final names;
//  4. publish the new segment list; then remove the .deleted files.
//
// A crash before step 1 leaves .cleaned files, which open deletes: the log
// is as it was. A crash after it leaves a .log.swap file: open removes the
// segments whose base offsets fall inside the swap segment's offset range
// (whichever are still there), and renames the swap file into place,
// rebuilding its indexes. Either way every record is in the log exactly as
// before the round, or as cleaned.
//
// It takes Log.mu for the renames only. If the log changed meanwhile
// (closed, failed, or segments deleted by retention) it gives up with
// errCleanerAborted and removes the .cleaned files. No background index
// write can land on the new files: the group comes from a snapshot taken
// when no rolled segment was being finished (Cleaner.snapshot).
func (c *Cleaner) swapSegments(l *Log, group []*segment, ns *segment) error {
	fsys := c.m.fsys
	base := ns.base
	l.mu.Lock()
	cur := l.segments()
	at := -1
	for i, s := range cur {
		if s == group[0] {
			at = i
			break
		}
	}
	reason := ""
	switch {
	case l.closed:
		reason = "log closed"
	case l.failed != nil:
		reason = "log failed"
	case l.truncGen.Load() != c.gen:
		reason = "log truncated"
	case at < 0 || at+len(group) >= len(cur):
		reason = "segments changed"
	default:
		for k, s := range group {
			if cur[at+k] != s {
				reason = "segments changed"
			}
		}
	}
	if reason != "" {
		l.mu.Unlock()
		removeCleanedFiles(fsys, l.dir, base)
		return fmt.Errorf("%w: %s", errCleanerAborted, reason)
	}

	// 1. Commit: .cleaned → .swap, the log last.
	for _, suf := range []string{IndexFileSuffix, TimeIndexFileSuffix, LogFileSuffix} {
		if err := fsys.Rename(ns.path(suf+CleanedFileSuffix), ns.path(suf+SwapFileSuffix)); err != nil {
			l.mu.Unlock()
			removeCleanedFiles(fsys, l.dir, base)
			for _, s := range []string{IndexFileSuffix, TimeIndexFileSuffix, LogFileSuffix} {
				fsys.Remove(ns.path(s + SwapFileSuffix))
			}
			return storageErr("rename cleaned segment to swap", err)
		}
	}
	if err := fsys.SyncDir(l.dir); err != nil {
		// Whether the swap is durable is unknown; recovery settles it.
		err = l.failLocked(fmt.Errorf("sync partition dir after swap of segment %d: %w", base, err))
		l.mu.Unlock()
		return err
	}

	// 2. Retire the old segments.
	for _, s := range group {
		if err := c.m.files.renameForDelete(s); err != nil {
			err = l.failLocked(fmt.Errorf("swap of segment %d: %w", base, err))
			l.mu.Unlock()
			return err
		}
	}
	if err := fsys.SyncDir(l.dir); err != nil {
		err = l.failLocked(fmt.Errorf("swap of segment %d: sync partition dir: %w", base, err))
		l.mu.Unlock()
		return err
	}

	// 3. Final names.
	for _, suf := range []string{LogFileSuffix, IndexFileSuffix, TimeIndexFileSuffix} {
		if err := fsys.Rename(ns.path(suf+SwapFileSuffix), ns.path(suf)); err != nil {
			err = l.failLocked(fmt.Errorf("swap of segment %d: rename %s: %w", base, suf, err))
			l.mu.Unlock()
			return err
		}
	}
	if err := fsys.SyncDir(l.dir); err != nil {
		err = l.failLocked(fmt.Errorf("swap of segment %d: sync partition dir: %w", base, err))
		l.mu.Unlock()
		return err
	}

	// 4. Publish.
	segs := make([]*segment, 0, len(cur)-len(group)+1)
	segs = append(segs, cur[:at]...)
	segs = append(segs, ns)
	segs = append(segs, cur[at+len(group):]...)
	l.setSegments(segs)
	l.mu.Unlock()
	c.removeRetired(l, group)
	return nil
}

// removeRetired closes (once unreferenced) and removes the .deleted files
// of swapped-out segments. Unlike removeSegmentFiles it never touches the
// plain names: the cleaned segment now lives under the first one's.
func (c *Cleaner) removeRetired(l *Log, group []*segment) {
	for _, s := range group {
		c.m.files.forget(s)
		for _, suf := range segmentFileSuffixes {
			if err := c.m.fsys.Remove(s.path(suf + DeletedFileSuffix)); err != nil && !isNotExist(err) {
				c.m.logger.Warn("remove swapped-out segment", "partition", l.tp.String(), "segment", s.base, "err", err)
			}
		}
	}
}
