package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// call does one Bot API request through the library's MakeRequest, bound to
// ctx, and returns its raw result. Every error it returns has the token
// redacted (the token is in the URL path and *url.Error prints URLs).
func (a *Adapter) call(ctx context.Context, method string, p tgbotapi.Params) (json.RawMessage, error) {
	if _, ok := ctx.Deadline(); !ok && method != "getUpdates" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timing.callTimeout)
		defer cancel()
	}
	d := &ctxDoer{ctx: ctx, c: a.client}
	// A BotAPI value per request: the library has no context parameter,
	// so the context travels in the HTTP doer. Building the struct by hand
	// also avoids NewBotAPI's getMe.
	bot := &tgbotapi.BotAPI{Token: a.cfg.Token.Reveal(), Client: d, Buffer: 100}
	bot.SetAPIEndpoint(a.endpoint)
	resp, err := bot.MakeRequest(method, p)
	if err != nil {
		var te *tgbotapi.Error
		if !errors.As(err, &te) && d.status != 0 && d.status != http.StatusOK {
			// Not a Bot API JSON reply (a proxy's error page, say).
			err = &statusError{Code: d.status, Err: err}
		}
		return nil, a.redact(fmt.Errorf("%s: %w", method, err))
	}
	return resp.Result, nil
}

// ctxDoer sends the library's request with a context and remembers the
// HTTP status.
type ctxDoer struct {
	ctx    context.Context
	c      *http.Client
	status int
}

func (d *ctxDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req.WithContext(d.ctx))
	if err != nil {
		return nil, err
	}
	d.status = resp.StatusCode
	return resp, nil
}

// statusError is an HTTP failure without a Bot API error body.
type statusError struct {
	Code int
	Err  error
}

func (e *statusError) Error() string { return fmt.Sprintf("http status %d: %v", e.Code, e.Err) }
func (e *statusError) Unwrap() error { return e.Err }

// redactedError replaces an error whose text mentioned the token. It keeps
// no reference to the original (whose fields hold the URL); it unwraps to
// the context error that caused it, if any.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// redact removes the bot token from err's text.
func (a *Adapter) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := a.redactor.Replace(msg)
	if clean == msg {
		return err
	}
	re := &redactedError{msg: clean}
	switch {
	case errors.Is(err, context.Canceled):
		re.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		re.cause = context.DeadlineExceeded
	}
	return re
}

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

func decodeResult(res json.RawMessage, v any) error {
	if err := json.Unmarshal(res, v); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	return nil
}
