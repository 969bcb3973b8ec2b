package backend_test

import (
	"errors"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

// TestStreamCloseEnds: Close marks the stream done, so Next returns false
// afterwards and Err says it was closed; the decoder is closed once.
func TestStreamCloseEnds(t *testing.T) {
	closes := 0
	dec := &backend.EventsDecoder{
		Events:  []backend.Event{backend.Delta{Text: "a"}, backend.Delta{Text: "b"}, backend.Done{}},
		OnClose: func() { closes++ },
	}
	s := backend.NewStream(dec)
	if !s.Next() {
		t.Fatalf("Next() = false before Close, err %v", s.Err())
	}
	s.Close()
	s.Close()
	if s.Next() {
		t.Errorf("Next() after Close = true (%v), want false", s.Current())
	}
	if !errors.Is(s.Err(), backend.ErrClosed) {
		t.Errorf("Err() after Close = %v, want ErrClosed", s.Err())
	}
	if closes != 1 {
		t.Errorf("decoder closed %d times, want 1", closes)
	}
}

// TestStreamCloseAfterDone: closing a finished stream changes nothing.
func TestStreamCloseAfterDone(t *testing.T) {
	s := backend.NewStream(&backend.EventsDecoder{Events: []backend.Event{backend.Done{ConversationID: "c"}}})
	for s.Next() {
	}
	s.Close()
	if s.Next() || s.Err() != nil {
		t.Errorf("after Done and Close: Next true or Err %v, want false and nil", s.Err())
	}
}
