package metadata

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Error is a Kafka error code with a human-readable message, as returned by
// the controller operations. Handlers put Code into the response's error code
// field and Message into its ErrorMessage field (where the API has one).
//
// errors.As(err, new(*kerr.Error)) and errors.Is(err, kerr.X) both work on an
// *Error, because Unwrap returns Code.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Message
	}
	return e.Code.Message + ": " + e.Message
}

// Unwrap returns the Kafka error code.
func (e *Error) Unwrap() error { return e.Code }

// NewError builds an *Error from a Kafka code and message, as a response
// from another node carries them.
func NewError(code *kerr.Error, message string) *Error {
	return &Error{Code: code, Message: message}
}

// newError builds an *Error with a formatted message.
func newError(code *kerr.Error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Kafka error code and message carried by err: (0, "")
// for nil, the code and message of an *Error or *kerr.Error anywhere in the
// chain, and UNKNOWN_SERVER_ERROR with err's text for any other failure.
func ErrorCode(err error) (code int16, message string) {
	if err == nil {
		return 0, ""
	}
	var me *Error
	if errors.As(err, &me) {
		return me.Code.Code, me.Message
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code, ""
	}
	return kerr.UnknownServerError.Code, err.Error()
}
