package backend

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a backend failure. The bridge chooses the text the user
// sees by Kind; the details go to the log.
type Kind int

// The kinds of backend failure.
const (
	// KindUnavailable: the service is down, overloaded or unreachable, or
	// the answer stalled; retrying later may work.
	KindUnavailable Kind = iota
	// KindUnauthorized: the API key is wrong or lacks permission.
	KindUnauthorized
	// KindNotFound: the bot (or endpoint) does not exist.
	KindNotFound
	// KindRateLimited: too many requests; see Error.RetryAfter.
	KindRateLimited
	// KindContentFiltered: the question or answer was blocked.
	KindContentFiltered
	// KindBadResponse: the service answered something we cannot read,
	// including a stream that ended without its terminal event.
	KindBadResponse
	// KindConversationExpired: the stored conversation is unknown to the
	// service or has expired; a new conversation may succeed.
	KindConversationExpired
	// KindNoAnswer: the knowledge base has no answer to the question.
	KindNoAnswer
)

var kindNames = [...]string{
	KindUnavailable:         "unavailable",
	KindUnauthorized:        "unauthorized",
	KindNotFound:            "not_found",
	KindRateLimited:         "rate_limited",
	KindContentFiltered:     "content_filtered",
	KindBadResponse:         "bad_response",
	KindConversationExpired: "conversation_expired",
	KindNoAnswer:            "no_answer",
}

// String returns a short snake_case name, used in logs and metrics.
func (k Kind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a classified backend failure. It never contains a secret.
type Error struct {
	Kind Kind
	// Status is the HTTP status, when there was one.
	Status int
	// Code is the service's own error code, when it gave one.
	Code string
	// Message is the service's message or a short description.
	Message string
	// RetryAfter is how long to wait before trying again (KindRateLimited),
	// zero when the service did not say.
	RetryAfter time.Duration
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	s := "backend " + e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		s += " code " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err: the Kind of the first *Error in its
// chain, KindUnavailable for anything else.
func KindOf(err error) Kind {
	var be *Error
	if errors.As(err, &be) {
		return be.Kind
	}
	return KindUnavailable
}

// ErrTruncated is wrapped by the error of a stream that ended without its
// terminal event.
var ErrTruncated = errors.New("stream truncated")
