package chatofai

import (
	"encoding/json"

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

var refine = wire.Refine

var classify = wire.Classify

var conversationGone = wire.ConversationGone

type flexString = wire.FlexString

var clip = wire.Clip
