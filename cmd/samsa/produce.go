package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxReportedErrors bounds how many per-record failures are printed one by
// one; the rest are only counted, so a broken pipe of a million lines does
// not bury the summary.
const maxReportedErrors = 20

type produceFlags struct {
	keySeparator string
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
		Short: "Send lines from standard input as records",
		Long: `Send each line of standard input as one record to TOPIC.

With --key-separator, the text before the first separator is the record key
and the rest is the value; a line without the separator has a null key. A
summary (records sent, records failed) is printed on standard error at the
end; each failed record is reported with its line number. The exit code is 1
if any record failed. Typing at a terminal, end the input with Ctrl-D.`,
		Example: `  printf 'k1:hello\nk2:world\n' | samsa produce orders --key-separator :
  samsa produce orders --header source=cli --acks 1 --compression zstd < events.txt`,
		Args: exactArgs(1, "one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pf.kgoOpts(cmd.Flags().Changed("idempotent"))
			if err != nil {
				return &usageError{err}
			}
			headers, err := parseHeaders(pf.headers)
			if err != nil {
				return &usageError{err}
			}
			o := flags.options()
			opts = append(opts, kgo.RecordDeliveryTimeout(o.EffectiveTimeout()))
			cl, err := cli.Dial(cmd.Context(), o, opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			p := &lineProducer{
				cl:        cl,
				topic:     args[0],
				sep:       []byte(pf.keySeparator),
				headers:   headers,
				partition: pf.partition,
				opts:      o,
				stderr:    cmd.ErrOrStderr(),
			}
			if cli.IsTerminal(cmd.InOrStdin()) && cli.IsTerminal(cmd.ErrOrStderr()) {
				fmt.Fprintln(cmd.ErrOrStderr(), typingHint(pf.keySeparator))
			}
			return p.run(cmd.Context(), cmd.InOrStdin())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&pf.keySeparator, "key-separator", "K", "", "split each line into key and value at the first occurrence of this string")
	f.StringArrayVarP(&pf.headers, "header", "H", nil, "add a header key=value to every record (repeatable)")
	f.StringVar(&pf.acks, "acks", "all", "acknowledgements to wait for: all, 1 or 0")
	f.StringVar(&pf.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.Int32VarP(&pf.partition, "partition", "p", -1, "send every record to this partition (default: hash of the key, or sticky for null keys)")
	f.BoolVar(&pf.idempotent, "idempotent", true, "idempotent producer (needs --acks all; turned off by default for other acks)")
	return cmd
}

// typingHint tells a person typing records at a terminal how to finish.
func typingHint(keySeparator string) string {
	if keySeparator == "" {
		return "Type records, one per line; Ctrl-D to finish."
	}
	return fmt.Sprintf("Type records, one per line, key and value separated by %q; Ctrl-D to finish.", keySeparator)
}

// kgoOpts validates the producer flags and returns the client options they
// imply. idempotentSet says whether --idempotent was given explicitly.
func (pf *produceFlags) kgoOpts(idempotentSet bool) ([]kgo.Opt, error) {
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
	if pf.partition >= 0 {
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

// lineProducer sends lines as records and keeps the tally.
type lineProducer struct {
	cl        *kgo.Client
	topic     string
	sep       []byte
	headers   []kgo.RecordHeader
	partition int32
	opts      cli.Options
	stderr    io.Writer

	sent, failed, bytes atomic.Int64
	mu                  sync.Mutex // serializes writes to stderr
}

type line struct {
	n    int64
	data []byte
}

// readLines sends each line of r on the returned channel, without its
// trailing newline, and closes it at EOF or on a read error (sent on errc).
func readLines(ctx context.Context, r io.Reader) (<-chan line, <-chan error) {
	lines := make(chan line, 256)
	errc := make(chan error, 1)
	go func() {
		defer close(lines)
		br := bufio.NewReaderSize(r, 1<<16)
		for n := int64(1); ; n++ {
			b, err := br.ReadBytes('\n')
			if len(b) > 0 {
				b = bytes.TrimSuffix(b, []byte{'\n'})
				select {
				case lines <- line{n: n, data: b}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					errc <- fmt.Errorf("read standard input: %w", err)
				}
				return
			}
		}
	}()
	return lines, errc
}

func (p *lineProducer) run(ctx context.Context, in io.Reader) error {
	start := time.Now()
	lines, errc := readLines(ctx, in)
	var readErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop // interrupted: flush what was read and report
		case l, ok := <-lines:
			if !ok {
				select {
				case readErr = <-errc:
				default:
				}
				break loop
			}
			p.send(l)
		}
	}
	// Flush outside ctx: records already handed to the client are delivered
	// or fail by the delivery timeout, so the summary is complete.
	if err := p.cl.Flush(context.Background()); err != nil {
		return cli.Explain(err, p.opts)
	}
	sent, failed := p.sent.Load(), p.failed.Load()
	fmt.Fprintf(p.stderr, "%d records sent to %q, %d failed (%s in %.2fs)\n",
		sent, p.topic, failed, humanBytes(p.bytes.Load()), time.Since(start).Seconds())
	if readErr != nil {
		return readErr
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d records failed", failed, sent+failed)}
	}
	return nil
}

func (p *lineProducer) send(l line) {
	key, value := splitLine(l.data, p.sep)
	r := &kgo.Record{Topic: p.topic, Key: key, Value: value, Headers: p.headers}
	if p.partition >= 0 {
		r.Partition = p.partition
	}
	size := int64(len(key) + len(value))
	// Records are produced with a background context: once read, a line is
	// either delivered or reported, even if the user interrupts.
	p.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		if err == nil {
			p.sent.Add(1)
			p.bytes.Add(size)
			return
		}
		if n := p.failed.Add(1); n <= maxReportedErrors {
			p.mu.Lock()
			fmt.Fprintf(p.stderr, "samsa: line %d: %v\n", l.n, cli.TopicError(p.topic, err, "", p.opts))
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
