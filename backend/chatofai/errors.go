package chatofai

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// envelope is the documented body of every non-stream answer and of an
// error: {"code": 0, "msg"|"message": "...", "data": {...}, "request_id": "..."}.
// Only code 0 means success. The same type decodes the stream's JSON header
// and an envelope's data, which carry the answer fields.
type envelope struct {
	Code      *flexString     `json:"code"`
	Msg       flexString      `json:"msg"`
	Message   flexString      `json:"message"`
	Data      json.RawMessage `json:"data"`
	RequestID flexString      `json:"request_id"`

	Answer          flexString      `json:"answer"`
	ConversationUID flexString      `json:"conversation_uid"`
	RelatedDocs     json.RawMessage `json:"related_docs"`
	SystemMessage   flexString      `json:"system_message"`
}

// failed reports whether the envelope carries a non-zero code.
func (e envelope) failed() bool {
	return e.Code != nil && *e.Code != "0" && *e.Code != ""
}

// err classifies a failed envelope. continuing tells whether the request
// carried a conversation_uid.
func (e envelope) err(secret backend.Secret, continuing bool) *backend.Error {
	msg := string(e.Msg)
	if msg == "" {
		msg = string(e.Message)
	}
	msg = clip(wire.Scrub(msg, secret))
	code := clip(string(*e.Code))
	be := &backend.Error{Kind: classify(code, msg, continuing), Code: code, Message: msg}
	if e.RequestID != "" {
		be.Message += " (request_id " + clip(string(e.RequestID)) + ")"
	}
	return be
}

// refine adjusts the classification of an HTTP error from wire.Do: a
// conversation the service no longer knows becomes
// KindConversationExpired, and a status wire could not classify (400, 422,
// ...) is classified by the body's code and message.
func refine(err error, continuing bool) error {
	var be *backend.Error
	if !errors.As(err, &be) || be.Status == 0 {
		return err
	}
	if continuing && conversationGone(be.Message) {
		be.Kind = backend.KindConversationExpired
	} else if be.Kind == backend.KindBadResponse {
		be.Kind = classify(be.Code, be.Message, continuing)
	}
	return err
}

// classify maps an envelope code and message to a Kind. chatof.ai
// documents no code list, so numeric codes that look like HTTP statuses
// are read as such and otherwise the message decides; anything
// unrecognised is KindBadResponse.
func classify(code, msg string, continuing bool) backend.Kind {
	m := strings.ToLower(msg)
	if continuing && conversationGone(m) {
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
	case has("api key", "api_key", "apikey", "unauthori", "authenticat", "permission", "forbidden", "token invalid", "invalid token", "subscription", "upgrade your plan"):
		return backend.KindUnauthorized
	case has("rate limit", "too many", "too frequent", "frequency"):
		return backend.KindRateLimited
	case has("sensitive", "filtered", "blocked", "moderat", "violat"):
		return backend.KindContentFiltered
	case has("not found", "not exist", "no such", "deleted"):
		return backend.KindNotFound
	case has("quota", "credit", "balance", "insufficient", "overload", "busy", "unavailable", "timeout", "timed out", "try again"):
		return backend.KindUnavailable
	}
	return backend.KindBadResponse
}

var conversationGone = wire.ConversationGone

type flexString = wire.FlexString

var clip = wire.Clip
