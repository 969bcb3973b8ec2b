package main

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestClusterStaleSendDeleted: failure window W2 (research/scale-out.md
// §7). The replica answering a question freezes while the first message
// of its reply is on its way (the platform holds the request; the
// replica's lease renewals stop, as under SIGSTOP between the fence check
// and the request). Another replica takes the partition over and shows
// the whole answer. When the frozen replica wakes, its request lands after
// all; finding its claim gone, it deletes the message it just posted and
// writes nothing else: the chat shows the answer once.
func TestClusterStaleSendDeleted(t *testing.T) {
	ss := &slowScript{asked: map[string]int{}}
	be := &bridgestest.Backend{Script: ss.script}
	e := newClusterEnv(t, 2*time.Second, 8, be, be.Requests)
	e.plat.Lim.EditInterval = 50 * time.Millisecond
	held, release := make(chan bridgestest.Call, 1), make(chan struct{})
	var first atomic.Bool
	e.plat.Fail = func(c bridgestest.Call) error {
		if c.Op == "send" && first.CompareAndSwap(false, true) {
			held <- c
			<-release // the request is on its way while its replica is frozen
		}
		return nil
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	e.startAll(t, 3)
	const conv, q = "zombie", "slow stale"
	full := strings.TrimSpace(slowText(q))
	handle(t, e.reps[0], msg(conv, "1", q))
	var stale bridgestest.Call
	select {
	case stale = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the answer's first message was never sent")
	}
	frozen := e.owner(convKey(conv))
	if frozen == nil {
		t.Fatal("nobody owns the conversation's partition")
	}
	frozen.cl.paused.Store(true)
	frozeAt := time.Now()

	bridgestest.WaitFor(t, "another replica shows the whole answer", 3*e.ttl+10*time.Second, func() bool {
		m := e.plat.Messages()
		return ss.askedN(q) == 2 && len(m) == 1 && strings.TrimSpace(m[0]) == full
	})
	var landed time.Time
	for _, c := range e.plat.Calls() {
		if c.Op == "send" || c.Op == "edit" {
			landed = c.Time
		}
	}
	t.Logf("the new owner's answer landed %v after the freeze (lease TTL %v)", landed.Sub(frozeAt).Round(time.Millisecond), e.ttl)

	// Wake up (SIGCONT): renewals resume (and are refused), the held
	// request lands.
	frozen.cl.paused.Store(false)
	close(release)
	bridgestest.WaitFor(t, "the stale message deleted", 10*time.Second, func() bool {
		return slices.ContainsFunc(e.plat.Calls(), func(c bridgestest.Call) bool { return c.Op == "delete" && c.ID == stale.ID })
	})
	if m := e.plat.Messages(); len(m) != 1 || strings.TrimSpace(m[0]) != full {
		t.Errorf("messages = %q, want the one full answer", m)
	}
	for _, c := range writesAfter(e.plat, landed) {
		if c.Op != "delete" || c.ID != stale.ID {
			t.Errorf("a platform write after the new owner's answer landed: %s %s %q", c.Op, c.ID, c.Out.Text)
		}
	}
	if !strings.HasPrefix(full, stale.Out.Text) {
		t.Errorf("the stale message %q is not a part of the answer", stale.Out.Text)
	}
}
