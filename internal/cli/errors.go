package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
)

// sentence is an error already phrased for a person. It keeps the cause for
// errors.Is and errors.As.
type sentence struct {
	msg   string
	cause error
}

func (s *sentence) Error() string { return s.msg }
func (s *sentence) Unwrap() error { return s.cause }

// Sentencef returns an error phrased for a person, wrapping cause (which may
// be nil). [Explain] leaves such errors unchanged.
func Sentencef(cause error, format string, args ...any) error {
	return &sentence{msg: fmt.Sprintf(format, args...), cause: cause}
}

// Explain turns a client failure into one sentence that names what went
// wrong and where: a refused connection, an unresolvable name, a timeout, a
// Kafka error code. Errors that are already sentences pass through.
func Explain(err error, o Options) error {
	if err == nil {
		return nil
	}
	var s *sentence
	if errors.As(err, &s) {
		return err
	}
	where := strings.Join(o.BootstrapServers, ",")
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Addr != nil {
		where = opErr.Addr.String()
	}
	var dnsErr *net.DNSError
	var ke *kerr.Error
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return Sentencef(err, "interrupted")
	case errors.As(err, &dnsErr):
		return Sentencef(err, "cannot reach the broker at %s: cannot resolve %q", where, dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return Sentencef(err, "cannot reach the broker at %s: connection refused", where)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Sentencef(err, "cannot reach the broker at %s: no route to host", where)
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return Sentencef(err, "no answer from the broker at %s within %v", where, o.EffectiveTimeout())
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF):
		return Sentencef(err, "the broker at %s closed the connection (is it a Kafka listener, and does it need TLS or SASL?)", where)
	case errors.As(err, &ke):
		return Sentencef(err, "the broker refused: %s", describeKerr(ke, ""))
	}
	return Sentencef(err, "%s", strings.TrimSpace(err.Error()))
}

// describeKerr renders a Kafka error code with its meaning and, when the
// broker sent one, its message.
func describeKerr(ke *kerr.Error, brokerMsg string) string {
	d := strings.TrimSuffix(ke.Description, ".")
	if d != "" {
		d = strings.ToLower(d[:1]) + d[1:]
	}
	out := fmt.Sprintf("%s (%s)", d, ke.Message)
	if brokerMsg != "" && brokerMsg != ke.Description {
		out += ": " + brokerMsg
	}
	return out
}

// TopicError explains err, the result of an operation on topic, naming the
// topic. brokerMsg is the error message the broker sent, if any. It returns
// nil for a nil err.
func TopicError(topic string, err error, brokerMsg string, o Options) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return Explain(err, o)
	}
	switch ke.Code {
	case kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicID.Code:
		return Sentencef(err, "topic %q does not exist", topic)
	case kerr.TopicAlreadyExists.Code:
		return Sentencef(err, "topic %q already exists", topic)
	case kerr.InvalidTopicException.Code:
		return Sentencef(err, "%q is not a valid topic name%s", topic, suffix(brokerMsg))
	case kerr.TopicAuthorizationFailed.Code:
		return Sentencef(err, "not authorized to access topic %q", topic)
	}
	return Sentencef(err, "topic %q: %s", topic, describeKerr(ke, brokerMsg))
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}
