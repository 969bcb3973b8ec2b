package wire

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
)

func TestReadError(t *testing.T) {
	classified := &backend.Error{Kind: backend.KindRateLimited}
	if got := ReadError(classified, true); got != classified {
		t.Errorf("ReadError(classified) = %v, want it unchanged", got)
	}
	for tooLarge, want := range map[bool]backend.Kind{true: backend.KindBadResponse, false: backend.KindUnavailable} {
		err := ReadError(io.ErrUnexpectedEOF, tooLarge)
		if backend.KindOf(err) != want || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadError(EOF, %v) = %v, want kind %v wrapping the read error", tooLarge, err, want)
		}
	}
}

func TestQueue(t *testing.T) {
	var q Queue
	if _, ok := q.Pop(); ok {
		t.Fatal("Pop() on an empty queue = ok")
	}
	q.Push(backend.Delta{Text: "a"})
	q.Push(backend.Done{})
	if ev, ok := q.Pop(); !ok || ev != (backend.Delta{Text: "a"}) || q.Len() != 1 {
		t.Fatalf("Pop() = %v, %v, len %d; want the first event, 1 left", ev, ok, q.Len())
	}
	q.Push(backend.Status{Stage: "s"})
	for _, want := range []backend.Event{backend.Done{}, backend.Status{Stage: "s"}} {
		if ev, ok := q.Pop(); !ok || !equalEvent(ev, want) {
			t.Fatalf("Pop() = %v, %v; want %v", ev, ok, want)
		}
	}
	if q.Len() != 0 {
		t.Errorf("Len() = %d after draining, want 0", q.Len())
	}
}

func equalEvent(a, b backend.Event) bool {
	_, ad := a.(backend.Done)
	_, bd := b.(backend.Done)
	if ad || bd {
		return ad && bd
	}
	return a == b
}

// TestQueueNext: the queued events, then Err, then io.EOF; nil, nil while
// the decoder must read more.
func TestQueueNext(t *testing.T) {
	var q Queue
	if ev, err := q.Next(); ev != nil || err != nil {
		t.Fatalf("Next() on an open, empty queue = %v, %v; want nil, nil", ev, err)
	}
	boom := errors.New("boom")
	q.Push(backend.Delta{Text: "a"})
	q.Err, q.Ended = boom, true
	if ev, err := q.Next(); ev != (backend.Delta{Text: "a"}) || err != nil {
		t.Errorf("first Next() = %v, %v; want the queued delta", ev, err)
	}
	if _, err := q.Next(); err != boom {
		t.Errorf("second Next() error = %v, want Err", err)
	}
	q.Err = nil
	if _, err := q.Next(); err != io.EOF {
		t.Errorf("Next() after the end = %v, want io.EOF", err)
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(t.Context(), time.Minute); err != nil || time.Since(start) != time.Minute {
			t.Errorf("Sleep(1m) = %v after %v, want nil after 1m", err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start = time.Now()
		if err := Sleep(ctx, time.Hour); err != context.Canceled || time.Since(start) != time.Second {
			t.Errorf("Sleep(1h) cancelled after 1s = %v after %v, want context.Canceled after 1s", err, time.Since(start))
		}
	})
}

// TestSSE: every event's data, then the event the body ended inside,
// marked last, once.
func TestSSE(t *testing.T) {
	s := NewSSE(io.NopCloser(strings.NewReader("data: a\n\n: comment\ndata: b\n\ndata: {\"c\"")))
	type got struct {
		data string
		last bool
	}
	var all []got
	for {
		data, last, ok := s.Next()
		if !ok {
			break
		}
		all = append(all, got{data, last})
	}
	want := []got{{"a", false}, {"b", false}, {`{"c"`, true}}
	if len(all) != len(want) || all[0] != want[0] || all[1] != want[1] || all[2] != want[2] {
		t.Errorf("Next() gave %v, want %v", all, want)
	}
	if _, _, ok := s.Next(); ok || s.Err() != nil {
		t.Errorf("Next() after the end = ok %v, Err %v; want false, nil", ok, s.Err())
	}
	broken := NewSSE(io.NopCloser(io.MultiReader(strings.NewReader("data: x"), iotest.ErrReader(io.ErrUnexpectedEOF))))
	if _, _, ok := broken.Next(); ok || backend.KindOf(broken.Err()) != backend.KindUnavailable {
		t.Errorf("Next() on a broken body = ok %v, Err %v; want false and an unavailable error, not the cut event", ok, broken.Err())
	}
}
