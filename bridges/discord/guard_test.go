package discord

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Tests of the guards against discordgo v0.29.0's failure modes
// (gateway.go). Each fails without its guard.

// TestOpenDeadlockGuard: an Op 7 answering Identify makes discordgo's
// Open deadlock (bwmarrin/discordgo#513); the bounded Open abandons the
// session and a new one identifies, so the instance keeps working and
// Run still returns.
func TestOpenDeadlockGuard(t *testing.T) {
	f := newFake(t)
	f.ReconnectOnIdentify(1)
	a := newAdapter(t, f, func(c *Config) { c.SkipCommands = true })
	a.openTimeout = time.Second
	a.identifyEvery = 0
	h, got := collect()
	run := start(t, a, h)
	f.wait(t, "a second identify after the stuck Open", func() bool { return len(f.Identifies()) >= 2 })
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("1", "D1", "", "5", "still there?"))
	if m := received(t, got, "message after the stuck Open"); m.Text != "still there?" {
		t.Errorf("message = %q", m.Text)
	}
	if err := run.stop(t); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}

// stallOp1 makes discordgo's listener pause for d when it answers an
// Op 1 on a session with logging on, while armed: it widens the window
// of bwmarrin/discordgo#1702 (a Close in that pause nils the connection
// the listener then writes to) from nanoseconds to d. discordgo.Logger
// is a package variable: it is set once for the test binary and does
// nothing unless armed (other sessions log nothing: LogLevel -1).
var (
	stallOnce  sync.Once
	stallArmed atomic.Bool
	stalled    = make(chan struct{}, 1)
)

func stallOp1(d time.Duration) {
	stallOnce.Do(func() {
		discordgo.Logger = func(_, _ int, format string, _ ...any) {
			if stallArmed.Load() && strings.Contains(format, "in response to Op1") && stallArmed.CompareAndSwap(true, false) {
				stalled <- struct{}{}
				time.Sleep(d)
			}
		}
	})
}

// TestHeartbeatRequestDuringClose: an Op 1 that the listener is
// answering while Run shuts down must not panic (bwmarrin/discordgo#1702:
// Session.Close sets the connection to nil under the listener). Without
// the guard (close calling Session.Close) this test crashes the test
// binary with a nil pointer dereference in discordgo's onEvent.
func TestHeartbeatRequestDuringClose(t *testing.T) {
	stallOp1(1500 * time.Millisecond)
	f := newFake(t)
	a := newAdapter(t, f, func(c *Config) { c.SkipCommands = true })
	a.sessionHook = func(s *discordgo.Session) { s.LogLevel = discordgo.LogInformational }
	run := start(t, a, bridges.HandlerFunc(func(context.Context, bridges.Message) error { return nil }))
	f.connected(t)
	stallArmed.Store(true)
	defer stallArmed.Store(false)
	if err := f.SendOp(0, 1, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not answer the Op 1")
	}
	// Shut down while the listener is inside the Op 1 branch.
	if err := run.stop(t); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	// The listener wakes up after Run returned: give it the time to
	// write (and, without the guard, to panic).
	time.Sleep(1500 * time.Millisecond)
}

// TestResumeGatewayURL: reconnects resume at READY's resume_gateway_url,
// after a dropped connection and after an Op 7.
func TestResumeGatewayURL(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, func(c *Config) { c.SkipCommands = true })
	start(t, a, bridges.HandlerFunc(func(context.Context, bridges.Message) error { return nil }))
	f.drop(t)
	f.wait(t, "a resume", func() bool { return len(f.Resumes()) == 1 && f.Ready(0) })
	if err := f.SendOp(0, 7, nil); err != nil {
		t.Fatal(err)
	}
	f.wait(t, "a resume after the Op 7", func() bool { return len(f.Resumes()) == 2 && f.Ready(0) })
	for i, r := range f.Resumes() {
		if !r.AtResumeURL || r.SessionID != "S1" {
			t.Errorf("resume %d: at resume URL %v, session %s; want S1 at READY's resume_gateway_url", i, r.AtResumeURL, r.SessionID)
		}
	}
	if n := len(f.Identifies()); n != 1 {
		t.Errorf("%d identifies, want 1", n)
	}
}
