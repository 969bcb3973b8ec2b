package wire

import (
	"errors"
	"io"

	"github.com/chat-bridge/chat-bridge/backend/internal/sse"
)

// SSE reads the data of the events of a text/event-stream body, for the
// clients whose services stream SSE (ChatbotIQ, OpenAI-compatible).
//
// The standard drops an event the body ends inside (without its closing
// blank line). Services do end that way with a complete `data: {...}`
// line, since their own sample clients read line by line, so SSE also
// yields that event's data once, marked last; the client uses it only
// when it is complete, else the stream is truncated.
type SSE struct {
	body  io.ReadCloser
	dec   *sse.Decoder
	ended bool
}

// NewSSE returns an SSE reader over body.
func NewSSE(body io.ReadCloser) *SSE { return &SSE{body: body, dec: sse.NewDecoder(body)} }

// Next returns the data of the next event; last marks the data of an
// event the body ended inside. ok is false at the end of the body or on
// a read error (see Err).
func (s *SSE) Next() (data string, last, ok bool) {
	if s.ended {
		return "", false, false
	}
	if s.dec.Next() {
		return s.dec.Event().Data, false, true
	}
	s.ended = true
	if ev, inside := s.dec.Incomplete(); inside && ev.Data != "" && s.dec.Err() == nil {
		return ev.Data, true, true
	}
	return "", false, false
}

// Err returns the read error that ended the body, classified as
// ReadError does (an event over sse's size limit is KindBadResponse), or
// nil.
func (s *SSE) Err() error {
	if err := s.dec.Err(); err != nil {
		return ReadError(err, errors.Is(err, sse.ErrTooLarge))
	}
	return nil
}

// Close closes the body.
func (s *SSE) Close() error { return s.body.Close() }
