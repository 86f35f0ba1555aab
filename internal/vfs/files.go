package vfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// TempSuffix ends the name of the temporary file WriteFileAtomic writes
// before renaming it into place. A file with this suffix found at start-up
// was left by a crash or a failed write and holds nothing anyone relies on.
const TempSuffix = ".tmp"

// WriteFileAtomic replaces the file name with data so that a crash at any
// moment leaves either the old contents or the new ones, never a mix: it
// writes name+TempSuffix, fsyncs it, renames it over name and fsyncs the
// directory. When it returns nil the new contents are durable. It returns
// the first error of any step, the directory sync's included: after an
// error, name holds the old or the new contents and only a later call (or
// a crash) settles which; name+TempSuffix may be left behind.
func WriteFileAtomic(fs FS, name string, data []byte) error {
	tmp := name + TempSuffix
	fail := func(step string, err error) error {
		return fmt.Errorf("replace %s: %s: %w", name, step, err)
	}
	f, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fail("create", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close() // the write's error is the one worth reporting
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail("sync", err)
	}
	if err := f.Close(); err != nil {
		return fail("close", err)
	}
	if err := fs.Rename(tmp, name); err != nil {
		return fail("rename", err)
	}
	// Without this the rename, and with it the new contents, may not
	// survive a crash even though the file's data was synced.
	if err := fs.SyncDir(filepath.Dir(name)); err != nil {
		return fail("sync directory", err)
	}
	return nil
}

// ReadFile returns the whole contents of a (small) file. A missing file's
// error matches os.ErrNotExist.
func ReadFile(fs FS, name string) ([]byte, error) {
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}
