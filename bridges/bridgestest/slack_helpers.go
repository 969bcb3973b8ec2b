package bridgestest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// WaitFor polls cond every 5 ms until it holds, and fails the test when
// it does not within d. what names the condition in the failure.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Recorder is a bridges.Handler that records the messages it is given;
// while Err is set it refuses them with Err instead.
type Recorder struct {
	mu   sync.Mutex
	msgs []bridges.Message
	err  error
}

var _ bridges.Handler = (*Recorder)(nil)

// Handle records m, or returns the error set with Refuse.
func (r *Recorder) Handle(_ context.Context, m bridges.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

// Refuse makes Handle return err (nil: accept again).
func (r *Recorder) Refuse(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// Messages returns copies of the messages recorded so far.
func (r *Recorder) Messages() []bridges.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bridges.Message(nil), r.msgs...)
}
