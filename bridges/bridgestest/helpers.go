package bridgestest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// WaitFor polls cond every 5 ms until it holds, or fails t after d with
// "timed out after d waiting for what". cond is called with no lock held.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", d, what)
		case <-tick.C:
		}
	}
}

// CheckThreadLines fails t unless each of lines stands in question as a
// whole line, after the one before it: the thread context a backend was
// sent, oldest first, each line labelled with its author.
func CheckThreadLines(t testing.TB, question string, lines []string) {
	t.Helper()
	last := -1
	for i, line := range lines {
		at := strings.Index(question, line+"\n")
		if at <= last || (at > 0 && question[at-1] != '\n') {
			t.Fatalf("question %q lacks earlier message %d %q in order, labelled", question, i, line)
		}
		last = at
	}
}

// Recorder is a bridges.Handler that records the messages it accepts.
// While Fail is set (SetFail) it refuses every message with that error.
type Recorder struct {
	mu   sync.Mutex
	msgs []bridges.Message
	fail error
}

var _ bridges.Handler = (*Recorder)(nil)

// Handle implements bridges.Handler.
func (r *Recorder) Handle(ctx context.Context, m bridges.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, m)
	return nil
}

// SetFail makes Handle refuse every message with err (nil: accept again).
func (r *Recorder) SetFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// Got returns the messages accepted so far.
func (r *Recorder) Got() []bridges.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bridges.Message(nil), r.msgs...)
}
