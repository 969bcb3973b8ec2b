package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// GatewayError is returned by Run when Discord closes the gateway with a
// code that no reconnect can fix.
type GatewayError struct {
	Code int
	Err  error
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("discord gateway closed with %d: %s", e.Code, gatewayHint(e.Code))
}

func (e *GatewayError) Unwrap() error { return e.Err }

// gatewayHint tells the operator what a fatal close code means.
func gatewayHint(code int) string {
	switch code {
	case 4004:
		return "authentication failed: the bot token is wrong or was reset; copy a new one from the Developer Portal → Bot → Reset Token"
	case 4010, 4011:
		return "sharding is invalid or required; set shards = 0 (Discord's recommended count) or a larger count"
	case 4012:
		return "invalid gateway API version"
	case 4013:
		return "invalid intents"
	case 4014:
		return "disallowed intent: enable the Message Content intent in the Developer Portal → Bot → Privileged Gateway Intents"
	}
	return "connection refused"
}

// gatewayError returns the *GatewayError err stands for, or nil when err
// is worth a reconnect.
func gatewayError(err error) *GatewayError {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		return nil
	}
	switch ce.Code {
	case 4004, 4010, 4011, 4012, 4013, 4014:
		return &GatewayError{Code: ce.Code, Err: err}
	}
	return nil
}

// sessionInvalid reports whether err is a gateway close after which the
// session cannot be resumed: 4007 (invalid sequence), 4009 (session timed
// out).
func sessionInvalid(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && (ce.Code == 4007 || ce.Code == 4009)
}

// recorder keeps what the 429 answer to one REST call said; discordgo's
// RateLimitError has no "global" field and a non-JSON 429 (a proxy's)
// reaches the caller as an unmarshal error.
type recorder struct {
	mu         sync.Mutex
	limited    bool
	retryAfter time.Duration
	global     bool
}

type recorderKey struct{}

// withRecorder returns ctx carrying a new recorder for one call.
func withRecorder(ctx context.Context) (context.Context, *recorder) {
	rec := &recorder{}
	return context.WithValue(ctx, recorderKey{}, rec), rec
}

func recorderFrom(ctx context.Context) *recorder {
	rec, _ := ctx.Value(recorderKey{}).(*recorder)
	return rec
}

// record reads a 429's headers and body and returns the body for
// discordgo to read again.
func (r *recorder) record(resp *http.Response) io.ReadCloser {
	// A body that cannot be read or decoded (a proxy's 429) loses
	// nothing: the wait then comes from Retry-After, or is 1 s.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var v struct {
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	_ = json.Unmarshal(body, &v)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limited = true
	r.global = v.Global || resp.Header.Get("X-RateLimit-Global") == "true" ||
		resp.Header.Get("X-RateLimit-Scope") == "global"
	r.retryAfter = time.Duration(v.RetryAfter * float64(time.Second))
	if r.retryAfter <= 0 {
		if s, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil {
			r.retryAfter = time.Duration(s * float64(time.Second))
		}
	}
	return io.NopCloser(bytes.NewReader(body))
}

// wrapErr turns an error of one REST call into the bridges vocabulary:
// *bridges.RateLimitError on a 429, else a wrapped error whose text
// carries no interaction token.
func wrapErr(op string, err error, rec *recorder) error {
	if err == nil {
		return nil
	}
	var limited bool
	var retryAfter time.Duration
	var global bool
	if rec != nil {
		rec.mu.Lock()
		limited, retryAfter, global = rec.limited, rec.retryAfter, rec.global
		rec.mu.Unlock()
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil && rl.TooManyRequests != nil {
		limited = true
		if rl.RetryAfter > 0 {
			retryAfter = rl.RetryAfter
		}
	}
	if limited {
		if retryAfter <= 0 {
			retryAfter = time.Second
		}
		return &bridges.RateLimitError{RetryAfter: retryAfter, Global: global, Err: fmt.Errorf("%s: %w", op, redact(err))}
	}
	return fmt.Errorf("%s: %w", op, redact(err))
}

// APIError is a Discord REST error answer, e.g. 50035 (invalid form
// body, such as content over 2000 characters), 10008 (unknown message) or
// 50013 (missing permissions). Its text keeps the facts: the request
// (method and path, tokens redacted), the HTTP status and Discord's code
// and message, or the start of the body when it is no Discord error (a
// proxy's 502 page).
type APIError struct {
	Method string
	Path   string // relative to the API base, e.g. "channels/C1/messages"
	Status int
	Code   int
	// Message is Discord's description, or the start of a body that is
	// not Discord's error JSON.
	Message string
	err     error
}

func (e *APIError) Error() string {
	req := ""
	if e.Method != "" {
		req = e.Method + " " + e.Path + ": "
	}
	switch {
	case e.Code != 0:
		return fmt.Sprintf("discord: %sHTTP %d, code %d: %s", req, e.Status, e.Code, e.Message)
	case e.Message != "":
		return fmt.Sprintf("discord: %sHTTP %d: %s", req, e.Status, e.Message)
	}
	return fmt.Sprintf("discord: %sHTTP %d", req, e.Status)
}

// maxBodyInError bounds the body quoted in an APIError.
const maxBodyInError = 200

func (e *APIError) Unwrap() error { return e.err }

// apiPath is the path of discordgo's API prefix ("/api/v9/").
var apiPath = func() string {
	u, err := url.Parse(discordgo.EndpointAPI)
	if err != nil {
		return "/"
	}
	return u.Path
}()

// tokenInURL matches the secret part of interaction and webhook URLs.
var tokenInURL = regexp.MustCompile(`(/(?:webhooks|interactions)/[0-9]+/)[^/?\s"]+`)

// redacted is an error whose text has interaction tokens removed; the
// original stays reachable with errors.As.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redact returns err with interaction and webhook tokens removed from its
// text, and a REST error turned into an *APIError.
func redact(err error) error {
	if err == nil {
		return nil
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		ae := &APIError{Status: re.Response.StatusCode, err: err}
		if r := re.Request; r != nil && r.URL != nil {
			ae.Method = r.Method
			ae.Path = tokenInURL.ReplaceAllString("/"+strings.TrimPrefix(r.URL.Path, apiPath), "${1}[redacted]")[1:]
		}
		if re.Message != nil {
			ae.Code, ae.Message = re.Message.Code, re.Message.Message
		}
		if ae.Code == 0 && ae.Message == "" {
			body := strings.Join(strings.Fields(string(re.ResponseBody)), " ")
			if r := []rune(body); len(r) > maxBodyInError {
				body = string(r[:maxBodyInError]) + "…"
			}
			ae.Message = tokenInURL.ReplaceAllString(body, "${1}[redacted]")
		}
		return ae
	}
	msg := err.Error()
	if clean := tokenInURL.ReplaceAllString(msg, "${1}[redacted]"); clean != msg {
		return &redacted{msg: clean, err: err}
	}
	return err
}

// Discord's error codes the adapter maps to lasting refusals
// (developers/topics/opcodes-and-status-codes.mdx, JSON error codes).
const (
	codeUnknownChannel      = 10003
	codeUnknownGuild        = 10004
	codeUnknownMessage      = 10008
	codeUnknownWebhook      = 10015
	codeMissingAccess       = 50001
	codeCannotMessageUser   = 50007
	codeMissingPermissions  = 50013
	codeInvalidWebhookToken = 50027
)

// refusal returns the reason of a lasting refusal in err, the error of a
// post (edit false) or an edit (edit true), or "" for a passing one. An
// interaction's token that Discord no longer knows (10015, 50027) or a
// deleted message (10008) is message_deleted on an edit: the core posts
// the rest anew, and Send then posts in the channel (interactionGone).
func refusal(err error, edit bool) string {
	var ae *APIError
	if !errors.As(err, &ae) {
		return ""
	}
	switch ae.Code {
	case codeMissingAccess, codeMissingPermissions:
		return bridges.ReasonForbidden
	case codeUnknownChannel, codeUnknownGuild:
		return bridges.ReasonChatGone
	case codeCannotMessageUser:
		return bridges.ReasonBlocked
	case codeUnknownMessage, codeUnknownWebhook, codeInvalidWebhookToken:
		if edit {
			return bridges.ReasonMessageDeleted
		}
	}
	return ""
}

// interactionGone reports whether err says an interaction's response can
// no longer be written: its token expired or is unknown, or the response
// was deleted.
func interactionGone(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case codeUnknownWebhook, codeInvalidWebhookToken, codeUnknownMessage:
		return true
	}
	return false
}

// refused is a lasting refusal as Send and Edit return it: its text is
// the platform error's (the request, status, code and description), and
// it unwraps to the *bridges.PermanentError the core acts on, whose Err
// is that error.
type refused struct{ pe *bridges.PermanentError }

func (e *refused) Error() string { return e.pe.Err.Error() }
func (e *refused) Unwrap() error { return e.pe }

// lasting returns err as a lasting refusal when refusal says it is one,
// else err unchanged.
func lasting(err error, edit bool) error {
	if err == nil {
		return nil
	}
	if reason := refusal(err, edit); reason != "" {
		return &refused{pe: &bridges.PermanentError{Reason: reason, Err: err}}
	}
	return err
}
