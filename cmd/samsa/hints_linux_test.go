package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// terminal is a pseudo-terminal: the command gets the slave side as its
// standard stream, and the test reads what appears on the master side.
type terminal struct {
	master, slave *os.File
	mu            sync.Mutex
	out           bytes.Buffer
	wrote         chan struct{} // a token after each read from the master
	done          chan struct{}
}

// openTerminal opens a pseudo-terminal, skipping the test where there is
// none (no devpts in the container).
func openTerminal(t *testing.T) *terminal {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr == nil {
			n, ioErr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if ioErr != nil {
		m.Close()
		t.Skipf("no pseudo-terminal: %v", ioErr)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	term := &terminal{master: m, slave: s, wrote: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			select {
			case term.wrote <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.Close()
		m.Close()
		<-term.done
	})
	return term
}

// shown returns everything the terminal showed up to now: it writes a
// marker on the slave side and waits for it on the master side.
func (term *terminal) shown(t *testing.T) string {
	t.Helper()
	marker := fmt.Sprintf("--- %d ---", time.Now().UnixNano())
	if _, err := fmt.Fprintln(term.slave, marker); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		term.mu.Lock()
		out := term.out.String()
		term.mu.Unlock()
		if i := strings.Index(out, marker); i >= 0 {
			return out[:i]
		}
		select {
		case <-term.wrote:
		case <-timeout:
			t.Fatalf("the terminal did not show %q; it shows %q", marker, out)
		}
	}
}

// runOn runs a command with stderr (and optionally stdin) on the terminal.
func runOn(t *testing.T, term *terminal, stdin *os.File, args ...string) (stdout string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	if stdin == nil {
		code = run(ctx, args, strings.NewReader(""), &out, term.slave)
	} else {
		code = run(ctx, args, stdin, &out, term.slave)
	}
	return out.String(), code
}

func TestConsumeHintsInTerminal(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "2")
	ok(t, addr, lines("h", 0, 3), "produce", name)

	term := openTerminal(t)
	if _, code := runOn(t, term, nil, "-b", addr, "consume", name, "--idle-timeout", "200ms"); code != 0 {
		t.Fatalf("exit %d: %s", code, term.shown(t))
	}
	want := "Waiting for new records at the end of " + name + "; --from-beginning reads existing ones."
	if got := term.shown(t); !strings.Contains(got, want) {
		t.Fatalf("the terminal shows %q, not %q", got, want)
	}

	term = openTerminal(t)
	out, code := runOn(t, term, nil, "-b", addr, "consume", name, "--from-beginning", "--idle-timeout", "200ms")
	want = "Up to date with " + name + "; waiting for new records. Ctrl-C to stop."
	if got := term.shown(t); code != 0 || out != lines("h", 0, 3) || !strings.Contains(got, want) {
		t.Fatalf("exit %d, stdout %q; the terminal shows %q, not %q", code, out, got, want)
	}

	// Not for scripts: stderr is not a terminal.
	r := ok(t, addr, "", "consume", name, "--idle-timeout", "200ms")
	if strings.Contains(r.stderr, "Waiting") {
		t.Fatalf("a hint with stderr not a terminal: %q", r.stderr)
	}
	// Nor when the command stops by itself.
	term = openTerminal(t)
	runOn(t, term, nil, "-b", addr, "consume", name, "-e")
	if got := term.shown(t); strings.Contains(got, "Waiting") || strings.Contains(got, "Up to date") {
		t.Fatalf("a hint with -e: %q", got)
	}
}

func TestConsumeGroupHintInTerminal(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	term := openTerminal(t)
	if _, code := runOn(t, term, nil, "-b", addr, "consume", name, "--group", name, "--idle-timeout", "200ms"); code != 0 {
		t.Fatalf("exit %d: %s", code, term.shown(t))
	}
	got := term.shown(t)
	for _, want := range []string{
		`Joining group "` + name + `"; records of ` + name + ` are printed once it assigns partitions. Ctrl-C to stop.`,
		"Up to date with " + name + "; waiting for new records.",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("the terminal shows %q, not %q", got, want)
		}
	}
}

func TestProduceHintInTerminal(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")

	// Typing at the terminal: a line, then Ctrl-D at the start of the next.
	term := openTerminal(t)
	if _, err := term.master.Write([]byte("k:typed\n\x04")); err != nil {
		t.Fatal(err)
	}
	if _, code := runOn(t, term, term.slave, "-b", addr, "produce", name, "--key-separator", ":"); code != 0 {
		t.Fatalf("exit %d: %s", code, term.shown(t))
	}
	want := `Type records, one per line, key and value separated by ":"; Ctrl-D to finish.`
	if got := term.shown(t); !strings.Contains(got, want) || !strings.Contains(got, "1 record sent") {
		t.Fatalf("the terminal shows %q, not %q", got, want)
	}
	r := ok(t, addr, "", "consume", name, "--from-beginning", "-e", "--print-key")
	if r.stdout != "k\ttyped\n" {
		t.Fatalf("produced %q", r.stdout)
	}

	// Input from a file or pipe: nothing to type, no hint.
	term = openTerminal(t)
	if _, code := runOn(t, term, nil, "-b", addr, "produce", name); code != 0 {
		t.Fatalf("exit %d: %s", code, term.shown(t))
	}
	if got := term.shown(t); strings.Contains(got, "Type records") {
		t.Fatalf("a hint with stdin not a terminal: %q", got)
	}
	if r := ok(t, addr, "x\n", "produce", name); strings.Contains(r.stderr, "Type records") {
		t.Fatalf("a hint with neither a terminal: %q", r.stderr)
	}
}
