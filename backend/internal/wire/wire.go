// Package wire holds the HTTP plumbing shared by every backend client:
// the validated connection a client keeps ([NewConn], [Conn]), sending a
// request with a bounded, duplicate-free retry policy ([Do], and [Send]
// for a request described as data), watching a streamed response
// body for silence (the idle timeout of [Policy.Idle]), turning a non-2xx
// response into a classified [*backend.Error] ([StatusError],
// [StatusKind], [CheckEventStream]), keeping secrets and query strings out
// of error text ([Redact], [RedactURL], [Scrub], [Snippet]), the config
// checks ([BaseURL], [CheckWord], [CheckKey], [CheckOrigin]) and the
// pieces of a stream decoder ([SSE], [Queue], [ReadError],
// [DecoderOptions]).
//
// Typical use inside a client's Ask:
//
//	resp, err := c.conn.Send(ctx, wire.Request{Method: http.MethodPost, URL: c.conn.Base + path, JSON: body})
//	if err != nil {
//		return backend.ErrorStream(err) // already a *backend.Error
//	}
//	// resp.StatusCode is 2xx; resp.Body enforces the idle timeout and
//	// must be closed.
//
// Package wire imports the standard library, backend and
// backend/internal/sse.
package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
)

// ErrIdle is wrapped by the error returned when the backend sent no byte for
// Policy.Idle: errors.Is(err, wire.ErrIdle) reports an idle timeout. The
// error's Kind is backend.KindUnavailable.
var ErrIdle = errors.New("idle timeout")

// DefaultIdle is the idle timeout of a backend whose idle_timeout is not
// set: the one place that default is written (each client's config
// accessor applies it, through Idle).
const DefaultIdle = 60 * time.Second

// Idle is a backend's idle timeout configured as d: DefaultIdle when d
// is not positive.
func Idle(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultIdle
	}
	return d
}

// CheckIdle refuses a negative idle_timeout.
func CheckIdle(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("idle_timeout %s: must not be negative", d)
	}
	return nil
}

// Policy tunes Do. The zero value retries up to 3 attempts, with no idle
// timeout.
type Policy struct {
	// Attempts is the maximum number of tries of one request; 0 means 3,
	// 1 disables retries.
	Attempts int
	// Idle is the backend's idle_timeout, and this watchdog is its only
	// enforcer (the relay keeps no timer of its own): the request fails
	// with an ErrIdle error of KindUnavailable when no byte arrives for
	// that long, while waiting for the response headers and within any
	// one Read of the returned body (time the caller spends between Reads
	// does not count). The relay shows that error as "unavailable",
	// keeping the partial answer. 0 disables the watchdog.
	Idle time.Duration
	// MaxRetryAfter caps how long Do waits on a Retry-After header before
	// retrying; a longer Retry-After ends the retries and the error carries
	// it. 0 means 5s.
	MaxRetryAfter time.Duration
	// Secret, when set, is scrubbed from every error text Do returns.
	Secret backend.Secret
	// Logger, when set, logs each retry at Debug level.
	Logger *slog.Logger
}

const (
	backoffMin = 200 * time.Millisecond
	backoffMax = 2 * time.Second
)

func (p Policy) attempts() int {
	if p.Attempts <= 0 {
		return 3
	}
	return p.Attempts
}

func (p Policy) maxRetryAfter() time.Duration {
	if p.MaxRetryAfter <= 0 {
		return 5 * time.Second
	}
	return p.MaxRetryAfter
}

// Do sends the request that build makes and returns the response when its
// status is 2xx. Otherwise it returns a *backend.Error: StatusError's
// classification of the final response, or KindUnavailable for a
// connection failure or an idle timeout.
//
// build is called once per attempt with the attempt's context and must
// return a fresh request (with a fresh body) bound to that context.
//
// Do retries, at most Policy.Attempts times in all, with exponential
// backoff from 200ms to 2s (jittered, waits cut short by ctx), only when no
// byte of a response was consumed: on a connection error before the
// response headers, and on a 429, 502, 503 or 504 response, whose body is
// then discarded. A Retry-After longer than Policy.MaxRetryAfter ends the
// retries. A cancelled ctx, an idle timeout and any other status are never
// retried. Once Do has returned a response nothing is retried, so an
// answer is never asked twice after it started.
//
// The returned body must be closed; closing it stops the idle watchdog
// and releases the attempt's context.
func Do(ctx context.Context, client *http.Client, build func(ctx context.Context) (*http.Request, error), p Policy) (*http.Response, error) {
	n := p.attempts()
	for attempt := 1; ; attempt++ {
		resp, err := try(ctx, client, build, p)
		if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		var wait time.Duration
		retry := attempt < n && ctx.Err() == nil
		if err != nil {
			ce, ok := err.(connError)
			if !ok {
				return nil, err // classified and final: idle timeout, bad build, ctx done
			}
			err = ce.err
		} else {
			se := StatusError(resp)
			se.Message = Scrub(se.Message, p.Secret)
			err = se
			switch resp.StatusCode {
			case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				wait = se.RetryAfter
				if wait > p.maxRetryAfter() {
					retry = false
				}
			default:
				retry = false
			}
		}
		if !retry {
			return nil, err
		}
		if d := backoff(attempt); d > wait {
			wait = d
		}
		if p.Logger != nil {
			p.Logger.Debug("backend request failed, retrying", "attempt", attempt, "wait", wait, "err", err)
		}
		if Sleep(ctx, wait) != nil {
			return nil, err
		}
	}
}

// Sleep waits for d or until ctx ends, whichever comes first, and returns
// ctx.Err() when ctx ended first. (Since Go 1.23 an unfired time.After
// timer is collected without a Stop.)
func Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// backoff returns the wait before attempt+1: 200ms doubling up to 2s,
// jittered into [d/2, d].
func backoff(attempt int) time.Duration {
	d := backoffMin << (attempt - 1)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// try performs one attempt. A non-nil error is either a *backend.Error
// (final) or a plain connection error (retryable), both redacted.
func try(ctx context.Context, client *http.Client, build func(ctx context.Context) (*http.Request, error), p Policy) (*http.Response, error) {
	actx, cancel := context.WithCancelCause(ctx)
	req, err := build(actx)
	if err != nil {
		cancel(nil)
		return nil, &backend.Error{Kind: backend.KindBadResponse, Message: "build request", Err: scrubErr(Redact(err), p.Secret)}
	}
	var timer *time.Timer
	if p.Idle > 0 {
		timer = time.AfterFunc(p.Idle, func() { cancel(ErrIdle) })
	}
	resp, err := client.Do(req)
	if err != nil {
		if timer != nil {
			timer.Stop()
		}
		idle := errors.Is(context.Cause(actx), ErrIdle)
		cancel(nil)
		if idle && ctx.Err() == nil {
			return nil, idleError(p.Idle)
		}
		werr := &backend.Error{Kind: backend.KindUnavailable, Message: "send request", Err: scrubErr(Redact(err), p.Secret)}
		if ctx.Err() != nil {
			return nil, werr // final: the caller gave up
		}
		return nil, connError{werr}
	}
	if timer != nil {
		timer.Stop() // re-armed by each Read
	}
	resp.Body = &idleBody{body: resp.Body, ctx: actx, parent: ctx, cancel: cancel, timer: timer, idle: p.Idle}
	return resp, nil
}

// connError marks a retryable connection failure; Do unwraps it before
// returning.
type connError struct{ err *backend.Error }

func (e connError) Error() string { return e.err.Error() }

func idleError(idle time.Duration) *backend.Error {
	return &backend.Error{
		Kind:    backend.KindUnavailable,
		Message: "backend silent for " + strconv.FormatFloat(idle.Seconds(), 'f', -1, 64) + "s",
		Err:     ErrIdle,
	}
}

// idleBody enforces the idle timeout on a response body. The timer runs
// only while a Read is blocked, so it measures the backend's silence, not
// the time a slow consumer takes between reads; when it fires it cancels
// the attempt's context, which makes the transport unblock the pending
// Read and close the connection.
type idleBody struct {
	body   io.ReadCloser
	ctx    context.Context // the attempt's context
	parent context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // nil without idle timeout
	idle   time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
	n, err := b.body.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if err != nil && err != io.EOF {
		if errors.Is(context.Cause(b.ctx), ErrIdle) && b.parent.Err() == nil {
			return n, idleError(b.idle)
		}
		return n, fmt.Errorf("read response: %w", Redact(err))
	}
	return n, err
}

func (b *idleBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.body.Close()
	b.cancel(nil)
	return err
}
