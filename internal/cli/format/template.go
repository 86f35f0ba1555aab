package format

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Verbs a template may use, as kcat's -f and rpk's --format name them.
const (
	// OutputVerbs are the verbs of a consume template: %t topic, %T
	// timestamp (Unix milliseconds), %p partition, %o offset, %k key, %v
	// value, %h headers (key=value,...), %K key length and %S value length
	// (-1 for null).
	OutputVerbs = "tTpokvhKS"
	// InputVerbs are the verbs of a produce template: %k key, %v value and
	// %p partition.
	InputVerbs = "kvp"
)

var verbNames = map[byte]string{
	't': "topic", 'T': "timestamp", 'p': "partition", 'o': "offset",
	'k': "key", 'v': "value", 'h': "headers", 'K': "key length", 'S': "value length",
}

// Template is a kcat-style format string: literal text, with \n, \r, \t,
// \0, \\ and \xHH escapes and %% for a percent sign, and %-verbs that stand
// for parts of a record.
type Template struct {
	src   string
	parts []part
}

// part is a literal (verb 0) or a verb.
type part struct {
	lit  []byte
	verb byte
}

// Unescape interprets the backslash escapes \n, \r, \t, \0, \\ and \xHH in
// s, so that a delimiter or template can be typed in a shell.
func Unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		c, n, err := escape(s[i:])
		if err != nil {
			return "", err
		}
		b.WriteByte(c)
		i += n - 1
	}
	return b.String(), nil
}

// escape reads the escape sequence at the start of s (which begins with a
// backslash) and returns the byte it stands for and its length.
func escape(s string) (byte, int, error) {
	if len(s) < 2 {
		return 0, 0, errors.New(`a trailing \ escapes nothing (write \\ for a backslash)`)
	}
	switch s[1] {
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case '0':
		return 0, 2, nil
	case '\\':
		return '\\', 2, nil
	case 'x':
		if len(s) >= 4 {
			if v, err := strconv.ParseUint(s[2:4], 16, 8); err == nil {
				return byte(v), 4, nil
			}
		}
		return 0, 0, fmt.Errorf(`%q: \x needs two hex digits`, s[:min(len(s), 4)])
	}
	return 0, 0, fmt.Errorf(`unknown escape \%c (want \n, \r, \t, \0, \\ or \xHH)`, s[1])
}

// ParseTemplate reads a template that may use the verbs in allowed
// (OutputVerbs or InputVerbs).
func ParseTemplate(s, allowed string) (*Template, error) {
	t := &Template{src: s}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			t.parts = append(t.parts, part{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b, n, err := escape(s[i:])
			if err != nil {
				return nil, fmt.Errorf("template %q: %w", s, err)
			}
			lit = append(lit, b)
			i += n - 1
		case '%':
			if i+1 == len(s) {
				return nil, fmt.Errorf("template %q ends in %% (write %%%% for a percent sign)", s)
			}
			v := s[i+1]
			i++
			if v == '%' {
				lit = append(lit, '%')
				continue
			}
			if !strings.ContainsRune(allowed, rune(v)) {
				return nil, fmt.Errorf("template %q: unknown verb %%%c (want %s)", s, v, verbList(allowed))
			}
			flush()
			t.parts = append(t.parts, part{verb: v})
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return t, nil
}

func verbList(allowed string) string {
	var names []string
	for i := range len(allowed) {
		names = append(names, "%"+allowed[i:i+1]+" "+verbNames[allowed[i]])
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// DelimitedValues is the input template of records that are values ended
// by delim (after [Unescape]); with an empty delim each input is one record.
func DelimitedValues(delim string) *Template {
	t := &Template{src: "%v" + delim, parts: []part{{verb: 'v'}}}
	if delim != "" {
		t.parts = append(t.parts, part{lit: []byte(delim)})
	}
	return t
}

// String is the template as given.
func (t *Template) String() string { return t.src }

// Has reports whether the template uses verb.
func (t *Template) Has(verb byte) bool {
	for _, p := range t.parts {
		if p.verb == verb {
			return true
		}
	}
	return false
}

// AppendRecord appends r rendered by the template to dst. A null key or
// value prints as nothing, as in kcat.
func (t *Template) AppendRecord(dst []byte, r *kgo.Record) []byte {
	for _, p := range t.parts {
		switch p.verb {
		case 0:
			dst = append(dst, p.lit...)
		case 't':
			dst = append(dst, r.Topic...)
		case 'T':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 'k':
			dst = append(dst, r.Key...)
		case 'v':
			dst = append(dst, r.Value...)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, '=')
				dst = append(dst, h.Value...)
			}
		case 'K':
			dst = strconv.AppendInt(dst, length(r.Key), 10)
		case 'S':
			dst = strconv.AppendInt(dst, length(r.Value), 10)
		}
	}
	return dst
}

func length(b []byte) int64 {
	if b == nil {
		return -1
	}
	return int64(len(b))
}

// CheckInput checks that t can split input into records: it uses %v, each
// verb at most once, and text (a delimiter) between any two verbs, since
// a verb's field runs up to the text that follows it.
func (t *Template) CheckInput() error {
	seen := map[byte]bool{}
	for i, p := range t.parts {
		if p.verb == 0 {
			continue
		}
		if seen[p.verb] {
			return fmt.Errorf("template %q uses %%%c twice", t.src, p.verb)
		}
		seen[p.verb] = true
		if i+1 < len(t.parts) && t.parts[i+1].verb != 0 {
			return fmt.Errorf("template %q: %%%c and %%%c need text between them, to tell where one ends", t.src, p.verb, t.parts[i+1].verb)
		}
	}
	if !seen['v'] {
		return fmt.Errorf("template %q has no %%v for the value", t.src)
	}
	return nil
}

// LineBased reports whether each record of the template is one line: it
// ends in a newline and has no other.
func (t *Template) LineBased() bool {
	if len(t.parts) == 0 {
		return false
	}
	last := t.parts[len(t.parts)-1]
	if last.verb != 0 || !bytes.HasSuffix(last.lit, []byte("\n")) {
		return false
	}
	n := 0
	for _, p := range t.parts {
		n += bytes.Count(p.lit, []byte("\n"))
	}
	return n == 1
}

// ScannedRecord is one record read by a [Scanner].
type ScannedRecord struct {
	// Key is nil unless the template has %k.
	Key []byte
	// Value is the %v field.
	Value []byte
	// Partition is the %p field, or -1 without %p.
	Partition int32
}

// Scanner reads records from input as a template describes: each verb's
// field runs up to the text that follows it in the template (the last
// verb's, to the end of the input if nothing follows). A field never runs
// past the template's final text, the record delimiter: with '%k=%v\n' a
// line without "=" is an error, not a key that runs into the next line. At
// the end of the input the last record's delimiter may be missing.
type Scanner struct {
	br    *bufio.Reader
	parts []part
	n     int64
	rec   ScannedRecord
	err   error
	done  bool
}

// NewScanner reads records from r as t (checked with CheckInput) describes.
func NewScanner(r io.Reader, t *Template) *Scanner {
	return &Scanner{br: bufio.NewReaderSize(r, 1<<16), parts: t.parts}
}

// Scan reads the next record. It returns false at the end of the input or
// on an error (see Err).
func (s *Scanner) Scan() bool {
	if s.done {
		return false
	}
	rec, ok, err := s.scan()
	if err != nil {
		s.err = fmt.Errorf("record %d: %w", s.n+1, err)
	}
	if !ok || err != nil {
		s.done = true
		return false
	}
	s.n++
	s.rec = rec
	return true
}

// Record is the record read by the last successful Scan. Its slices are
// its own.
func (s *Scanner) Record() ScannedRecord { return s.rec }

// N is the number of records read so far.
func (s *Scanner) N() int64 { return s.n }

// Err is the error that stopped Scan, if any (nil at the end of input).
func (s *Scanner) Err() error { return s.err }

func (s *Scanner) scan() (ScannedRecord, bool, error) {
	rec := ScannedRecord{Partition: -1}
	started := false
	i := 0
	if len(s.parts) > 0 && s.parts[0].verb == 0 {
		lit := s.parts[0].lit
		buf := make([]byte, len(lit))
		n, err := io.ReadFull(s.br, buf)
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			return rec, false, nil
		case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
			return rec, false, fmt.Errorf("read: %w", err)
		case !bytes.Equal(buf[:n], lit):
			return rec, false, fmt.Errorf("expected %q, found %q", lit, buf[:n])
		}
		started = true
		i = 1
	}
	var delim []byte // the record delimiter, if the template ends in one
	if last := s.parts[len(s.parts)-1]; last.verb == 0 {
		delim = last.lit
	}
	for i < len(s.parts) {
		verb := s.parts[i].verb
		var field []byte
		if i+1 < len(s.parts) {
			term := s.parts[i+1].lit
			stop := delim
			if i+2 == len(s.parts) {
				stop = nil // term is the delimiter
			}
			f, err := s.readUntil(term, stop)
			switch {
			case errors.Is(err, errPastDelimiter):
				return rec, false, fmt.Errorf("no %q before the end of the record (%q)", term, delim)
			case errors.Is(err, io.EOF):
				if !started && len(f) == 0 {
					return rec, false, nil
				}
				if i+2 != len(s.parts) {
					return rec, false, fmt.Errorf("the input ends before %q", term)
				}
				s.done = true // the last record, without its delimiter
			case err != nil:
				return rec, false, fmt.Errorf("read: %w", err)
			}
			field = f
			i += 2
		} else {
			f, err := io.ReadAll(s.br)
			if err != nil {
				return rec, false, fmt.Errorf("read: %w", err)
			}
			if !started && len(f) == 0 {
				return rec, false, nil
			}
			field = f
			i++
		}
		started = true
		switch verb {
		case 'k':
			rec.Key = field
		case 'v':
			rec.Value = field
		case 'p':
			p, err := strconv.ParseInt(string(field), 10, 32)
			if err != nil || p < 0 {
				return rec, false, fmt.Errorf("%q is not a partition number", field)
			}
			rec.Partition = int32(p)
		}
	}
	return rec, true, nil
}

var errPastDelimiter = errors.New("past the record delimiter")

// readUntil returns the bytes up to the next term, consuming term. At the
// end of input it returns what it read and io.EOF; if the bytes before term
// hold stop (when not nil), errPastDelimiter.
func (s *Scanner) readUntil(term, stop []byte) ([]byte, error) {
	var buf []byte
	stopAt := -1 // where stop first occurs in buf
	for {
		b, err := s.br.ReadSlice(term[len(term)-1])
		from := max(len(buf)-len(stop)+1, 0)
		buf = append(buf, b...)
		if err == nil && bytes.HasSuffix(buf, term) {
			field := buf[: len(buf)-len(term) : len(buf)-len(term)]
			if stop != nil && bytes.Contains(field, stop) {
				return nil, errPastDelimiter
			}
			return field, nil
		}
		if stop != nil && stopAt < 0 {
			if i := bytes.Index(buf[from:], stop); i >= 0 {
				stopAt = from + i
			}
		}
		// A term still to come starts at len(buf)-len(term)+1 or later:
		// stop, once wholly before that, is in the field.
		if stopAt >= 0 && (stopAt+len(stop) <= len(buf)-len(term)+1 || err != nil) {
			return nil, errPastDelimiter
		}
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if buf == nil {
			buf = []byte{}
		}
		return buf, err
	}
}
