package cluster

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// logBuffer keeps a node's output over all its starts: the first headLimit
// bytes and the last tailLimit, with a note of what was dropped between.
// A node logs at debug level, and what matters is usually how it started
// and how it ended.
type logBuffer struct {
	mu      sync.Mutex
	head    []byte
	tail    [][]byte // chunks, oldest first
	tailLen int
	dropped int64
}

const (
	headLimit = 1 << 20
	tailLimit = 7 << 20
)

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.write(p)
	return len(p), nil
}

func (b *logBuffer) write(p []byte) {
	if room := headLimit - len(b.head); room > 0 {
		n := min(room, len(p))
		b.head = append(b.head, p[:n]...)
		p = p[n:]
	}
	if len(p) == 0 {
		return
	}
	b.tail = append(b.tail, append([]byte(nil), p...))
	b.tailLen += len(p)
	for b.tailLen > tailLimit && len(b.tail) > 1 {
		b.dropped += int64(len(b.tail[0]))
		b.tailLen -= len(b.tail[0])
		b.tail[0] = nil
		b.tail = b.tail[1:]
	}
}

// mark writes a line of the harness's own (a start, a signal) between the
// node's lines.
func (b *logBuffer) mark(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.write([]byte(fmt.Sprintf("=== %s cluster: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))))
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	s.Grow(len(b.head) + b.tailLen + 64)
	s.Write(b.head)
	if b.dropped > 0 {
		fmt.Fprintf(&s, "\n=== cluster: %d bytes of output dropped here ===\n", b.dropped)
	}
	for _, c := range b.tail {
		s.Write(c)
	}
	return s.String()
}

// lastLines is the end of s: its last n lines.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	i := len(s)
	for ; n > 0 && i > 0; n-- {
		j := strings.LastIndexByte(s[:i], '\n')
		if j < 0 {
			return s
		}
		i = j
	}
	if i == 0 {
		return s
	}
	return s[i+1:]
}
