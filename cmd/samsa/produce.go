package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxReportedErrors bounds how many per-record failures are printed one by
// one; the rest are only counted, so a broken pipe of a million lines does
// not bury the summary.
const maxReportedErrors = 20

type produceFlags struct {
	keySeparator string
	key          string
	delimiter    string
	format       string
	files        []string
	headers      []string
	acks         string
	compression  string
	partition    int32
	idempotent   bool
}

func newProduceCmd(flags *clientFlags) *cobra.Command {
	pf := &produceFlags{}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Send lines from standard input (or files) as records",
		Long: `Send each line of standard input as one record to TOPIC.

With --key-separator, the text before the first separator is the record key
and the rest is the value; a line without the separator has a null key.
--key gives every record the same key. --delimiter ends records with
something else than a newline (an empty one makes each input one record),
and --format reads records laid out as a template such as '%k=%v\n' (%k
key, %v value, %p partition; \n, \t, \0 and \xHH escapes). --file reads
files instead of standard input, one after the other.

A summary (records sent, records failed) is printed on standard error at the
end; each failed record is reported with its line (or record) number. The
exit code is 1 if any record failed. Typing at a terminal, end the input
with Ctrl-D.`,
		Example: `  printf 'k1:hello\nk2:world\n' | samsa produce orders --key-separator :
  printf 'k1=hello\n' | samsa produce orders --format '%k=%v\n'
  samsa produce orders --key user-7 -H source=cli -H env=dev --file events.txt
  find . -print0 | samsa produce paths --delimiter '\0'
  samsa produce orders --header source=cli --acks 1 --compression zstd < events.txt`,
		Args: exactArgs(1, "one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			in, err := pf.input(fl.Changed("key"), fl.Changed("delimiter"))
			if err != nil {
				return &usageError{err}
			}
			opts, err := pf.kgoOpts(fl.Changed("idempotent"), in.tmpl.Has('p'))
			if err != nil {
				return &usageError{err}
			}
			headers, err := parseHeaders(pf.headers)
			if err != nil {
				return &usageError{err}
			}
			for _, name := range in.files {
				if name == "-" {
					continue
				}
				if _, err := os.Stat(name); err != nil {
					return cli.Sentencef(err, "cannot read %s", strings.TrimPrefix(err.Error(), "stat "))
				}
			}
			o := flags.options()
			opts = append(opts, kgo.RecordDeliveryTimeout(o.EffectiveTimeout()))
			cl, err := cli.Dial(cmd.Context(), o, opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			p := &recordProducer{
				cl:        cl,
				topic:     args[0],
				in:        in,
				headers:   headers,
				partition: pf.partition,
				opts:      o,
				stderr:    cmd.ErrOrStderr(),
			}
			stdin := cmd.InOrStdin()
			if in.readsStdin() && cli.IsTerminal(stdin) && cli.IsTerminal(cmd.ErrOrStderr()) {
				fmt.Fprintln(cmd.ErrOrStderr(), in.typingHint())
			}
			return p.run(cmd.Context(), stdin)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&pf.keySeparator, "key-separator", "K", "", "split each line into key and value at the first occurrence of this string")
	f.StringVarP(&pf.key, "key", "k", "", "give every record this key")
	f.StringVarP(&pf.delimiter, "delimiter", "D", `\n`, `what ends each record (\n, \t, \0 and \xHH escapes); empty: each input is one record`)
	f.StringVarP(&pf.format, "format", "f", "", `read records laid out as this template, e.g. '%k=%v\n' (%k key, %v value, %p partition)`)
	f.StringArrayVar(&pf.files, "file", nil, "read records from this file instead of standard input (repeatable; - is standard input)")
	f.StringArrayVarP(&pf.headers, "header", "H", nil, "add a header key=value to every record (repeatable)")
	f.StringVar(&pf.acks, "acks", "all", "acknowledgements to wait for: all, 1 or 0")
	f.StringVar(&pf.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.Int32VarP(&pf.partition, "partition", "p", -1, "send every record to this partition (default: hash of the key, or sticky for null keys)")
	f.BoolVar(&pf.idempotent, "idempotent", true, "idempotent producer (needs --acks all; turned off by default for other acks)")
	return cmd
}

// produceInput says where records come from and how they are laid out.
type produceInput struct {
	tmpl     *format.Template // how input splits into records
	keySep   []byte           // with --key-separator: split each value into key and value
	fixedKey []byte           // with --key: every record's key
	files    []string         // none: standard input
	unit     string           // what a record is called in messages: line or record
}

// input checks the flags that shape the input.
func (pf *produceFlags) input(keySet, delimiterSet bool) (produceInput, error) {
	in := produceInput{files: pf.files, unit: "record"}
	stdin := 0
	for _, f := range pf.files {
		switch f {
		case "":
			return in, errors.New("--file needs a file name (or - for standard input)")
		case "-":
			if stdin++; stdin > 1 {
				return in, errors.New("--file - (standard input) given twice")
			}
		}
	}
	if pf.format != "" {
		if pf.keySeparator != "" || delimiterSet {
			return in, fmt.Errorf("--format replaces --key-separator and --delimiter: write them in the template, e.g. '%%k:%%v\\n'")
		}
		t, err := format.ParseTemplate(pf.format, format.InputVerbs)
		if err != nil {
			return in, err
		}
		if err := t.CheckInput(); err != nil {
			return in, err
		}
		in.tmpl = t
	} else {
		delim, err := format.Unescape(pf.delimiter)
		if err != nil {
			return in, fmt.Errorf("bad --delimiter: %w", err)
		}
		in.tmpl = format.DelimitedValues(delim)
		in.keySep = []byte(pf.keySeparator)
	}
	if in.tmpl.LineBased() {
		in.unit = "line"
	}
	if keySet {
		switch {
		case pf.keySeparator != "":
			return in, errors.New("give --key or --key-separator, not both")
		case in.tmpl.Has('k'):
			return in, errors.New("give --key or %k in --format, not both")
		}
		in.fixedKey = []byte(pf.key)
	}
	if in.tmpl.Has('p') && pf.partition >= 0 {
		return in, errors.New("give --partition or %p in --format, not both")
	}
	return in, nil
}

func (in produceInput) readsStdin() bool {
	return len(in.files) == 0 || slices.Contains(in.files, "-")
}

// typingHint tells a person typing records at a terminal how to finish.
func (in produceInput) typingHint() string {
	switch {
	case !in.tmpl.LineBased():
		return fmt.Sprintf("Type records as %q; Ctrl-D to finish.", in.tmpl.String())
	case len(in.keySep) > 0:
		return fmt.Sprintf("Type records, one per line, key and value separated by %q; Ctrl-D to finish.", in.keySep)
	case in.tmpl.Has('k'):
		return fmt.Sprintf("Type records, one per line, as %q; Ctrl-D to finish.", in.tmpl.String())
	}
	return "Type records, one per line; Ctrl-D to finish."
}

// kgoOpts validates the producer flags and returns the client options they
// imply. idempotentSet says whether --idempotent was given explicitly.
// manualPartitions says records carry their partition (a %p template).
func (pf *produceFlags) kgoOpts(idempotentSet, manualPartitions bool) ([]kgo.Opt, error) {
	acks, err := cli.ParseAcks(pf.acks)
	if err != nil {
		return nil, err
	}
	codec, err := cli.ParseCompression(pf.compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.AllowAutoTopicCreation(), // as the Java producer: the broker decides
	}
	allAcks := pf.acks == "all" || pf.acks == "-1"
	switch {
	case !pf.idempotent:
		opts = append(opts, kgo.DisableIdempotentWrite())
	case !allAcks && idempotentSet:
		return nil, fmt.Errorf("--idempotent needs --acks all (got --acks %s)", pf.acks)
	case !allAcks:
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if pf.partition < -1 {
		return nil, fmt.Errorf("--partition %d is negative", pf.partition)
	}
	if pf.partition >= 0 || manualPartitions {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	return opts, nil
}

func parseHeaders(kvs []string) ([]kgo.RecordHeader, error) {
	var out []kgo.RecordHeader
	for _, s := range kvs {
		k, v, err := cli.ParseKV(s)
		if err != nil {
			return nil, fmt.Errorf("bad --header: %w", err)
		}
		out = append(out, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return out, nil
}

// splitLine splits a line into key and value at the first sep. With no
// separator configured, or none in the line, the key is nil (a null key).
func splitLine(line, sep []byte) (key, value []byte) {
	if len(sep) == 0 {
		return nil, line
	}
	k, v, ok := bytes.Cut(line, sep)
	if !ok {
		return nil, line
	}
	return k, v
}

// recordProducer sends records read from the input and keeps the tally.
type recordProducer struct {
	cl        *kgo.Client
	topic     string
	in        produceInput
	headers   []kgo.RecordHeader
	partition int32
	opts      cli.Options
	stderr    io.Writer

	sent, failed, bytes atomic.Int64
	mu                  sync.Mutex // serializes writes to stderr
}

// inputRecord is a record read from the input, with where it was read.
type inputRecord struct {
	file string // "" for standard input
	n    int64
	rec  format.ScannedRecord
}

// where names the record in a message: "line 3", "events.txt record 2".
func (r inputRecord) where(unit string) string {
	if r.file == "" {
		return fmt.Sprintf("%s %d", unit, r.n)
	}
	return fmt.Sprintf("%s %s %d", r.file, unit, r.n)
}

// readRecords sends the records of each input (the files in turn, or
// stdin) on the returned channel, and closes it at the end or on the first
// error (sent on errc).
func (in produceInput) readRecords(ctx context.Context, stdin io.Reader) (<-chan inputRecord, <-chan error) {
	recs := make(chan inputRecord, 256)
	errc := make(chan error, 1)
	files := in.files
	if len(files) == 0 {
		files = []string{"-"}
	}
	go func() {
		defer close(recs)
		for _, name := range files {
			if err := in.readFile(ctx, name, stdin, recs); err != nil {
				errc <- err
				return
			}
		}
	}()
	return recs, errc
}

// readFile sends the records of one input (name "-": stdin) on recs.
func (in produceInput) readFile(ctx context.Context, name string, stdin io.Reader, recs chan<- inputRecord) error {
	r, label, where := stdin, "", "standard input"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return cli.Sentencef(err, "cannot read %s", strings.TrimPrefix(err.Error(), "open "))
		}
		defer f.Close()
		r, label, where = f, name, name
	}
	s := format.NewScanner(r, in.tmpl)
	for s.Scan() {
		select {
		case recs <- inputRecord{file: label, n: s.N(), rec: s.Record()}:
		case <-ctx.Done():
			return nil
		}
	}
	if err := s.Err(); err != nil {
		return cli.Sentencef(err, "%s: %v", where, err)
	}
	return nil
}

func (p *recordProducer) run(ctx context.Context, stdin io.Reader) error {
	start := time.Now()
	recs, errc := p.in.readRecords(ctx, stdin)
	var readErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop // interrupted: flush what was read and report
		case r, ok := <-recs:
			if !ok {
				select {
				case readErr = <-errc:
				default:
				}
				break loop
			}
			p.send(r)
		}
	}
	// Flush outside ctx: records already handed to the client are delivered
	// or fail by the delivery timeout, so the summary is complete.
	if err := p.cl.Flush(context.Background()); err != nil {
		return cli.Explain(err, p.opts)
	}
	sent, failed := p.sent.Load(), p.failed.Load()
	fmt.Fprintf(p.stderr, "%s sent to %q, %d failed (%s in %.2fs)\n",
		plural(sent, "record"), p.topic, failed, humanBytes(p.bytes.Load()), time.Since(start).Seconds())
	if readErr != nil {
		return readErr
	}
	if failed > 0 {
		return &exitError{code: 1, msg: failedSentence(failed, sent+failed)}
	}
	return nil
}

// failedSentence says how many of total records failed.
func failedSentence(failed, total int64) string {
	switch {
	case total == 1:
		return "the record failed"
	case failed == total:
		return fmt.Sprintf("all %d records failed", total)
	}
	return fmt.Sprintf("%d of %d records failed", failed, total)
}

func (p *recordProducer) send(in inputRecord) {
	key, value := in.rec.Key, in.rec.Value
	switch {
	case p.in.fixedKey != nil:
		key = p.in.fixedKey
	case len(p.in.keySep) > 0:
		key, value = splitLine(value, p.in.keySep)
	}
	r := &kgo.Record{Topic: p.topic, Key: key, Value: value, Headers: p.headers}
	switch {
	case in.rec.Partition >= 0:
		r.Partition = in.rec.Partition
	case p.partition >= 0:
		r.Partition = p.partition
	}
	size := int64(len(key) + len(value))
	// Records are produced with a background context: once read, a record
	// is either delivered or reported, even if the user interrupts.
	p.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		if err == nil {
			p.sent.Add(1)
			p.bytes.Add(size)
			return
		}
		if n := p.failed.Add(1); n <= maxReportedErrors {
			p.mu.Lock()
			fmt.Fprintf(p.stderr, "samsa: %s: %v\n", in.where(p.in.unit), cli.TopicError(p.topic, err, "", p.opts))
			if n == maxReportedErrors {
				fmt.Fprintf(p.stderr, "samsa: further failures are only counted\n")
			}
			p.mu.Unlock()
		}
	})
}

// humanBytes prints n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
