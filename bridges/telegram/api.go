package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// The HTTP plumbing of the Bot API: one request through the library,
// its context, the HTTP status, redaction of the token and decoding of
// the result. errors.go classifies what comes back.

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

func decodeResult(res json.RawMessage, v any) error {
	if err := json.Unmarshal(res, v); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	return nil
}
