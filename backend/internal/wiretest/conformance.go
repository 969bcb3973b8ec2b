package wiretest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/google/go-cmp/cmp"
)

// Hang returns a handler that writes first (when not empty; with
// contentType when set), flushes, and then blocks until its request ends;
// done is closed when the handler has returned, i.e. the client closed
// the connection.
func Hang(first, contentType string) (h func(w http.ResponseWriter, r *http.Request, n int), done <-chan struct{}) {
	ch := make(chan struct{})
	return func(w http.ResponseWriter, r *http.Request, n int) {
		defer close(ch)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		if first != "" {
			io.WriteString(w, first)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}, ch
}

// WaitClosed fails t unless done is closed within 5 s: the server handler
// saw its request end, so the client closed the connection.
func WaitClosed(t testing.TB, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("server handler still running 5s after the stream ended: connection not closed")
	}
}

// CheckCancel asks with ask under a context it cancels, after the first
// event when first is true (else 10 ms into an Ask or Next that blocks), and
// checks that the stream ends promptly with context.Canceled and the
// connection is closed (done, from Hang).
func CheckCancel(t *testing.T, ask func(ctx context.Context) *backend.Stream, first bool, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if !first {
		time.AfterFunc(10*time.Millisecond, cancel) // Ask or Next below blocks
	}
	s := ask(ctx)
	defer s.Close()
	if first {
		if !s.Next() {
			t.Fatalf("first Next() = false, err %v", s.Err())
		}
		cancel()
	}
	start := time.Now()
	if s.Next() {
		t.Fatalf("Next() after cancel = true, event %#v", s.Current())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Next() took %v after cancel", d)
	}
	if !errors.Is(s.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", s.Err())
	}
	WaitClosed(t, done)
}

// CheckIdle checks how a stream ends when its backend goes silent:
// collect drains the stream of a client whose idle timeout is idle; the
// events before the silence are want, the error is unavailable and wraps
// idleErr (wire.ErrIdle), it comes about idle after the start (within
// 10 s), and the connection is closed (done, as from Hang).
func CheckIdle(t testing.TB, idle time.Duration, collect func() ([]backend.Event, error), want []backend.Event, idleErr error, done <-chan struct{}) {
	t.Helper()
	start := time.Now()
	evs, err := collect()
	elapsed := time.Since(start)
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if backend.KindOf(err) != backend.KindUnavailable || !errors.Is(err, idleErr) {
		t.Errorf("Err() = %v, want unavailable idle timeout", err)
	}
	if elapsed < idle || elapsed > 10*time.Second {
		t.Errorf("idle timeout after %v, want about %v", elapsed, idle)
	}
	WaitClosed(t, done)
}

// CheckBrokenStreamNotRetried: a connection dropped after the stream has
// begun (first written) ends the stream with an error after the events
// of first (want), and is not asked again. newAsk builds the client on a
// server's base URL.
func CheckBrokenStreamNotRetried(t *testing.T, newAsk func(base string) *backend.Stream, contentType, first string, want []backend.Event, collect func(*backend.Stream) ([]backend.Event, error), equal func(a, b []backend.Event) string) {
	t.Helper()
	rec := NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-stream
	})
	evs, err := collect(newAsk(rec.Base))
	if diff := equal(want, evs); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if err == nil {
		t.Error("Err() = nil, want an error")
	}
	if n := len(rec.Requests()); n != 1 {
		t.Errorf("server got %d requests, want 1", n)
	}
}

// CheckEnd checks the error that ended a stream: nil when ok, else a
// *backend.Error of kind, wrapping backend.ErrTruncated exactly when
// truncated.
func CheckEnd(t *testing.T, err error, ok bool, kind backend.Kind, truncated bool) {
	t.Helper()
	if ok {
		if err != nil {
			t.Errorf("Err() = %v, want nil", err)
		}
		return
	}
	var be *backend.Error
	if !errors.As(err, &be) || be.Kind != kind {
		t.Fatalf("Err() = %v, want kind %v", err, kind)
	}
	if got := errors.Is(err, backend.ErrTruncated); got != truncated {
		t.Errorf("errors.Is(%v, ErrTruncated) = %v, want %v", err, got, truncated)
	}
}

// CheckError fails t unless err is a *backend.Error of kind with the
// service's code and message msg.
func CheckError(t testing.TB, err error, kind backend.Kind, code, msg string) {
	t.Helper()
	var be *backend.Error
	if !errors.As(err, &be) {
		t.Fatalf("Err() = %v, want *backend.Error", err)
	}
	if be.Kind != kind || be.Code != code || be.Message != msg {
		t.Errorf("error = {%v %q %q}, want {%v %q %q}", be.Kind, be.Code, be.Message, kind, code, msg)
	}
}

// StreamCase is a body a client's stream must end as wanted: Events, then
// the end CheckEnd checks (nil when OK, else an error of Kind wrapping
// backend.ErrTruncated exactly when Truncated).
type StreamCase struct {
	// CType is the body's Content-Type; "" means CheckStreams' default.
	CType     string
	Body      string
	Events    []backend.Event
	Kind      backend.Kind
	Truncated bool
	OK        bool
}

// CheckStreams runs each case as a subtest: a Recorder answers every
// request with the case's body, as ctype unless the case names its own
// type; ask asks the client at the Recorder's base URL and returns the
// events (merged, where the client's cuts do not matter) and the error.
func CheckStreams(t *testing.T, ctype string, cases map[string]StreamCase, ask func(t *testing.T, base string) ([]backend.Event, error)) {
	t.Helper()
	for name, tt := range cases {
		t.Run(name, func(t *testing.T) {
			rec := NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				ct := tt.CType
				if ct == "" {
					ct = ctype
				}
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, tt.Body)
			})
			evs, err := ask(t, rec.Base)
			CheckEvents(t, tt.Events, evs)
			CheckEnd(t, err, tt.OK, tt.Kind, tt.Truncated)
		})
	}
}
