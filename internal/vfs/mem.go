package vfs

import (
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemFS is an in-memory FS that remembers what has been made durable, so a
// test can cut the power at any moment (Crash, CrashClone) and recover from
// what a real disk would still hold:
//
//   - a file's contents are durable up to its last File.Sync;
//   - a directory's entries (creations, renames, removals, including of
//     subdirectories) are durable as of its last SyncDir. A file created and
//     synced but whose directory was never synced is gone after a crash;
//     a file removed or renamed without a SyncDir is back under its old name.
//
// The model is inode-like: a directory entry points to a node, and a node's
// durable contents follow it through renames. All methods are safe for
// concurrent use (one lock per MemFS). Paths are slash-separated and
// relative to the root: "/a/b", "a/b" and "./a/b" name the same file.
type MemFS struct {
	mu    sync.RWMutex
	root  *memNode
	locks memLocks
}

// memNode is a file or a directory.
type memNode struct {
	dir  bool
	mode os.FileMode
	// Files: data is the live contents, synced the durable ones. After a
	// Sync they share a backing array (shared); a write below len(synced)
	// copies data first, so synced never changes under it.
	data   []byte
	synced []byte
	shared bool
	// Directories: the live entries, and the entries as of the last SyncDir.
	children       map[string]*memNode
	syncedChildren map[string]*memNode
	modTime        time.Time
}

// NewMem returns an empty in-memory file system whose root directory exists.
func NewMem() *MemFS {
	return &MemFS{root: newDir(0o755)}
}

func newDir(perm os.FileMode) *memNode {
	return &memNode{dir: true, mode: perm | os.ModeDir, children: map[string]*memNode{}, syncedChildren: map[string]*memNode{}}
}

// split cleans name into its components; the root has none.
func split(name string) []string {
	p := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// lookupLocked finds the node for parts; a nil node with a nil error means the
// parent exists but the entry does not.
func (m *MemFS) lookupLocked(op, name string, parts []string) (parent, node *memNode, err error) {
	n := m.root
	for i, p := range parts {
		if !n.dir {
			return nil, nil, &os.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		child := n.children[p]
		if child == nil {
			if i == len(parts)-1 {
				return n, nil, nil
			}
			return nil, nil, &os.PathError{Op: op, Path: name, Err: syscall.ENOENT}
		}
		parent, n = n, child
	}
	return parent, n, nil
}

// OpenFile opens a file with os.OpenFile's flags. Opening a directory fails
// with EISDIR.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := split(name)
	if len(parts) == 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	parent, n, err := m.lookupLocked("open", name, parts)
	if err != nil {
		return nil, err
	}
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	case n == nil:
		n = &memNode{mode: perm &^ os.ModeType, modTime: time.Now()}
		parent.children[parts[len(parts)-1]] = n
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EEXIST}
	case n.dir:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		n.truncate(0)
	}
	return &memFile{fs: m, node: n, name: name, flag: flag}, nil
}

// Remove deletes a file or an empty directory.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := split(name)
	if len(parts) == 0 {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
	}
	parent, n, err := m.lookupLocked("remove", name, parts)
	if err != nil {
		return err
	}
	if n == nil {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOENT}
	}
	if n.dir && len(n.children) > 0 {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(parent.children, parts[len(parts)-1])
	return nil
}

// RemoveAll deletes a tree; a missing name is not an error.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := split(name)
	if len(parts) == 0 {
		m.root.children = map[string]*memNode{}
		return nil
	}
	parent, n, err := m.lookupLocked("removeall", name, parts)
	if err != nil || n == nil {
		if pe, ok := err.(*os.PathError); ok && pe.Err == syscall.ENOENT {
			return nil
		}
		return err
	}
	delete(parent.children, parts[len(parts)-1])
	return nil
}

// Rename moves oldname to newname, replacing a file or an empty directory
// there, like rename(2).
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op, np := split(oldname), split(newname)
	if len(op) == 0 || len(np) == 0 {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EBUSY}
	}
	oparent, n, err := m.lookupLocked("rename", oldname, op)
	if err == nil && n == nil {
		err = syscall.ENOENT
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: unwrapPathErr(err)}
	}
	nparent, existing, err := m.lookupLocked("rename", newname, np)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: unwrapPathErr(err)}
	}
	if n.dir && len(np) > len(op) && strings.Join(np[:len(op)], "/") == strings.Join(op, "/") {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EINVAL}
	}
	if existing != nil && existing != n {
		switch {
		case existing.dir && !n.dir:
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EISDIR}
		case !existing.dir && n.dir:
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.ENOTDIR}
		case existing.dir && len(existing.children) > 0:
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.ENOTEMPTY}
		}
	}
	delete(oparent.children, op[len(op)-1])
	nparent.children[np[len(np)-1]] = n
	return nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// MkdirAll creates a directory and its missing parents.
func (m *MemFS) MkdirAll(name string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, p := range split(name) {
		child := n.children[p]
		if child == nil {
			child = newDir(perm)
			child.modTime = time.Now()
			n.children[p] = child
		} else if !child.dir {
			return &os.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
		}
		n = child
	}
	return nil
}

// ReadDir lists a directory, sorted by name.
func (m *MemFS) ReadDir(name string) ([]os.DirEntry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	parts := split(name)
	_, n, err := m.lookupLocked("open", name, parts)
	if err == nil && n == nil {
		err = &os.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	}
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &os.PathError{Op: "readdirent", Path: name, Err: syscall.ENOTDIR}
	}
	entries := make([]os.DirEntry, 0, len(n.children))
	for child, c := range n.children {
		entries = append(entries, fs.FileInfoToDirEntry(c.infoLocked(child)))
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, nil
}

// Stat describes a file or directory.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	parts := split(name)
	_, n, err := m.lookupLocked("stat", name, parts)
	if err == nil && n == nil {
		err = &os.PathError{Op: "stat", Path: name, Err: syscall.ENOENT}
	}
	if err != nil {
		return nil, err
	}
	base := "/"
	if len(parts) > 0 {
		base = parts[len(parts)-1]
	}
	return n.infoLocked(base), nil
}

// SyncDir makes the directory's current entries durable.
func (m *MemFS) SyncDir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.lookupLocked("sync", name, split(name))
	if err == nil && n == nil {
		err = &os.PathError{Op: "sync", Path: name, Err: syscall.ENOENT}
	}
	if err != nil {
		return err
	}
	if !n.dir {
		return &os.PathError{Op: "sync", Path: name, Err: syscall.ENOTDIR}
	}
	n.syncedChildren = make(map[string]*memNode, len(n.children))
	for k, v := range n.children {
		n.syncedChildren[k] = v
	}
	return nil
}

// CrashOptions choose what survives a simulated power cut.
type CrashOptions struct {
	// TornWrites keeps, for each file with unsynced data past its durable
	// length, a random prefix of that data (possibly none, possibly all),
	// as a disk may have written part of the page cache before the cut.
	// Without it, exactly the synced contents survive.
	TornWrites bool
	// Seed makes the torn prefixes deterministic.
	Seed int64
}

// Crash returns the file system as a power cut would leave it: only
// synced file contents and synced directory entries. The receiver is left
// untouched and can keep running (as a zombie whose effects no longer
// matter); files opened on it do not affect the returned MemFS.
func (m *MemFS) Crash() *MemFS { return m.CrashClone(CrashOptions{}) }

// CrashClone is Crash with options.
func (m *MemFS) CrashClone(opts CrashOptions) *MemFS {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rng := rand.New(rand.NewSource(opts.Seed))
	return &MemFS{root: crashDir(m.root, opts.TornWrites, rng)}
}

func crashDir(d *memNode, torn bool, rng *rand.Rand) *memNode {
	nd := newDir(d.mode &^ os.ModeDir)
	nd.modTime = d.modTime
	// Visit names in order so the seed gives the same result every time.
	names := make([]string, 0, len(d.syncedChildren))
	for name := range d.syncedChildren {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := d.syncedChildren[name]
		var nc *memNode
		if c.dir {
			nc = crashDir(c, torn, rng)
		} else {
			nc = &memNode{mode: c.mode, modTime: c.modTime}
			content := c.synced[:len(c.synced):len(c.synced)]
			if torn && len(c.data) > len(c.synced) {
				extra := rng.Intn(len(c.data) - len(c.synced) + 1)
				content = append(append(make([]byte, 0, len(c.synced)+extra), c.synced...), c.data[len(c.synced):len(c.synced)+extra]...)
			}
			// Share the durable bytes; writes below len(synced) copy.
			nc.data, nc.synced, nc.shared = content, content, true
		}
		nd.children[name] = nc
		nd.syncedChildren[name] = nc
	}
	return nd
}

func (n *memNode) infoLocked(name string) os.FileInfo {
	return memInfo{name: name, size: int64(len(n.data)), mode: n.mode, modTime: n.modTime}
}

// prepareWrite makes data safe to change from byte off on.
func (n *memNode) prepareWrite(off int64) {
	if n.shared && off < int64(len(n.synced)) {
		n.data = append([]byte(nil), n.data...)
		n.shared = false
	}
}

func (n *memNode) writeAt(p []byte, off int64) {
	n.prepareWrite(off)
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		n.grow(end)
	}
	copy(n.data[off:], p)
	n.modTime = time.Now()
}

// grow extends data with zeros to size.
func (n *memNode) grow(size int64) {
	old := int64(len(n.data))
	n.prepareWrite(old)
	if size <= int64(cap(n.data)) {
		n.data = n.data[:size]
		clear(n.data[old:])
		return
	}
	nd := make([]byte, size, max(size, 2*int64(cap(n.data))))
	copy(nd, n.data)
	n.data = nd
}

func (n *memNode) truncate(size int64) {
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
	} else {
		n.grow(size)
	}
	n.modTime = time.Now()
}

type memInfo struct {
	name    string
	size    int64
	mode    os.FileMode
	modTime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() os.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return i.modTime }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

// memFile is an open file of a MemFS.
type memFile struct {
	fs     *MemFS
	node   *memNode
	name   string
	flag   int
	pos    int64
	closed bool
}

func (f *memFile) checkLocked(op string, write bool) error {
	if f.closed {
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	}
	acc := f.flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if write && acc == os.O_RDONLY || !write && acc == os.O_WRONLY {
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EBADF}
	}
	return nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("read", false); err != nil {
		return 0, err
	}
	n, err := f.readAtLocked(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	if err := f.checkLocked("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	return f.readAtLocked(p, off)
}

func (f *memFile) readAtLocked(p []byte, off int64) (int, error) {
	if off >= int64(len(f.node.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("write", true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		f.pos = int64(len(f.node.data))
	}
	f.node.writeAt(p, f.pos)
	f.pos += int64(len(p))
	return len(p), nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("write", true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		return 0, &os.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	}
	if off < 0 {
		return 0, &os.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	}
	f.node.writeAt(p, off)
	return len(p), nil
}

func (f *memFile) Seek(offset int64, whence int) (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, &os.PathError{Op: "seek", Path: f.name, Err: os.ErrClosed}
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.pos + offset
	case io.SeekEnd:
		abs = int64(len(f.node.data)) + offset
	default:
		return 0, &os.PathError{Op: "seek", Path: f.name, Err: syscall.EINVAL}
	}
	if abs < 0 {
		return 0, &os.PathError{Op: "seek", Path: f.name, Err: syscall.EINVAL}
	}
	f.pos = abs
	return abs, nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.closed = true
	return nil
}

// Sync makes the file's current contents durable.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "sync", Path: f.name, Err: os.ErrClosed}
	}
	n := f.node
	n.synced = n.data[:len(n.data):len(n.data)]
	n.shared = true
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	f.node.truncate(size)
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	if f.closed {
		return nil, &os.PathError{Op: "stat", Path: f.name, Err: os.ErrClosed}
	}
	return f.node.infoLocked(path.Base(path.Clean("/" + f.name))), nil
}

// Lock locks an existing directory within this MemFS. A crash clone holds
// no locks, as a crashed process holds none.
func (m *MemFS) Lock(dir string) (io.Closer, error) {
	info, err := m.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, &os.PathError{Op: "lock", Path: dir, Err: syscall.ENOTDIR}
	}
	return m.locks.lock(dir)
}
