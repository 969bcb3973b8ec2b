package slack

import (
	"errors"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// apiError classifies an error from slack-go: a 429 becomes
// *bridges.RateLimitError, a rejected rendering *bridges.FormatError, and
// anything else is returned as is (ok:false errors are
// slackapi.SlackErrorResponse values, e.g. "msg_too_long").
func apiError(err error) error {
	if err == nil {
		return nil
	}
	if rl, ok := errors.AsType[*slackapi.RateLimitedError](err); ok {
		return &bridges.RateLimitError{RetryAfter: rl.RetryAfter, Err: err}
	}
	if sc, ok := errors.AsType[slackapi.StatusCodeError](err); ok && sc.Code == http.StatusTooManyRequests {
		// 429 without a Retry-After header.
		return &bridges.RateLimitError{RetryAfter: time.Second, Err: err}
	}
	if se, ok := errors.AsType[slackapi.SlackErrorResponse](err); ok {
		switch se.Err {
		case "ratelimited":
			return &bridges.RateLimitError{RetryAfter: time.Second, Err: err}
		case "invalid_blocks", "invalid_blocks_format", "invalid_attachments":
			return &bridges.FormatError{Err: err}
		}
	}
	return err
}

// slackCode returns the error string of an ok:false answer, or "".
func slackCode(err error) string {
	if se, ok := errors.AsType[slackapi.SlackErrorResponse](err); ok {
		return se.Err
	}
	return ""
}

// isRateLimit reports whether err is a *bridges.RateLimitError.
func isRateLimit(err error) bool {
	_, ok := errors.AsType[*bridges.RateLimitError](err)
	return ok
}
