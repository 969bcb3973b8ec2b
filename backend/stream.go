package backend

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Decoder produces the events of one answer. Backends implement it over
// their wire format; Stream drives it.
type Decoder interface {
	// Next returns the next event. It returns io.EOF when the body ended;
	// Stream turns an EOF before Done into a truncation error. Any other
	// error ends the stream.
	Next() (Event, error)
	// Close releases the underlying connection. It is called once.
	Close() error
}

// Stream is a pull iterator over an answer's events, in the manner of
// openai-go's ssestream.Stream:
//
//	s := b.Ask(ctx, req)
//	defer s.Close()
//	for s.Next() {
//		switch ev := s.Current().(type) { ... }
//	}
//	if err := s.Err(); err != nil { ... }
//
// A Stream starts no goroutine. Next, Current and Err are for one
// goroutine; Close may be called from any goroutine, any number of times.
type Stream struct {
	dec  Decoder
	cur  Event
	err  error
	done bool

	closed    atomic.Bool // Close was called; Next returns false from then on
	closeOnce sync.Once
	closeErr  error
}

// NewStream returns a stream over dec.
func NewStream(dec Decoder) *Stream { return &Stream{dec: dec} }

// ErrorStream returns a stream that yields no event and reports err.
func ErrorStream(err error) *Stream { return &Stream{err: err, done: true} }

// ErrClosed is the stream's error when it was closed before its end.
var ErrClosed = errors.New("stream closed before its end")

// Next advances to the next event and reports whether there is one. It
// returns false after Done, after an error, and after Close; a stream
// closed before Done or an error reports ErrClosed.
func (s *Stream) Next() bool {
	if s.done || s.err != nil {
		return false
	}
	if s.closed.Load() {
		s.err = ErrClosed
		return false
	}
	ev, err := s.dec.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = &Error{Kind: KindBadResponse, Err: ErrTruncated}
		}
		s.err = err
		s.Close()
		return false
	}
	if s.closed.Load() {
		// Closed while the decoder was reading: what it read is dropped.
		s.err = ErrClosed
		return false
	}
	s.cur = ev
	if _, ok := ev.(Done); ok {
		s.done = true
		s.Close()
	}
	return true
}

// Current returns the event Next advanced to.
func (s *Stream) Current() Event { return s.cur }

// Err returns the error that ended the stream, nil after Done.
func (s *Stream) Err() error { return s.err }

// Close releases the connection and ends the stream: Next returns false
// afterwards. It is idempotent and safe from any goroutine.
func (s *Stream) Close() error {
	s.closed.Store(true)
	s.closeOnce.Do(func() {
		if s.dec != nil {
			s.closeErr = s.dec.Close()
		}
	})
	return s.closeErr
}

// EventsDecoder is a Decoder over a fixed list of events, for tests and
// for backends that produce their events in memory. Err, when set, is
// returned after the events instead of io.EOF.
type EventsDecoder struct {
	Events  []Event
	Err     error
	OnClose func()
}

// Next implements Decoder.
func (d *EventsDecoder) Next() (Event, error) {
	if len(d.Events) == 0 {
		if d.Err != nil {
			return nil, d.Err
		}
		return nil, io.EOF
	}
	ev := d.Events[0]
	d.Events = d.Events[1:]
	return ev, nil
}

// Close implements Decoder.
func (d *EventsDecoder) Close() error {
	if d.OnClose != nil {
		d.OnClose()
	}
	return nil
}
