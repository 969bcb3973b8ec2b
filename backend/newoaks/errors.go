package newoaks

import (
	"encoding/json"
	"strings"

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

var refine = wire.Refine

var classify = wire.Classify

var conversationGone = wire.ConversationGone

type flexString = wire.FlexString

var clip = wire.Clip
