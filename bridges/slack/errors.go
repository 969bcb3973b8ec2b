package slack

import (
	"errors"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// apiError classifies an error from slack-go: a 429 becomes
// *bridges.RateLimitError, a rejected rendering *bridges.FormatError, a
// lasting refusal (see permanentReasons) *bridges.PermanentError with
// Slack's error in Err, and anything else is returned as is, a passing
// error (ok:false errors are slackapi.SlackErrorResponse values, e.g.
// "internal_error"; msg_too_long stays passing too: the core splits
// replies well below Slack's limit, and its last resort is plain text).
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
		if reason, ok := permanentReasons[se.Err]; ok {
			return &bridges.PermanentError{Reason: reason, Err: err}
		}
	}
	return err
}

// permanentReasons maps Slack's lasting refusals of chat.postMessage and
// chat.update to the core's reasons: retrying cannot help.
var permanentReasons = map[string]string{
	// The channel is gone, or archived (nothing can be posted there).
	"channel_not_found": bridges.ReasonChatGone,
	"is_archived":       bridges.ReasonChatGone,
	// The bot may not post or edit there: removed from the channel, its
	// token refused or revoked, a workspace policy.
	"not_in_channel":          bridges.ReasonForbidden,
	"restricted_action":       bridges.ReasonForbidden,
	"invalid_auth":            bridges.ReasonForbidden,
	"not_authed":              bridges.ReasonForbidden,
	"account_inactive":        bridges.ReasonForbidden,
	"token_revoked":           bridges.ReasonForbidden,
	"token_expired":           bridges.ReasonForbidden,
	"missing_scope":           bridges.ReasonForbidden,
	"no_permission":           bridges.ReasonForbidden,
	"team_access_not_granted": bridges.ReasonForbidden,
	"ekm_access_denied":       bridges.ReasonForbidden,
	// The message being edited was deleted, or can no longer be edited.
	"message_not_found":   bridges.ReasonMessageDeleted,
	"cant_update_message": bridges.ReasonMessageDeleted,
	"edit_window_closed":  bridges.ReasonMessageDeleted,
}

// lasting reports whether an error of Slack's will not pass by trying
// again: a refused, revoked or inactive token, a token without the scope
// or of the wrong type, or a 4xx answer (a wrong api_url). Network
// errors, 5xx, 429 and Slack's internal_error, fatal_error,
// service_unavailable and request_timeout pass.
func lasting(err error) bool {
	switch slackCode(err) {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
		"missing_scope", "not_allowed_token_type", "no_permission", "team_access_not_granted",
		"ekm_access_denied", "org_login_required", "two_factor_setup_required":
		return true
	}
	if sc, ok := errors.AsType[slackapi.StatusCodeError](err); ok {
		return sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusTooManyRequests && sc.Code != http.StatusRequestTimeout
	}
	return false
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
