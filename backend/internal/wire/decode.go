package wire

import (
	"errors"
	"io"
	"log/slog"

	"github.com/chat-bridge/chat-bridge/backend"
)

// ReadError classifies an error reading a streamed body: an error already
// classified (a *backend.Error, such as an idle timeout) is returned as is;
// a frame over the decoder's bound (tooLarge) is KindBadResponse; any other
// read failure is KindUnavailable.
func ReadError(err error, tooLarge bool) error {
	var be *backend.Error
	switch {
	case errors.As(err, &be):
		return err
	case tooLarge:
		return &backend.Error{Kind: backend.KindBadResponse, Message: "read stream", Err: err}
	}
	return &backend.Error{Kind: backend.KindUnavailable, Message: "read stream", Err: err}
}

// Queue holds the events a decoder produced from one read but has not
// returned yet, and how the stream ends after them. The zero value is
// empty.
type Queue struct {
	evs []backend.Event
	i   int
	// Err, when set, is returned by Next once the queued events are out.
	Err error
	// Ended marks the end of the body: Next returns io.EOF once the queued
	// events (and Err) are out.
	Ended bool
}

// Next returns what a decoder's Next returns next: the oldest queued
// event, else Err, else io.EOF when Ended. It returns nil, nil when the
// decoder must read more.
func (q *Queue) Next() (backend.Event, error) {
	if ev, ok := q.Pop(); ok {
		return ev, nil
	}
	if q.Err != nil {
		return nil, q.Err
	}
	if q.Ended {
		return nil, io.EOF
	}
	return nil, nil
}

// Push appends ev.
func (q *Queue) Push(ev backend.Event) { q.evs = append(q.evs, ev) }

// Pop removes and returns the oldest event; ok is false when q is empty.
// The backing array is reused once q is drained.
func (q *Queue) Pop() (ev backend.Event, ok bool) {
	if q.i >= len(q.evs) {
		return nil, false
	}
	ev = q.evs[q.i]
	q.evs[q.i] = nil
	q.i++
	if q.i == len(q.evs) {
		q.evs, q.i = q.evs[:0], 0
	}
	return ev, true
}

// Len reports how many events are queued.
func (q *Queue) Len() int { return len(q.evs) - q.i }

// DecoderOptions is what a stream decoder needs from the request that
// opened the stream.
type DecoderOptions struct {
	// ConversationID is the conversation the answer's Done carries when
	// the stream names none.
	ConversationID string
	// Secret is scrubbed from every error text.
	Secret backend.Secret
	// Log receives the decoder's debug lines; nil discards them.
	Log *slog.Logger
}

// WithDefaults returns o with a discarding Log when it has none.
func (o DecoderOptions) WithDefaults() DecoderOptions {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}
