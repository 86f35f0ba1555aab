// Package vfs is the file-system interface the storage engine is written
// against. Production code uses OS (the real file system); tests use Mem (an
// in-memory file system that can simulate a crash by dropping unsynced data)
// and Faulty (which wraps another FS and injects torn writes, failed fsyncs,
// ENOSPC and crashes at chosen operations).
//
// Contract: an FS and the Files it returns are safe for concurrent use in
// the same way as *os.File: concurrent ReadAt calls are allowed while one
// goroutine writes. Errors are returned, never panicked; a *PathError-like
// wrapping with the operation and the file name is expected.
package vfs

import (
	"io"
	"os"
)

// File is an open file. It mirrors the subset of *os.File the log needs.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Seeker
	io.Closer
	// Name returns the name the file was opened with.
	Name() string
	// Sync flushes the file's data (and the metadata needed to read it back)
	// to stable storage.
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Stat returns the file's size and mode.
	Stat() (os.FileInfo, error)
}

// FS is a file system.
type FS interface {
	// OpenFile opens a file with os.OpenFile's flags and permissions.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove deletes a file or an empty directory.
	Remove(name string) error
	// RemoveAll deletes a directory tree.
	RemoveAll(name string) error
	// Rename atomically replaces newname with oldname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(name string, perm os.FileMode) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(name string) ([]os.DirEntry, error)
	// Stat describes a file.
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes a directory's entries (creations, renames, removals)
	// durable.
	SyncDir(name string) error
	// Lock takes an exclusive lock on an existing directory, held until
	// the returned Closer is closed or the process ends; a directory held
	// by another owner fails with a *LockedError (errors.Is ErrLocked).
	// Whoever writes into a directory holds its lock first.
	Lock(dir string) (io.Closer, error)
}
