package log

import (
	"container/list"
	"errors"
	"os"
	"sync"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// errSegmentGone: the segment's files were deleted (retention raced a
// reader); the reader looks again and finds the offset out of range.
var errSegmentGone = errors.New("segment deleted")

// fileCache bounds the open .log handles of a Manager. Every user of a
// segment's handle (the appender, a reader's ReadResult, the group
// committer) holds a reference; a handle with no references sits in an LRU
// and is closed when more than max handles are open. A handle is never
// closed while referenced, so a ReadResult's file stays valid until Release
// even if the segment is deleted meanwhile.
type fileCache struct {
	fsys vfs.FS
	max  int

	mu   sync.Mutex
	open int
	lru  list.List // of *segment, most recently released at the front
}

func newFileCache(fsys vfs.FS, max int) *fileCache {
	return &fileCache{fsys: fsys, max: max}
}

// acquire returns the segment's open .log handle, opening it if needed, and
// takes a reference. Pair with release.
func (c *fileCache) acquire(s *segment) (vfs.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.file == nil {
		if s.gone {
			return nil, errSegmentGone
		}
		f, err := c.fsys.OpenFile(segmentPath(s.dir, s.base, LogFileSuffix+s.suffix), os.O_RDWR, 0)
		if err != nil {
			return nil, storageErr("open segment", err)
		}
		s.file = f
		c.open++
		c.evictLocked()
	}
	if s.elem != nil {
		c.lru.Remove(s.elem)
		s.elem = nil
	}
	s.refs++
	return s.file, nil
}

// ref takes another reference on a handle the caller already holds one on.
func (c *fileCache) ref(s *segment) {
	c.mu.Lock()
	s.refs++
	c.mu.Unlock()
}

// release drops a reference.
func (c *fileCache) release(s *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.refs--
	if s.refs > 0 || s.file == nil {
		return
	}
	if s.gone {
		c.closeLocked(s)
		return
	}
	s.elem = c.lru.PushFront(s)
	c.evictLocked()
}

func (c *fileCache) evictLocked() {
	for c.open > c.max {
		e := c.lru.Back()
		if e == nil {
			return
		}
		c.closeLocked(e.Value.(*segment))
	}
}

func (c *fileCache) closeLocked(s *segment) {
	if s.elem != nil {
		c.lru.Remove(s.elem)
		s.elem = nil
	}
	if s.file != nil {
		s.file.Close()
		s.file = nil
		c.open--
	}
}

// forget closes the segment's handle when unreferenced and stops new
// opens (the segment is deleted or its log closed). A referenced handle is
// closed by the last release.
func (c *fileCache) forget(s *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.gone = true
	if s.refs == 0 {
		c.closeLocked(s)
	}
}

// renameForDelete renames the segment's files to .deleted under the cache
// lock, so no handle is opened under the old name afterwards.
func (c *fileCache) renameForDelete(s *segment) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, suf := range segmentFileSuffixes {
		err := c.fsys.Rename(s.path(suf), s.path(suf+DeletedFileSuffix))
		if err != nil && !isNotExist(err) {
			return storageErr("rename segment for deletion", err)
		}
		if suf == LogFileSuffix {
			s.suffix = DeletedFileSuffix
		}
	}
	return nil
}

// openHandles reports the number of open .log handles.
func (c *fileCache) openHandles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

// segmentFileSuffixes are a segment's files, the .log first: deletion
// renames the .log first so a crash leaves either a whole segment or
// orphan indexes (which open removes), never a .log without its data.
var segmentFileSuffixes = []string{LogFileSuffix, IndexFileSuffix, TimeIndexFileSuffix, TxnIndexFileSuffix}
