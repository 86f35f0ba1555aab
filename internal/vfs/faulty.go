package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
)

// Op is a kind of file-system operation, for fault rules. Ops combine as a
// bit set.
type Op uint16

const (
	OpOpen     Op = 1 << iota // OpenFile (counted as mutating when it may create or truncate)
	OpRead                    // Read, ReadAt
	OpWrite                   // Write, WriteAt
	OpSync                    // File.Sync
	OpTruncate                // File.Truncate
	OpRename                  // Rename
	OpRemove                  // Remove, RemoveAll
	OpMkdir                   // MkdirAll
	OpSyncDir                 // SyncDir
	OpStat                    // Stat, File.Stat, ReadDir, Seek

	// OpAny matches every operation.
	OpAny Op = 1<<iota - 1
)

var opNames = []string{"open", "read", "write", "sync", "truncate", "rename", "remove", "mkdir", "syncdir", "stat"}

func (o Op) String() string {
	var parts []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// ErrInjected is wrapped by every error Faulty makes up.
var ErrInjected = errors.New("vfs: injected fault")

// ErrCrashed is the error every operation returns after the crash point.
var ErrCrashed = fmt.Errorf("%w: crashed", ErrInjected)

// InjectedError is an error Faulty returned instead of performing, or
// after partly performing, an operation. errors.Is matches both ErrInjected
// and the underlying error (syscall.EIO by default, or the rule's).
type InjectedError struct {
	Op   Op
	Path string
	Step int64 // the mutating-operation count when it happened
	Err  error
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("vfs: injected %s %s (step %d): %v", e.Op, e.Path, e.Step, e.Err)
}

func (e *InjectedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInjected) true.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// Rule says which operation fails and how.
type Rule struct {
	// Ops are the kinds of operation the rule matches.
	Ops Op
	// Path is a path.Match pattern tested against the whole cleaned path
	// and against its last element ("*.log" matches "t-0/00.log"). Empty
	// matches every path.
	Path string
	// Nth fails the Nth matching operation (1 for the first); 0 fails every
	// matching operation.
	Nth int
	// Err is the error to report; nil means syscall.EIO.
	Err error
	// TornBytes, for writes: pass this many bytes of the write through to
	// the inner file before failing (a torn write). Negative passes half.
	// 0 writes nothing.
	TornBytes int

	seen int
}

func (r *Rule) match(op Op, name string) bool {
	if r.Ops&op == 0 {
		return false
	}
	if r.Path != "" {
		clean := path.Clean(strings.ReplaceAll(name, "\\", "/"))
		ok1, _ := path.Match(r.Path, clean)
		ok2, _ := path.Match(r.Path, path.Base(clean))
		if !ok1 && !ok2 {
			return false
		}
	}
	r.seen++
	return r.Nth == 0 || r.seen == r.Nth
}

// FaultyFS wraps an FS and injects failures: by rules (the Nth write to
// "*.log" fails with ENOSPC, a sync fails with EIO, a write is torn), and by
// a crash point (after N mutating operations every operation fails). It
// counts mutating operations (writes, syncs, truncates, renames, removals,
// directory creation and sync, and opens that may create or truncate) so a
// test can run a workload once to count its steps, then once per step N
// with CrashAfter(N), recovering each time from the inner MemFS's Crash().
// All methods are safe for concurrent use; the count is global to the
// FaultyFS, so concurrent workloads are deterministic only if their order is.
type FaultyFS struct {
	inner FS

	mu         sync.Mutex
	rules      []*Rule
	steps      int64
	crashAfter int64 // -1: never
	crashed    bool
	tornCrash  bool
}

// NewFaulty wraps inner with the given rules and no crash point.
func NewFaulty(inner FS, rules ...Rule) *FaultyFS {
	f := &FaultyFS{inner: inner, crashAfter: -1}
	for _, r := range rules {
		f.AddRule(r)
	}
	return f
}

// AddRule adds a rule. Each rule counts the operations it matches; when
// several fire on the same operation, the first added decides the error.
func (f *FaultyFS) AddRule(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.seen = 0
	f.rules = append(f.rules, &r)
}

// ClearRules removes all rules (the crash point stays).
func (f *FaultyFS) ClearRules() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// CrashAfter lets mutating operations 1..n (counted from the FaultyFS's
// creation) succeed; operation n+1 and every operation after
// it, of any kind, fail with ErrCrashed. Negative n removes the crash point.
// If n has already passed, the next operation crashes.
func (f *FaultyFS) CrashAfter(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashAfter = n
	if n < 0 {
		f.crashed = false
	}
}

// TearCrashingWrite makes the write that hits the crash point pass half its
// bytes to the inner file before failing, instead of none.
func (f *FaultyFS) TearCrashingWrite(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tornCrash = on
}

// Steps is the number of mutating operations attempted so far.
func (f *FaultyFS) Steps() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.steps
}

// Crashed reports whether the crash point has been reached.
func (f *FaultyFS) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// Inner is the wrapped FS.
func (f *FaultyFS) Inner() FS { return f.inner }

// check decides the fate of one operation: nil to perform it, or an error
// and how many bytes of a write to pass through first (-1: none).
func (f *FaultyFS) check(op Op, name string, mutating bool, size int) (torn int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mutating {
		f.steps++
	}
	if f.crashed {
		return -1, &InjectedError{Op: op, Path: name, Step: f.steps, Err: ErrCrashed}
	}
	if mutating && f.crashAfter >= 0 && f.steps > f.crashAfter {
		f.crashed = true
		torn = -1
		if f.tornCrash && op == OpWrite {
			torn = size / 2
		}
		return torn, &InjectedError{Op: op, Path: name, Step: f.steps, Err: ErrCrashed}
	}
	// Every rule counts every operation it matches, so one rule's Nth does
	// not depend on the others; the first rule that fires wins.
	var fire *Rule
	for _, r := range f.rules {
		if r.match(op, name) && fire == nil {
			fire = r
		}
	}
	if fire != nil {
		e := fire.Err
		if e == nil {
			e = syscall.EIO
		}
		torn = -1
		if op == OpWrite && fire.TornBytes != 0 {
			torn = min(fire.TornBytes, size)
			if fire.TornBytes < 0 {
				torn = size / 2
			}
		}
		return torn, &InjectedError{Op: op, Path: name, Step: f.steps, Err: e}
	}
	return -1, nil
}

func (f *FaultyFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	mutating := flag&(os.O_CREATE|os.O_TRUNC) != 0
	if _, err := f.check(OpOpen, name, mutating, 0); err != nil {
		return nil, err
	}
	inner, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{fs: f, inner: inner, name: name}, nil
}

func (f *FaultyFS) Remove(name string) error {
	if _, err := f.check(OpRemove, name, true, 0); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

func (f *FaultyFS) RemoveAll(name string) error {
	if _, err := f.check(OpRemove, name, true, 0); err != nil {
		return err
	}
	return f.inner.RemoveAll(name)
}

func (f *FaultyFS) Rename(oldname, newname string) error {
	if _, err := f.check(OpRename, oldname, true, 0); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

func (f *FaultyFS) MkdirAll(name string, perm os.FileMode) error {
	if _, err := f.check(OpMkdir, name, true, 0); err != nil {
		return err
	}
	return f.inner.MkdirAll(name, perm)
}

func (f *FaultyFS) ReadDir(name string) ([]os.DirEntry, error) {
	if _, err := f.check(OpStat, name, false, 0); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(name)
}

func (f *FaultyFS) Stat(name string) (os.FileInfo, error) {
	if _, err := f.check(OpStat, name, false, 0); err != nil {
		return nil, err
	}
	return f.inner.Stat(name)
}

func (f *FaultyFS) SyncDir(name string) error {
	if _, err := f.check(OpSyncDir, name, true, 0); err != nil {
		return err
	}
	return f.inner.SyncDir(name)
}

type faultyFile struct {
	fs    *FaultyFS
	inner File
	name  string
}

func (f *faultyFile) Name() string { return f.inner.Name() }

func (f *faultyFile) Read(p []byte) (int, error) {
	if _, err := f.fs.check(OpRead, f.name, false, 0); err != nil {
		return 0, err
	}
	return f.inner.Read(p)
}

func (f *faultyFile) ReadAt(p []byte, off int64) (int, error) {
	if _, err := f.fs.check(OpRead, f.name, false, 0); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

func (f *faultyFile) Write(p []byte) (int, error) {
	torn, err := f.fs.check(OpWrite, f.name, true, len(p))
	if err != nil {
		n := 0
		if torn > 0 {
			n, _ = f.inner.Write(p[:torn])
		}
		return n, err
	}
	return f.inner.Write(p)
}

func (f *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	torn, err := f.fs.check(OpWrite, f.name, true, len(p))
	if err != nil {
		n := 0
		if torn > 0 {
			n, _ = f.inner.WriteAt(p[:torn], off)
		}
		return n, err
	}
	return f.inner.WriteAt(p, off)
}

func (f *faultyFile) Seek(offset int64, whence int) (int64, error) {
	if _, err := f.fs.check(OpStat, f.name, false, 0); err != nil {
		return 0, err
	}
	return f.inner.Seek(offset, whence)
}

// Close always closes the inner file, so injected faults never leak
// descriptors; it reports nothing injected.
func (f *faultyFile) Close() error { return f.inner.Close() }

func (f *faultyFile) Sync() error {
	if _, err := f.fs.check(OpSync, f.name, true, 0); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *faultyFile) Truncate(size int64) error {
	if _, err := f.fs.check(OpTruncate, f.name, true, 0); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

func (f *faultyFile) Stat() (os.FileInfo, error) {
	if _, err := f.fs.check(OpStat, f.name, false, 0); err != nil {
		return nil, err
	}
	return f.inner.Stat()
}

// Lock is the inner file system's: locks are not faults the log handles.
func (f *FaultyFS) Lock(dir string) (io.Closer, error) { return f.inner.Lock(dir) }
