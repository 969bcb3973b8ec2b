package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

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
		return nil, a.apiError(method, d, err)
	}
	return resp.Result, nil
}

// apiError builds the error of a failed request from what came back: the
// HTTP status, Telegram's error (an answer without error_code gets the
// HTTP status as its code) or, for an answer that was no Bot API error,
// a snippet of its body. The token is redacted from every part.
func (a *Adapter) apiError(method string, d *ctxDoer, err error) error {
	e := &APIError{Method: method, Status: d.status}
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		if te.Code == 0 {
			te.Code = d.status
		}
		te.Message = a.redactor.Replace(te.Message)
		e.Description = te.Message
		e.Err = te
	} else {
		e.Err = a.redact(err)
	}
	if e.Description == "" && d.body.Len() > 0 {
		e.Body = a.redactor.Replace(strings.ToValidUTF8(d.body.String(), "?"))
	}
	return e
}

// APIError is a failed Bot API request: the method, the HTTP status and
// what Telegram said. It unwraps to the library's *tgbotapi.Error when
// the answer was a Bot API error, else to the transport or decoding
// error.
type APIError struct {
	Method string
	// Status is the HTTP status; 0 when no answer came.
	Status int
	// Description is Telegram's description of the error.
	Description string
	// Body is the start of an answer without a description (a proxy's
	// error page, a body without error_code).
	Body string
	Err  error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": http %d", e.Status)
	}
	var te *tgbotapi.Error
	switch {
	case e.Description != "":
		b.WriteString(": " + e.Description)
	case e.Body != "":
		fmt.Fprintf(&b, ": body %q", e.Body)
	}
	if !errors.As(e.Err, &te) && e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	} else if e.Description == "" && e.Body == "" {
		b.WriteString(": no description")
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// bodySnippet is how much of an answer's body an error keeps.
const bodySnippet = 256

// ctxDoer sends the library's request with a context and remembers the
// HTTP status and the start of the body.
type ctxDoer struct {
	ctx    context.Context
	c      *http.Client
	status int
	body   bytes.Buffer
}

func (d *ctxDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req.WithContext(d.ctx))
	if err != nil {
		return nil, err
	}
	d.status = resp.StatusCode
	resp.Body = &teeBody{ReadCloser: resp.Body, d: d}
	return resp, nil
}

// teeBody keeps the first bodySnippet bytes read in d.body.
type teeBody struct {
	io.ReadCloser
	d *ctxDoer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if room := bodySnippet - t.d.body.Len(); room > 0 {
		t.d.body.Write(p[:min(n, room)])
	}
	return n, err
}

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
