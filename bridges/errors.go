package bridges

import (
	"context"
	"errors"
)

// How the core treats an error from Send or Edit (the live reply's policy,
// reply.go): *RateLimitError waits and retries, *FormatError resends as
// plain text, *PermanentError is a lasting refusal, and any other error is
// a passing one (a 5xx, a network error, a timeout): the reply retries it,
// and when the final text still does not land the message stays pending
// in the inbox and is retried with backoff up to Config.PendingMaxAge.

// The reasons of a PermanentError. Adapters map their platform's errors to
// one of these (errors.go in each adapter) and keep the platform's own
// description in Err.
const (
	// ReasonForbidden: the bot may not post or edit there (HTTP 403, a
	// missing permission, not in the channel).
	ReasonForbidden = "forbidden"
	// ReasonChatGone: the chat, channel or thread no longer exists, or
	// the bot was removed from it.
	ReasonChatGone = "chat_gone"
	// ReasonBlocked: the user blocked the bot or deactivated the account.
	ReasonBlocked = "blocked"
	// ReasonMessageDeleted: the message being edited was deleted (or can
	// no longer be edited, like an expired interaction response). The
	// core posts the rest as a new message instead.
	ReasonMessageDeleted = "message_deleted"
)

// PermanentError is returned by Send and Edit when the platform refuses
// for a lasting reason, so that retrying cannot help. Reason is one of
// the Reason constants (it labels logs and the failed metric); Err is the
// platform's error, with its description (redacted of tokens).
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string {
	s := "refused for good (" + e.Reason + ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *PermanentError) Unwrap() error { return e.Err }

// permanent returns the reason when err is a lasting refusal.
func permanent(err error) (reason string, ok bool) {
	var pe *PermanentError
	if errors.As(err, &pe) {
		if pe.Reason == "" {
			return "refused", true
		}
		return pe.Reason, true
	}
	return "", false
}

// passing reports whether err is worth retrying later: neither a lasting
// refusal nor the end of the caller's context.
func passing(err error) bool {
	if _, ok := permanent(err); ok {
		return false
	}
	return !errors.Is(err, context.Canceled)
}
