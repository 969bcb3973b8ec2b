package telegram

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// classify maps a Bot API error onto the core's typed errors: 429 →
// *bridges.RateLimitError, rejected HTML → *bridges.FormatError, a lasting
// refusal (see permanentReason) → *bridges.PermanentError; other errors
// (5xx, network, timeouts) are passing and returned unchanged.
func classify(err error) error {
	var te *tgbotapi.Error
	if !errors.As(err, &te) {
		return err
	}
	desc := strings.ToLower(te.Message)
	switch {
	case te.Code == http.StatusTooManyRequests || te.RetryAfter > 0:
		ra := time.Duration(te.RetryAfter) * time.Second
		if ra <= 0 {
			ra = time.Second
		}
		return &bridges.RateLimitError{RetryAfter: ra, Err: err}
	case te.Code == http.StatusBadRequest && isFormatProblem(desc):
		return &bridges.FormatError{Err: err}
	case te.MigrateToChatID != 0:
		// "group chat was upgraded to a supergroup chat": the adapter
		// notes the migration; the retry goes to the new chat.
		return err
	}
	if reason := permanentReason(te.Code, desc); reason != "" {
		return &bridges.PermanentError{Reason: reason, Err: err}
	}
	return err
}

// permanentReason maps a lasting refusal of sendMessage/editMessageText to
// the core's reason, from the HTTP status and Telegram's description
// (lower-cased), or returns "" for a passing error:
//
//   - 403 "bot was blocked by the user", "user is deactivated" → blocked;
//   - any other 403 ("bot was kicked from the group chat", "bot is not a
//     member of the supergroup chat", "bot can't initiate conversation
//     with a user") and 400 "not enough rights to send text messages",
//     "have no rights to send a message", CHAT_WRITE_FORBIDDEN,
//     TOPIC_CLOSED → forbidden;
//   - 400 "chat not found", "message thread not found", TOPIC_DELETED,
//     CHANNEL_PRIVATE, PEER_ID_INVALID → chat_gone;
//   - 400 "message to edit not found", "message can't be edited",
//     MESSAGE_ID_INVALID, "message to delete not found" → message_deleted.
//
// "message is not modified" never gets here (an edit treats it as
// success); a format problem is a *bridges.FormatError.
func permanentReason(code int, desc string) string {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(desc, s) {
				return true
			}
		}
		return false
	}
	switch {
	case code == http.StatusForbidden && has("blocked by the user", "user is deactivated"):
		return bridges.ReasonBlocked
	case code == http.StatusForbidden:
		return bridges.ReasonForbidden
	case code != http.StatusBadRequest:
		return ""
	case has("not enough rights", "have no rights", "chat_write_forbidden", "topic_closed", "need administrator rights"):
		return bridges.ReasonForbidden
	case has("chat not found", "message thread not found", "topic_deleted", "channel_private", "peer_id_invalid"):
		return bridges.ReasonChatGone
	case has("message to edit not found", "message can't be edited", "message_id_invalid", "message to delete not found"):
		return bridges.ReasonMessageDeleted
	}
	return ""
}

func isFormatProblem(desc string) bool {
	return strings.Contains(desc, "can't parse entities") ||
		strings.Contains(desc, "can't find end of") ||
		strings.Contains(desc, "unsupported start tag") ||
		strings.Contains(desc, "unexpected end tag") ||
		strings.Contains(desc, "entity beginning")
}

// notModified reports Telegram's "message is not modified", which an edit
// treats as success.
func notModified(err error) bool {
	var te *tgbotapi.Error
	return errors.As(err, &te) && te.Code == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(te.Message), "message is not modified")
}

// draftsUnsupported reports a refusal of sendMessageDraft that means the
// server does not have the method (an old or third-party Bot API server):
// 404 or 501 in any form, a description naming an unknown method, or a
// 5xx saying "not supported" or "not implemented". A refusal about the
// chat or the text (400 TEXTDRAFT_PEER_INVALID) or a passing 5xx does not.
func draftsUnsupported(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	code := ae.Status
	var te *tgbotapi.Error
	if errors.As(err, &te) && te.Code != 0 {
		code = te.Code
	}
	desc := strings.ToLower(ae.Description + " " + ae.Body)
	switch {
	case code == http.StatusNotFound || code == http.StatusNotImplemented:
		return true
	case strings.Contains(desc, "method not found") || strings.Contains(desc, "method is not available") ||
		strings.Contains(desc, "unknown method") || strings.Contains(desc, "no such method"):
		return true
	case code >= 500 && (strings.Contains(desc, "not supported") || strings.Contains(desc, "not implemented") ||
		strings.Contains(desc, "unsupported")):
		return true
	}
	return false
}

// migratedTo returns the supergroup a group was upgraded to, from an error.
func migratedTo(err error) int64 {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		return te.MigrateToChatID
	}
	return 0
}

// ErrUnauthorized is returned by Run when Telegram rejects the token.
var ErrUnauthorized = errors.New("telegram rejected the bot token (401 Unauthorized): check token")

// fatalError returns the error Run should stop with, or nil when err is
// worth retrying.
func fatalError(err error) error {
	var te *tgbotapi.Error
	if errors.As(err, &te) && (te.Code == http.StatusUnauthorized || te.Code == http.StatusNotFound) {
		// Telegram answers 404 to a malformed token.
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	return nil
}

// isConflict reports 409: another getUpdates consumer or an active webhook.
func isConflict(err error) bool {
	var te *tgbotapi.Error
	return errors.As(err, &te) && te.Code == http.StatusConflict
}
