package coordinator

import (
	"context"
	"errors"
	"testing"
)

// Kafka's partition for a key: abs(String.hashCode) % n, with Kafka's abs
// mapping MinInt32 to 0. The expected values are Java's String.hashCode.
func TestPartitionForMatchesJava(t *testing.T) {
	for _, c := range []struct {
		key  string
		n    int32
		want int32
	}{
		{"", 50, 0},
		{"a", 50, 97 % 50},
		{"group-1", 50, 293427299 % 50}, // "group-1".hashCode()
		{"polygenelubricants", 50, 0},   // hashCode() = MinInt32
		{"é", 50, 233 % 50},             // one UTF-16 unit
		{"😀", 50, 1772899 % 50},         // a surrogate pair: 55357*31 + 56834
	} {
		if got := PartitionFor(c.key, c.n); got != c.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
	}
}

func TestMemStorageKeepsCopiesAndFails(t *testing.T) {
	s := NewMemStorage()
	key, val := []byte("k"), []byte("v")
	if err := s.Append(context.Background(), 3, []Record{{Key: key, Value: val}, {Key: []byte("t")}}); err != nil {
		t.Fatal(err)
	}
	key[0], val[0] = 'x', 'x' // the caller reuses its buffers
	var got []Record
	if err := s.Replay(context.Background(), 3, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Key) != "k" || string(got[0].Value) != "v" || got[1].Value != nil {
		t.Fatalf("replayed %q", got)
	}
	s.SetFail(errors.New("disk full"))
	if err := s.Append(context.Background(), 3, []Record{{Key: key}}); err == nil || s.Len() != 2 {
		t.Fatalf("append with a failure set: %v, %d records", err, s.Len())
	}
}

func TestPropsKeepDefaultsAndStopAtTheFirstBadValue(t *testing.T) {
	p := NewProps(map[string]string{"a": " 7 ", "b": "", "c": "x", "d": "9"})
	a, b, c, d := int32(1), int64(2), int16(3), int64(4)
	p.Int32("a", &a)
	p.Int64("b", &b)
	p.Int16("c", &c)
	p.Int64("d", &d) // after the error: left alone
	if a != 7 || b != 2 || c != 3 || d != 4 {
		t.Fatalf("read a=%d b=%d c=%d d=%d", a, b, c, d)
	}
	if p.Err == nil || p.Err.Error() != `c: "x" is not a 16-bit integer` {
		t.Fatalf("error %v", p.Err)
	}
}
