package wire

import (
	"errors"

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
// returned yet. The zero value is empty.
type Queue struct {
	evs []backend.Event
	i   int
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
