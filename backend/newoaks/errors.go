package newoaks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// envelope is the common NewOaks answer:
// {"Data": ..., "Version": "1.0.0", "Success": true, "Code": 200, "Message": ""}.
// Code is documented as the HTTP status; Message holds the error.
type envelope struct {
	Data    json.RawMessage `json:"Data"`
	Version flexString      `json:"Version"`
	Success *flexString     `json:"Success"`
	Code    *flexString     `json:"Code"`
	Message flexString      `json:"Message"`
}

// isEnvelope reports whether the object had Success or Code.
func (e envelope) isEnvelope() bool { return e.Success != nil || e.Code != nil }

// failed reports a business error: Success false, or, without Success, a
// Code other than 200 (or 0).
func (e envelope) failed() bool {
	if e.Success != nil {
		return !strings.EqualFold(string(*e.Success), "true")
	}
	return e.Code != nil && *e.Code != "200" && *e.Code != "0" && *e.Code != ""
}

// err classifies a failed envelope. inSession tells whether the request
// named a session (ClientAsk), so that a session error means the
// conversation is gone.
func (e envelope) err(secret backend.Secret, inSession bool) *backend.Error {
	code := ""
	if e.Code != nil {
		code = clip(string(*e.Code))
	}
	msg := clip(wire.Scrub(string(e.Message), secret))
	if msg == "" {
		msg = "request failed"
	}
	return &backend.Error{Kind: classify(code, msg, inSession), Code: code, Message: msg}
}

// refine adjusts the classification of an HTTP error from wire.Do: a
// session the service no longer knows becomes KindConversationExpired,
// and a status wire could not classify (400, 422, ...) is classified by
// the body's Code and Message.
func refine(err error, inSession bool) error {
	var be *backend.Error
	if !errors.As(err, &be) || be.Status == 0 {
		return err
	}
	if inSession && conversationGone(be.Message) {
		be.Kind = backend.KindConversationExpired
	} else if be.Kind == backend.KindBadResponse {
		be.Kind = classify(be.Code, be.Message, inSession)
	}
	return err
}

// classify maps a business Code and Message to a Kind. NewOaks documents
// Code as an HTTP status and publishes no list, so the status is read as
// such and otherwise the message decides; anything unrecognised is
// KindBadResponse.
func classify(code, msg string, inSession bool) backend.Kind {
	m := strings.ToLower(msg)
	if inSession && conversationGone(m) {
		return backend.KindConversationExpired
	}
	if n, err := strconv.Atoi(code); err == nil {
		switch {
		case n == 401 || n == 403:
			return backend.KindUnauthorized
		case n == 404:
			return backend.KindNotFound
		case n == 429:
			return backend.KindRateLimited
		case n >= 500 && n <= 599:
			return backend.KindUnavailable
		}
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("secret key", "api key", "apikey", "unauthori", "authenticat", "authorization", "permission", "forbidden", "invalid key", "invalid token", "token expired", "subscription"):
		return backend.KindUnauthorized
	case has("rate limit", "too many", "too frequent", "frequency"):
		return backend.KindRateLimited
	case has("sensitive", "filtered", "blocked", "moderat", "violat"):
		return backend.KindContentFiltered
	case has("not found", "not exist", "no such", "deleted") ||
		has("serialnumber", "chatbot") && has("invalid", "unknown"):
		return backend.KindNotFound
	case has("quota", "credit", "balance", "insufficient", "overload", "busy", "unavailable", "timeout", "timed out", "try again"):
		return backend.KindUnavailable
	}
	return backend.KindBadResponse
}

var conversationGone = wire.ConversationGone

type flexString = wire.FlexString

var clip = wire.Clip

// snippet quotes the start of b for an error message, without the secret.
func snippet(b []byte, secret backend.Secret) string {
	const max = 60
	s := clip(wire.Scrub(string(b[:min(len(b), 4*max+len(secret.Reveal()))]), secret))
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}
