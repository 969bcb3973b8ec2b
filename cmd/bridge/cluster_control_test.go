package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// The control path between replicas (cluster_control.go): a /stop or an
// edit delivered to the replica that does not run the conversation's
// answer reaches the one that does, with the single-node behaviour.

const (
	stoppedNotice = "Stopped."
	nothingNotice = "Nothing is being answered right now."
	stoppedMark   = " … _(stopped)_"
)

// newControlEnv starts two replicas over one Redis, waits until each
// holds partitions and listens for controls, and returns a conversation
// whose partition the first one (owner) holds, with the other one.
func newControlEnv(t *testing.T) (e *clusterEnv, ss *slowScript, owner, other *replica, conv string) {
	ss = &slowScript{asked: map[string]int{}}
	be := &bridgestest.Backend{Script: ss.script}
	e = newClusterEnv(t, 4*time.Second, 8, be, be.Requests)
	a, b := e.start("r0"), e.start("r1")
	bridgestest.WaitFor(t, "the partitions spread over both replicas, both listening for controls", 15*time.Second, func() bool {
		o := e.owned()
		return o["r0"] > 0 && o["r1"] > 0 && o["r0"]+o["r1"] == e.parts && a.cl.ctl.ready.Load() && b.cl.ctl.ready.Load()
	})
	for i := range 1000 {
		conv = fmt.Sprintf("ctl%d", i)
		if e.owner(convKey(conv)) == a {
			return e, ss, a, b, conv
		}
	}
	t.Fatal("no conversation in r0's partitions")
	return
}

func handle(t *testing.T, r *replica, m bridges.Message) {
	t.Helper()
	if err := r.h.Handle(t.Context(), m); err != nil {
		t.Fatalf("Handle(%q) on %s = %v", m.Text, r.id, err)
	}
}

// waitMessage waits until a message with exactly text is shown.
func waitMessage(t *testing.T, e *clusterEnv, text string, d time.Duration) {
	t.Helper()
	bridgestest.WaitFor(t, fmt.Sprintf("message %q", text), d, func() bool {
		return slices.Contains(e.plat.Messages(), text)
	})
}

// sendOf returns the call that posted the n-th message (from 1).
func sendOf(p *bridgestest.Platform, n int) (bridgestest.Call, bool) {
	for _, c := range p.Calls() {
		if c.Op == "send" {
			if n--; n == 0 {
				return c, true
			}
		}
	}
	return bridgestest.Call{}, false
}

// sendWith returns the first call that posted text.
func sendWith(p *bridgestest.Platform, text string) (bridgestest.Call, bool) {
	for _, c := range p.Calls() {
		if c.Op == "send" && c.Out.Text == text {
			return c, true
		}
	}
	return bridgestest.Call{}, false
}

func count(msgs []string, text string) int {
	n := 0
	for _, m := range msgs {
		if m == text {
			n++
		}
	}
	return n
}

func requestFor(reqs []backend.Request, q string) (backend.Request, bool) {
	for _, r := range reqs {
		if r.Question == q {
			return r, true
		}
	}
	return backend.Request{}, false
}

// startSlow asks "q0" (answered at once, conversation conv-q0) and then
// "slow1" through other, and returns the slow answer's message ID once it
// shows some of its text, and the answer's full text.
func startSlow(t *testing.T, e *clusterEnv, other *replica, conv string) (id, full string) {
	handle(t, other, msg(conv, "1", "q0"))
	waitMessage(t, e, "Answer to: q0", 10*time.Second)
	handle(t, other, msg(conv, "2", "slow1"))
	full = slowText("slow1")
	bridgestest.WaitFor(t, "the slow answer shown in part", 10*time.Second, func() bool {
		c, ok := sendOf(e.plat, 2)
		if !ok {
			return false
		}
		id = c.ID
		msgs := e.plat.Messages()
		return len(msgs) == 2 && len(msgs[1]) > 40
	})
	return id, full
}

// checkContinues: the next question, through other, is answered in the
// conversation the answer before the stopped or edited one left (prev).
func checkContinues(t *testing.T, e *clusterEnv, other *replica, conv, prev string) {
	t.Helper()
	handle(t, other, msg(conv, "9", "q9"))
	waitMessage(t, e, "Answer to: q9", 10*time.Second)
	req, ok := requestFor(e.reqs(), "q9")
	if !ok || req.ConversationID != prev {
		t.Errorf("next question asked in conversation %q (found %v), want %q: the conversation goes on", req.ConversationID, ok, prev)
	}
}

// TestClusterStopOnOtherReplica: an answer streams on its partition's
// owner; /stop delivered to the other replica (or to the owner itself)
// ends it with what had arrived, one "Stopped." follows its final text
// and nothing is written after, and the conversation goes on.
func TestClusterStopOnOtherReplica(t *testing.T) {
	for _, to := range []string{"other", "owner"} {
		t.Run("to the "+to, func(t *testing.T) { testClusterStop(t, to) })
	}
}

func testClusterStop(t *testing.T, to string) {
	e, ss, owner, other, conv := newControlEnv(t)
	id, full := startSlow(t, e, other, conv)

	target := other
	if to == "owner" {
		target = owner
	}
	handle(t, target, msg(conv, "3", "/stop"))
	waitMessage(t, e, stoppedNotice, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // 25 edit intervals: a write after the stop would show
	msgs := e.plat.Messages()
	if len(msgs) != 3 || count(msgs, stoppedNotice) != 1 {
		t.Fatalf("messages = %q, want q0's answer, the stopped answer and one confirmation", msgs)
	}
	got := msgs[1]
	if !strings.HasSuffix(got, stoppedMark) {
		t.Errorf("stopped answer = %q, want it marked %q", got, stoppedMark)
	}
	if part := strings.TrimSuffix(got, stoppedMark); !strings.HasPrefix(full, part) || len(part) >= len(strings.TrimSpace(full)) {
		t.Errorf("stopped answer = %q, want a proper prefix of %q: what had arrived", got, full)
	}
	confirm, _ := sendWith(e.plat, stoppedNotice)
	if last, n := lastWrite(e.plat, id); !last.Before(confirm.Time) {
		t.Errorf("the stopped answer was written after the confirmation (%d writes, last %v after it)", n, last.Sub(confirm.Time))
	}
	if late := writesAfter(e.plat, confirm.Time); len(late) != 0 {
		t.Errorf("%d platform writes after the confirmation, e.g. %s %s %q", len(late), late[0].Op, late[0].ID, late[0].Out.Text)
	}
	if n := ss.askedN("slow1"); n != 1 {
		t.Errorf("slow1 asked %d times, want 1", n)
	}
	checkContinues(t, e, other, conv, "conv-q0")
}

// TestClusterStopNothingRunning: /stop delivered to the replica that does
// not hold the conversation, while nothing is answered there, gets one
// "nothing running" at once (the holder says so, no waiting out the
// reply's timeout); the conversation is unaffected.
func TestClusterStopNothingRunning(t *testing.T) {
	e, _, _, other, conv := newControlEnv(t)
	handle(t, other, msg(conv, "1", "q0"))
	waitMessage(t, e, "Answer to: q0", 10*time.Second)
	time.Sleep(200 * time.Millisecond) // the answer settled

	at := time.Now()
	handle(t, other, msg(conv, "2", "/stop"))
	waitMessage(t, e, nothingNotice, 10*time.Second)
	took := time.Since(at)
	time.Sleep(300 * time.Millisecond)
	msgs := e.plat.Messages()
	if len(msgs) != 2 || count(msgs, nothingNotice) != 1 {
		t.Errorf("messages = %q, want q0's answer and one %q", msgs, nothingNotice)
	}
	if took >= controlWait {
		t.Errorf("the notice took %v: the holder did not answer, the sender waited out %v", took, controlWait)
	}
	t.Logf("nothing-running notice after %v", took)
	checkContinues(t, e, other, conv, "conv-q0")
}

// TestClusterStopLost: a /stop whose control is lost on the way (the
// owner's subscription reconnecting) still gets one short notice — after
// the sender's wait, "nothing running" — and nothing else changes: the
// answer streams to its end, the conversation goes on with it.
func TestClusterStopLost(t *testing.T) {
	e, ss, owner, other, conv := newControlEnv(t)
	_, full := startSlow(t, e, other, conv)
	owner.cl.ctl.drop.Store(true)

	at := time.Now()
	handle(t, other, msg(conv, "3", "/stop"))
	waitMessage(t, e, nothingNotice, 10*time.Second)
	if took := time.Since(at); took < controlWait {
		t.Errorf("notice after %v, want the sender to have waited %v for an answer", took, controlWait)
	}
	owner.cl.ctl.drop.Store(false)
	bridgestest.WaitFor(t, "the whole slow answer", 15*time.Second, func() bool {
		msgs := e.plat.Messages()
		return len(msgs) >= 2 && strings.TrimSpace(msgs[1]) == strings.TrimSpace(full)
	})
	time.Sleep(300 * time.Millisecond)
	msgs := e.plat.Messages()
	if count(msgs, nothingNotice) != 1 || count(msgs, stoppedNotice) != 0 || len(msgs) != 3 {
		t.Errorf("messages = %q, want q0's answer, the whole slow answer and one %q", msgs, nothingNotice)
	}
	if n := ss.askedN("slow1"); n != 1 {
		t.Errorf("slow1 asked %d times, want 1", n)
	}
	checkContinues(t, e, other, conv, "conv-slow1")
}

// TestClusterEditOnOtherReplica: the question whose answer streams on the
// owner is edited, the edit delivered to the other replica: the answer
// restarts with the new text in the same reply (one message), as one
// turn, and the conversation goes on from it.
func TestClusterEditOnOtherReplica(t *testing.T) {
	e, ss, _, other, conv := newControlEnv(t)
	id, _ := startSlow(t, e, other, conv)

	handle(t, other, edited(msg(conv, "2", "slow1"), "q-new"))
	bridgestest.WaitFor(t, "the reply edited to the new answer", 10*time.Second, func() bool {
		msgs := e.plat.Messages()
		return len(msgs) == 2 && msgs[1] == "Answer to: q-new"
	})
	time.Sleep(300 * time.Millisecond)
	if n := e.plat.Sends(); n != 2 {
		t.Errorf("%d messages sent, want 2: q0's answer and the restarted one in the same reply", n)
	}
	if msgs := e.plat.Messages(); len(msgs) != 2 || msgs[1] != "Answer to: q-new" {
		t.Errorf("messages = %q", msgs)
	}
	if c, ok := sendOf(e.plat, 2); !ok || c.ID != id {
		t.Errorf("the new answer is in message %s, want the reply %s", c.ID, id)
	}
	var qs []string
	for _, r := range e.reqs() {
		qs = append(qs, r.Question)
	}
	if want := []string{"q0", "slow1", "q-new"}; !slices.Equal(qs, want) {
		t.Errorf("questions = %q, want %q", qs, want)
	}
	if n := ss.askedN("slow1"); n != 1 {
		t.Errorf("slow1 asked %d times, want 1", n)
	}
	if req, _ := requestFor(e.reqs(), "q-new"); req.ConversationID != "conv-q0" {
		t.Errorf("the edited question asked in conversation %q, want conv-q0", req.ConversationID)
	}
	checkContinues(t, e, other, conv, "conv-q-new")
}

// TestClusterEditWhileQueued: a question still in its partition's stream
// (its owner not reading: frozen briefly) is edited through the other
// replica: no replica has it in a conversation, so the control finds
// nothing, but the owner, once it reads the entry, answers the new text.
func TestClusterEditWhileQueued(t *testing.T) {
	e, _, owner, other, conv := newControlEnv(t)
	handle(t, other, msg(conv, "1", "q0"))
	waitMessage(t, e, "Answer to: q0", 10*time.Second)

	owner.cl.paused.Store(true)
	time.Sleep(700 * time.Millisecond) // a read in flight (≤ 500 ms) is over
	m := msg(conv, "2", "q-old")
	handle(t, other, m)
	handle(t, other, edited(m, "q-new"))
	entry := convKey(conv) + "#2"
	bridgestest.WaitFor(t, "the edit recorded", 5*time.Second, func() bool {
		v, err := other.cl.db.Edits(context.Background(), []string{entry})
		return err == nil && v[0] != nil
	})
	owner.cl.paused.Store(false)
	waitMessage(t, e, "Answer to: q-new", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if _, asked := requestFor(e.reqs(), "q-old"); asked {
		t.Errorf("the question's old text was asked too")
	}
	if msgs := e.plat.Messages(); len(msgs) != 2 {
		t.Errorf("messages = %q, want q0's answer and the edited question's", msgs)
	}
	checkContinues(t, e, other, conv, "conv-q-new")
}

func edited(m bridges.Message, text string) bridges.Message {
	m.Text, m.Edited = text, true
	return m
}
