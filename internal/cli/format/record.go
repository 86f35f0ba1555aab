package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kind names an output format.
type Kind string

// The record output formats.
const (
	Text Kind = "text"
	JSON Kind = "json"
	// Custom renders each record with a [Template].
	Custom Kind = "template"
)

// ParseRecordFormat accepts "text", "json", or a template (anything with a
// %-verb or a backslash escape, e.g. '%k=%v\n') using [OutputVerbs].
func ParseRecordFormat(s string) (Kind, *Template, error) {
	switch Kind(s) {
	case Text, JSON:
		return Kind(s), nil, nil
	}
	if !strings.ContainsAny(s, `%\`) {
		return "", nil, fmt.Errorf(`unknown format %q (want text, json, or a template such as '%%k=%%v\n')`, s)
	}
	t, err := ParseTemplate(s, OutputVerbs)
	if err != nil {
		return "", nil, err
	}
	return Custom, t, nil
}

// RecordWriter writes consumed records to an io.Writer. It is not safe for
// concurrent use.
type RecordWriter struct {
	W    io.Writer
	Kind Kind
	// PrintKey prefixes the value with the key and KeySeparator in text
	// mode. JSON always includes the key.
	PrintKey bool
	// KeySeparator goes between key and value in text mode; empty means a tab.
	KeySeparator string
	// NullLiteral is printed in text mode for a null key or value; empty
	// means "null".
	NullLiteral string
	// Template renders records in Custom mode; nothing is added after it,
	// so it usually ends in \n.
	Template *Template

	buf  bytes.Buffer
	tbuf []byte
}

// Header is a record header in JSON output.
type Header struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// JSONRecord is the shape of one line of JSON output.
type JSONRecord struct {
	Topic         string   `json:"topic"`
	Partition     int32    `json:"partition"`
	Offset        int64    `json:"offset"`
	Timestamp     int64    `json:"timestamp"` // Unix milliseconds
	Key           *string  `json:"key"`
	KeyEncoding   string   `json:"key_encoding,omitempty"`
	Value         *string  `json:"value"`
	ValueEncoding string   `json:"value_encoding,omitempty"`
	Headers       []Header `json:"headers"`
}

// encode returns b as a string (nil for nil) and "base64" when b is not
// valid UTF-8.
func encode(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

// ToJSON converts r to its JSON output shape.
func ToJSON(r *kgo.Record) JSONRecord {
	j := JSONRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UnixMilli(),
		Headers:   make([]Header, 0, len(r.Headers)),
	}
	j.Key, j.KeyEncoding = encode(r.Key)
	j.Value, j.ValueEncoding = encode(r.Value)
	for _, h := range r.Headers {
		v, enc := encode(h.Value)
		j.Headers = append(j.Headers, Header{Key: h.Key, Value: v, ValueEncoding: enc})
	}
	return j
}

// Write prints one record.
func (rw *RecordWriter) Write(r *kgo.Record) error {
	rw.buf.Reset()
	switch rw.Kind {
	case Custom:
		rw.tbuf = rw.Template.AppendRecord(rw.tbuf[:0], r)
		_, err := rw.W.Write(rw.tbuf)
		return err
	case JSON:
		b, err := json.Marshal(ToJSON(r))
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		rw.buf.Write(b)
	default:
		if rw.PrintKey {
			rw.writeText(r.Key)
			sep := rw.KeySeparator
			if sep == "" {
				sep = "\t"
			}
			rw.buf.WriteString(sep)
		}
		rw.writeText(r.Value)
	}
	rw.buf.WriteByte('\n')
	_, err := rw.W.Write(rw.buf.Bytes())
	return err
}

func (rw *RecordWriter) writeText(b []byte) {
	if b == nil {
		null := rw.NullLiteral
		if null == "" {
			null = "null"
		}
		rw.buf.WriteString(null)
		return
	}
	rw.buf.Write(b)
}

// Millis formats a Unix-millisecond timestamp as RFC 3339 in UTC, or "-" for
// a negative (unknown) one.
func Millis(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

// TopicID prints a topic id as Kafka's tools do: URL-safe base64 without
// padding (22 characters).
func TopicID(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
