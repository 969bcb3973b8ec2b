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
// *bridges.RateLimitError, rejected HTML → *bridges.FormatError; other
// errors are returned unchanged.
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
	}
	return err
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

// methodUnknown reports a server that does not implement a method (an old
// local Bot API server without sendMessageDraft).
func methodUnknown(err error) bool {
	var te *tgbotapi.Error
	if !errors.As(err, &te) {
		return false
	}
	desc := strings.ToLower(te.Message)
	return te.Code == http.StatusNotFound || strings.Contains(desc, "method not found") ||
		strings.Contains(desc, "method is not available") || strings.Contains(desc, "unknown method")
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
