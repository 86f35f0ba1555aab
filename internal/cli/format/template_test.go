package format

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		``:            ``,
		`plain`:       `plain`,
		`a\nb`:        "a\nb",
		`\t\r\0\\`:    "\t\r\x00\\",
		`\x1e|\x7F`:   "\x1e|\x7f",
		`100%`:        `100%`,
		`tab\there\n`: "tab\there\n",
	} {
		got, err := Unescape(in)
		if err != nil || got != want {
			t.Errorf("Unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`\`, `a\q`, `\x`, `\x1`, `\xzz`} {
		if _, err := Unescape(in); err == nil {
			t.Errorf("Unescape(%q) accepted", in)
		}
	}
}

func TestTemplateOutput(t *testing.T) {
	r := rec([]byte("k"), []byte("v"), kgo.RecordHeader{Key: "a", Value: []byte("1")}, kgo.RecordHeader{Key: "b", Value: []byte("2")})
	for tmpl, want := range map[string]string{
		`%k=%v\n`:                    "k=v\n",
		`%t/%p@%o %T\t%v`:            "orders/2@41 1700000000123\tv",
		`[%h] %K %S 100%%\n`:         "[a=1,b=2] 1 1 100%\n",
		`no verbs\n`:                 "no verbs\n",
		`%v\x00`:                     "v\x00",
		`%k%v%k`:                     "kvk",
		`%%k is %k, %%v is %v\r\n`:   "%k is k, %v is v\r\n",
		`headers: %h; topic: %t`:     "headers: a=1,b=2; topic: orders",
		`offset \\ partition %o\\%p`: `offset \ partition 41\2`,
		`é%vé`:                       "évé",
	} {
		tp, err := ParseTemplate(tmpl, OutputVerbs)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tmpl, err)
		}
		if got := string(tp.AppendRecord(nil, r)); got != want {
			t.Errorf("%q rendered %q, want %q", tmpl, got, want)
		}
	}
	// Null key and value print as nothing; their lengths as -1.
	tp, _ := ParseTemplate(`[%k][%v][%h] %K %S`, OutputVerbs)
	if got := string(tp.AppendRecord(nil, rec(nil, nil))); got != "[][][] -1 -1" {
		t.Errorf("null record rendered %q", got)
	}
	for tmpl, want := range map[string]string{
		`%x`:   "unknown verb %x",
		`50%`:  "ends in %",
		`%v\q`: `unknown escape \q`,
	} {
		if _, err := ParseTemplate(tmpl, OutputVerbs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTemplate(%q) = %v, want an error saying %q", tmpl, err, want)
		}
	}
	if _, err := ParseTemplate(`%o`, InputVerbs); err == nil || !strings.Contains(err.Error(), "want %k key, %v value or %p partition") {
		t.Errorf("%%o in an input template: %v", err)
	}
}

func TestRecordWriterTemplate(t *testing.T) {
	var b bytes.Buffer
	kind, tp, err := ParseRecordFormat(`%k=%v\n`)
	if err != nil || kind != Custom {
		t.Fatal(kind, err)
	}
	rw := &RecordWriter{W: &b, Kind: kind, Template: tp}
	rw.Write(rec([]byte("a"), []byte("1")))
	rw.Write(rec(nil, []byte("2")))
	if b.String() != "a=1\n=2\n" {
		t.Fatalf("got %q", b.String())
	}
	for _, s := range []string{"text", "json"} {
		if k, tp, err := ParseRecordFormat(s); string(k) != s || tp != nil || err != nil {
			t.Errorf("ParseRecordFormat(%q) = %v, %v, %v", s, k, tp, err)
		}
	}
	if _, _, err := ParseRecordFormat("xml"); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("xml: %v", err)
	}
}

// scanAll reads every record of in with tmpl.
func scanAll(t *testing.T, tmpl, in string) ([]ScannedRecord, error) {
	t.Helper()
	tp, err := ParseTemplate(tmpl, InputVerbs)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.CheckInput(); err != nil {
		t.Fatal(err)
	}
	// One byte at a time, so fields and delimiters straddle reads.
	s := NewScanner(iotest.OneByteReader(strings.NewReader(in)), tp)
	var out []ScannedRecord
	for s.Scan() {
		out = append(out, s.Record())
	}
	if s.N() != int64(len(out)) {
		t.Fatalf("N() = %d after %d records", s.N(), len(out))
	}
	return out, s.Err()
}

func TestScanner(t *testing.T) {
	type kv struct {
		key   *string
		value string
		part  int32
	}
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		tmpl, in string
		want     []kv
	}{
		{`%v\n`, "a\nb\n", []kv{{nil, "a", -1}, {nil, "b", -1}}},
		{`%v\n`, "a\n\nlast", []kv{{nil, "a", -1}, {nil, "", -1}, {nil, "last", -1}}},
		{`%v\n`, "", nil},
		{`%k=%v\n`, "k1=v=1\nk2=\n=v3", []kv{{s("k1"), "v=1", -1}, {s("k2"), "", -1}, {s(""), "v3", -1}}},
		{`%k\t%v\r\n`, "a\tb\r\nc\td\r\n", []kv{{s("a"), "b", -1}, {s("c"), "d", -1}}},
		{`%v|||`, "x||y|||z||||", []kv{{nil, "x||y", -1}, {nil, "z", -1}, {nil, "|", -1}}},
		{`%p:%k:%v\n`, "2:a:b\n0::c\n", []kv{{s("a"), "b", 2}, {s(""), "c", 0}}},
		{`key=%k value=%v\n`, "key=a value=b\nkey=c value=d", []kv{{s("a"), "b", -1}, {s("c"), "d", -1}}},
		{`%v`, "all of\nit\n", []kv{{nil, "all of\nit\n", -1}}},
		{`%v\0`, "a\x00b\x00", []kv{{nil, "a", -1}, {nil, "b", -1}}},
		// A field may hold part of the delimiter, or the delimiter may
		// begin with the text after the field.
		{`%k=%v\r\n`, "a\r=b\r\n", []kv{{s("a\r"), "b", -1}}},
		{`%k:%v:\n`, "a:b:\nc::\n", []kv{{s("a"), "b", -1}, {s("c"), "", -1}}},
	} {
		got, err := scanAll(t, tc.tmpl, tc.in)
		if err != nil {
			t.Errorf("%q on %q: %v", tc.tmpl, tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q on %q: %d records, want %d: %+v", tc.tmpl, tc.in, len(got), len(tc.want), got)
			continue
		}
		for i, w := range tc.want {
			g := got[i]
			if (g.Key == nil) != (w.key == nil) || (w.key != nil && string(g.Key) != *w.key) || string(g.Value) != w.value || g.Partition != w.part {
				t.Errorf("%q on %q: record %d is key %q value %q partition %d, want %v %q %d", tc.tmpl, tc.in, i, g.Key, g.Value, g.Partition, w.key, w.value, w.part)
			}
		}
	}
	for _, tc := range []struct{ tmpl, in, want string }{
		{`%k=%v\n`, "a=1\nnoequals\n", `record 2: no "=" before the end of the record ("\n")`},
		{`%k=%v\n`, "a=1\nno equals\nb=2\n", `record 2: no "=" before the end of the record ("\n")`},
		{`%k=%v\n`, "a=1\nnoequals", `record 2: the input ends before "="`},
		{`%k\t%v\r\n`, "a\tb\r\nc\r\nd\te\r\n", `record 2: no "\t" before the end of the record ("\r\n")`},
		{`key=%k %v\n`, "key=a b\nkye=c d\n", `record 2: expected "key=", found "kye="`},
		{`%p:%v\n`, "x:a\n", `record 1: "x" is not a partition number`},
		{`%p:%v\n`, "-1:a\n", `record 1: "-1" is not a partition number`},
	} {
		if _, err := scanAll(t, tc.tmpl, tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("%q on %q: error %v, want %q", tc.tmpl, tc.in, err, tc.want)
		}
	}
}

func TestCheckInput(t *testing.T) {
	for tmpl, want := range map[string]string{
		`%k%v\n`:     "need text between them",
		`%v:%v\n`:    "uses %v twice",
		`%k\n`:       "has no %v",
		`plain text`: "has no %v",
	} {
		tp, err := ParseTemplate(tmpl, InputVerbs)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.CheckInput(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckInput(%q) = %v, want %q", tmpl, err, want)
		}
	}
	for tmpl, line := range map[string]bool{`%v\n`: true, `%k=%v\n`: true, `%k\n%v\n`: false, `%v\0`: false, `%v`: false} {
		tp, _ := ParseTemplate(tmpl, InputVerbs)
		if tp.LineBased() != line {
			t.Errorf("LineBased(%q) = %v", tmpl, !line)
		}
	}
}

// FuzzScanner checks that records written as key=value lines come back
// whole, whatever bytes other than the delimiters they hold.
func FuzzScanner(f *testing.F) {
	f.Add("k", "v", "k2", "v=2")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		for _, s := range []string{k1, k2} {
			if strings.ContainsAny(s, "=\n") {
				return
			}
		}
		for _, s := range []string{v1, v2} {
			if strings.Contains(s, "\n") {
				return
			}
		}
		got, err := scanAll(t, `%k=%v\n`, k1+"="+v1+"\n"+k2+"="+v2+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got[0].Key) != k1 || string(got[0].Value) != v1 || string(got[1].Key) != k2 || string(got[1].Value) != v2 {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestDelimitedValues(t *testing.T) {
	for _, tc := range []struct {
		delim, in string
		want      []string
	}{
		{"\n", "a\nb\n", []string{"a", "b"}},
		{"\x00", "a\nb\x00c", []string{"a\nb", "c"}},
		{"--", "a-b--c---", []string{"a-b", "c", "-"}},
		{"", "all\nof it\n", []string{"all\nof it\n"}},
		{"", "", nil},
	} {
		tp := DelimitedValues(tc.delim)
		if err := tp.CheckInput(); err != nil {
			t.Fatal(err)
		}
		s := NewScanner(strings.NewReader(tc.in), tp)
		var got []string
		for s.Scan() {
			if s.Record().Key != nil {
				t.Errorf("delimiter %q: a key", tc.delim)
			}
			got = append(got, string(s.Record().Value))
		}
		if s.Err() != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("delimiter %q on %q: %q, %v", tc.delim, tc.in, got, s.Err())
		}
	}
}
