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
	case errors.As(err, &ke) && ke.Retriable:
		// Retried until the timeout: the broker did not refuse, it could
		// not do it yet (a timeout, an election, a loading coordinator).
		return Sentencef(err, "the broker could not complete the request: %s", describeKerr(ke, ""))
	case errors.As(err, &ke):
		return Sentencef(err, "the broker refused: %s", describeKerr(ke, ""))
	}
	return Sentencef(err, "%s", strings.TrimSpace(err.Error()))
}

// describeKerr renders a Kafka error code: the broker's own message when
// it sent one, else the code's generic description, followed by the code.
// The description is Kafka's wording for every use of the code and can
// contradict the broker ("number of partitions is below 1" for a request to
// go from 3 partitions to 2), so it never comes before the broker's message.
func describeKerr(ke *kerr.Error, brokerMsg string) string {
	msg := strings.TrimSuffix(strings.TrimSpace(brokerMsg), ".")
	if msg == "" {
		msg = strings.TrimSuffix(ke.Description, ".")
		if msg != "" {
			msg = strings.ToLower(msg[:1]) + msg[1:]
		}
	}
	if msg == "" {
		return ke.Message
	}
	return fmt.Sprintf("%s (%s)", msg, ke.Message)
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
	// A sentence of our own only where the broker's message cannot say
	// something else: the same code covers other cases (TOPIC_ALREADY_EXISTS
	// for a topic still being deleted, INVALID_TOPIC_EXCEPTION for a name
	// that collides with another topic's).
	plain := brokerMsg == "" || brokerMsg == ke.Description
	switch {
	case ke.Code == kerr.UnknownTopicOrPartition.Code, ke.Code == kerr.UnknownTopicID.Code:
		return Sentencef(err, "topic %q does not exist", topic)
	case ke.Code == kerr.TopicAlreadyExists.Code && (plain || strings.Contains(brokerMsg, "already exists")):
		return Sentencef(err, "topic %q already exists", topic)
	case ke.Code == kerr.InvalidTopicException.Code && plain:
		return Sentencef(err, "%q is not a valid topic name", topic)
	case ke.Code == kerr.InvalidTopicException.Code:
		return Sentencef(err, "cannot use %q as a topic name: %s", topic, strings.TrimSuffix(strings.TrimSpace(brokerMsg), "."))
	case ke.Code == kerr.TopicAuthorizationFailed.Code:
		return Sentencef(err, "not authorized to access topic %q", topic)
	}
	return Sentencef(err, "topic %q: %s", topic, describeKerr(ke, brokerMsg))
}
