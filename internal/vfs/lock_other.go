//go:build !unix

package vfs

import (
	"io"
	"os"
	"path/filepath"
)

// Lock without flock: an exclusive create of dir/.lock is not released by
// a crash, so on these systems the directory is not locked; Samsa targets
// Unix, and this keeps it building elsewhere.
func (osFS) Lock(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &onceCloser{c: f}, nil
}
