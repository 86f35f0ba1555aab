package partition

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// noProducerEpoch is the epoch of a producer the partition has no state for.
const noProducerEpoch = -1

// Error is what AppendAsLeader and the other Partition methods return for a
// request that must be answered with a Kafka error code. Code is the code for
// the response, Message the text for its error_message field (Produce v8+),
// Err the underlying failure if any (a storage error, a record error).
//
// errors.Is(err, kerr.X) and errors.As(err, **kerr.Error) both work on it.
type Error struct {
	Code    *kerr.Error
	Message string
	Err     error
}

func newError(code *kerr.Error, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

func (e *Error) Error() string {
	msg := e.Code.Message
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the Kafka code and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Code}
	}
	return []error{e.Code, e.Err}
}

// KafkaError returns the Kafka error code and message an error from this
// package stands for: the code of an *Error (or of a bare *kerr.Error), and
// UNKNOWN_SERVER_ERROR for anything else. It returns (nil, "") for nil.
func KafkaError(err error) (*kerr.Error, string) {
	if err == nil {
		return nil, ""
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code, pe.Error()
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke, err.Error()
	}
	return kerr.UnknownServerError, err.Error()
}
