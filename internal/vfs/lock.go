package vfs

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
)

// LockFile is the file in a directory whose lock marks the directory as
// owned by one process, as Kafka's ".lock" in each log directory. It holds
// the owner's process id (a hint for the error message; the lock itself is
// the kernel's, released when the owner exits, however it exits).
const LockFile = ".lock"

// ErrLocked is matched (errors.Is) by the error of Lock when another owner
// holds the directory.
var ErrLocked = errors.New("directory is locked by another process")

// LockedError says which directory is held, and by which process where
// that can be known (PID 0: unknown).
type LockedError struct {
	Dir string
	PID int
}

func (e *LockedError) Error() string {
	dir := e.Dir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if e.PID > 0 {
		return fmt.Sprintf("%s is in use by another samsa process (pid %d); one process per directory", dir, e.PID)
	}
	return fmt.Sprintf("%s is in use by another samsa process; one process per directory", dir)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// memLocks is MemFS's lock table. A crash clone starts with none, as a
// process that dies releases its flocks.
type memLocks struct {
	mu   sync.Mutex
	held map[string]bool
}

func (l *memLocks) lock(dir string) (io.Closer, error) {
	key := filepath.Clean("/" + dir)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]bool{}
	}
	if l.held[key] {
		return nil, &LockedError{Dir: dir}
	}
	l.held[key] = true
	return closerFunc(func() error {
		l.mu.Lock()
		delete(l.held, key)
		l.mu.Unlock()
		return nil
	}), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// onceCloser makes Close idempotent.
type onceCloser struct {
	once sync.Once
	c    io.Closer
	err  error
}

func (o *onceCloser) Close() error {
	o.once.Do(func() { o.err = o.c.Close() })
	return o.err
}
