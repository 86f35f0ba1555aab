package log

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

const childEnv = "SAMSA_LOG_KILL_CHILD_DIR"

// childMain is the child process of TestKillChild: it appends with
// DurabilitySync from four goroutines to two partitions, several appends in
// flight each (AppendAsync), and prints "partition baseOffset crc" for
// every batch WaitDurable acknowledged, until killed.
func childMain() {
	dir := os.Getenv(childEnv)
	m, err := OpenManager(ManagerOptions{Dir: dir, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 256 << 10
	var out sync.Mutex
	w := bufio.NewWriterSize(os.Stdout, 0)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := int32(g % 2)
			l, err := m.Create(TopicPartition{"kill", p}, [16]byte{9}, cfg)
			if err != nil {
				fmt.Fprintln(os.Stderr, "create:", err)
				os.Exit(2)
			}
			// Up to eight appends are in flight; a batch is printed
			// (acknowledged) only after WaitDurable covers it.
			type inFlight struct {
				end, base int64
				crc       uint32
			}
			acks := make(chan inFlight, 8)
			go func() {
				for a := range acks {
					if err := l.WaitDurable(context.Background(), a.end); err != nil {
						fmt.Fprintln(os.Stderr, "append:", err)
						os.Exit(2)
					}
					out.Lock()
					fmt.Fprintf(w, "%d %d %d\n", p, a.base, a.crc)
					out.Unlock()
				}
			}()
			for i := 0; ; i++ {
				b := makeBatch(1+i%4, 200+g*50, time.Now().UnixMilli())
				res, err := l.AppendAsync(b, AppendOptions{})
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				h, _ := record.ParseHeader(b)
				acks <- inFlight{end: res.LastOffset + 1, base: res.BaseOffset, crc: h.CRC}
			}
		}()
	}
	wg.Wait()
}

// TestKillChild appends from a child process and SIGKILLs it at random
// moments, 20 times, reopening the log after each kill: every batch the
// child saw acknowledged must be there, intact, both partitions must be
// there, and nothing but valid batches may be read up to the log end
// offset. The kill moments come from a logged seed (SAMSA_LOG_SEED replays
// them; how far the child gets in between is up to the scheduler).
func TestKillChild(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(testSeed(t))) // the kill moments
	type key struct {
		p   int32
		off int64
	}
	acked := map[key]uint32{}
	for round := 0; round < 20; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A round that fails before the kill must not leave the child
		// appending; after the kill this does nothing.
		t.Cleanup(func() { cmd.Process.Kill() })
		first := make(chan struct{})
		done := make(chan string)
		go func() {
			var all bytes.Buffer
			buf := make([]byte, 64<<10)
			for {
				n, err := pipe.Read(buf)
				if n > 0 && all.Len() == 0 {
					close(first)
				}
				all.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if all.Len() == 0 {
				close(first)
			}
			done <- all.String()
		}()
		// Kill at a random moment once the child has acknowledged something.
		select {
		case <-first:
		case <-time.After(20 * time.Second):
			t.Fatal("child made no progress")
		}
		time.Sleep(time.Duration(rng.Intn(150)) * time.Millisecond) // the random kill moment, not synchronisation
		cmd.Process.Signal(syscall.SIGKILL)
		text := <-done
		cmd.Wait()
		if strings.Contains(stderr.String(), "open:") || strings.Contains(stderr.String(), "append:") {
			t.Fatalf("round %d: child failed: %s", round, stderr.String())
		}
		// Only whole lines were acknowledged and printed.
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			text = text[:i]
		} else {
			text = ""
		}
		for _, line := range strings.Split(text, "\n") {
			if line == "" {
				continue
			}
			f := strings.Fields(line)
			p, _ := strconv.Atoi(f[0])
			off, _ := strconv.ParseInt(f[1], 10, 64)
			crc, _ := strconv.ParseUint(f[2], 10, 32)
			acked[key{int32(p), off}] = uint32(crc)
		}

		m := openTestManager(t, vfs.OS, dir)
		for p := int32(0); p < 2; p++ {
			l, ok := m.Get(TopicPartition{"kill", p})
			if !ok {
				n := 0
				for k := range acked {
					if k.p == p {
						n++
					}
				}
				t.Fatalf("round %d: partition %d missing after reopen (%d batches acknowledged)", round, p, n)
			}
			got := map[int64]uint32{}
			for _, h := range readAll(t, l, l.LogStartOffset()) { // checks every CRC
				got[h.BaseOffset] = h.CRC
			}
			for k, crc := range acked {
				if k.p == p && got[k.off] != crc {
					t.Fatalf("round %d: partition %d: acknowledged batch at %d missing or changed", round, p, k.off)
				}
			}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		// Alternate clean and unclean starts for the next child.
		if round%2 == 0 {
			os.Remove(dir + "/" + CleanShutdownFile)
		}
	}
	if len(acked) == 0 {
		t.Fatal("the child never acknowledged anything")
	}
	t.Logf("%d acknowledged batches checked", len(acked))
}
