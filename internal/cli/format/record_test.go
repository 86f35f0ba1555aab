package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func rec(key, value []byte, headers ...kgo.RecordHeader) *kgo.Record {
	return &kgo.Record{
		Topic: "orders", Partition: 2, Offset: 41,
		Timestamp: time.UnixMilli(1700000000123),
		Key:       key, Value: value, Headers: headers,
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	rw := &RecordWriter{W: &b, Kind: Text}
	rw.Write(rec([]byte("k"), []byte("v1")))
	rw.PrintKey = true
	rw.Write(rec([]byte("k"), []byte("v2")))
	rw.Write(rec(nil, []byte("v3")))
	rw.KeySeparator = ":"
	rw.Write(rec([]byte("k"), nil))
	want := "v1\nk\tv2\nnull\tv3\nk:null\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	rw := &RecordWriter{W: &b, Kind: JSON}
	rw.Write(rec([]byte("k"), []byte("héllo"), kgo.RecordHeader{Key: "h", Value: []byte("x")}))
	rw.Write(rec(nil, []byte{0xff, 0x00}, kgo.RecordHeader{Key: "n"}))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", b.String())
	}
	want0 := `{"topic":"orders","partition":2,"offset":41,"timestamp":1700000000123,"key":"k","value":"héllo","headers":[{"key":"h","value":"x"}]}`
	if lines[0] != want0 {
		t.Fatalf("got  %s\nwant %s", lines[0], want0)
	}
	var j JSONRecord
	if err := json.Unmarshal([]byte(lines[1]), &j); err != nil {
		t.Fatal(err)
	}
	if j.Key != nil || j.ValueEncoding != "base64" || *j.Value != base64.StdEncoding.EncodeToString([]byte{0xff, 0}) {
		t.Fatalf("binary value: got %+v", j)
	}
	if len(j.Headers) != 1 || j.Headers[0].Value != nil {
		t.Fatalf("null header value: got %+v", j.Headers)
	}
}

func TestTopicIDAndMillis(t *testing.T) {
	var id [16]byte
	for i := range id {
		id[i] = byte(i * 17)
	}
	if got := TopicID(id); len(got) != 22 || strings.ContainsAny(got, "+/=") {
		t.Fatalf("TopicID = %q", got)
	}
	if Millis(-1) != "-" || Millis(0) != "1970-01-01T00:00:00Z" {
		t.Fatal(Millis(-1), Millis(0))
	}
}

func TestTable(t *testing.T) {
	tb := NewTable("NAME", "N")
	tb.Row("a-long-name", "1")
	tb.Row("b\tc", "22", "extra")
	tb.Row("short")
	var b bytes.Buffer
	if err := tb.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := "NAME         N\na-long-name  1\nb c          22\nshort        \n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// FuzzJSON checks that any record becomes one line of valid JSON from which
// the key and value bytes come back exactly.
func FuzzJSON(f *testing.F) {
	f.Add([]byte("k"), []byte("v"), "h", []byte("x"), false)
	f.Add([]byte{}, []byte{0xff, 0xfe}, "", []byte{}, true)
	f.Add([]byte("\n\"\\"), []byte("\u2028"), "\x00", []byte{0x80}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, hk string, hv []byte, nullKey bool) {
		if nullKey {
			key = nil
		}
		var b bytes.Buffer
		rw := &RecordWriter{W: &b, Kind: JSON}
		if err := rw.Write(rec(key, value, kgo.RecordHeader{Key: hk, Value: hv})); err != nil {
			t.Fatal(err)
		}
		out := b.Bytes()
		if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
			t.Fatalf("not one line: %q", out)
		}
		var j JSONRecord
		if err := json.Unmarshal(out, &j); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		if got := decode(t, j.Key, j.KeyEncoding); !bytes.Equal(got, key) || (got == nil) != (key == nil) {
			t.Fatalf("key %q came back as %q", key, got)
		}
		if got := decode(t, j.Value, j.ValueEncoding); !bytes.Equal(got, value) {
			t.Fatalf("value %q came back as %q", value, got)
		}
	})
}

func decode(t *testing.T, s *string, enc string) []byte {
	if s == nil {
		return nil
	}
	if enc == "base64" {
		b, err := base64.StdEncoding.DecodeString(*s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []byte(*s)
}
