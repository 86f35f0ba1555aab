package vfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testLock checks the lock contract on any FS: one owner at a time, a
// *LockedError for the second, free again after Close.
func testLock(t *testing.T, fs FS, dir string) {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	first, err := fs.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Lock(dir)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want a *LockedError", err)
	}
	if le.Dir != dir || !strings.Contains(err.Error(), "in use by another samsa process") {
		t.Fatalf("second lock error %q names %q", err, le.Dir)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	again, err := fs.Lock(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Close()
	if _, err := fs.Lock(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("locking a missing directory succeeded")
	}
}

func TestLockOS(t *testing.T) {
	dir := t.TempDir()
	testLock(t, OS, dir)

	// The refused owner learns the holder's pid.
	l, err := OS.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = OS.Lock(dir)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("lock error %v: want pid %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("message %q does not name the pid", err)
	}
}

func TestLockMem(t *testing.T) { testLock(t, NewMem(), "/data") }

func TestLockFaultyMem(t *testing.T) { testLock(t, NewFaulty(NewMem()), "/data") }

// A crash releases the locks, as the death of a process releases its flocks.
func TestLockMemCrashReleases(t *testing.T) {
	fs := NewMem()
	if err := fs.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Lock("/data"); err != nil {
		t.Fatal(err)
	}
	l, err := fs.Crash().Lock("/data")
	if err != nil {
		t.Fatalf("lock after crash: %v", err)
	}
	l.Close()
}

// Another process holding the lock (flock(1), from util-linux) is seen
// as such.
func TestLockOSOtherProcess(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("flock", "--exclusive", filepath.Join(dir, LockFile), "cat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// flock(1) runs cat once it holds the lock; cat echoes a line back,
	// which says the lock is held.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	if _, err := stdin.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := stdout.Read(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := OS.Lock(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held by another process: %v", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	l, err := OS.Lock(dir)
	if err != nil {
		t.Fatalf("lock after the other process ended: %v", err)
	}
	l.Close()
}
