package bridges_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/store"
)

// TestResumeInTheSameMessage: a relay stopped mid-answer leaves its inbox
// entry pending with the message it posted; a second relay over the same
// inbox (and the same platform, which keeps its messages across the
// bridge's restart) finishes the answer by editing that message: the
// final text replaces the partial one, nothing is posted twice, and the
// adapter's references (Message.Ref, Sent.Ref) survive through its
// RefCodec.
func TestResumeInTheSameMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := bridgestest.NewInbox()
		st := bridgestest.NewStore()
		p := bridgestest.NewPlatform(testLimits) // one platform across both runs
		full := strings.Repeat("word ", 30)      // 150 runes: two parts
		be := &bridgestest.Backend{Steps: bridgestest.Answer(full, 5, 2*time.Second, "c1")}
		r1, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox})
		h1 := r1.Bind(p, bridges.Route{Name: "fake/t", Backend: be})
		m := msg("b", "question")
		m.Ref = "interaction-token"
		_ = h1.Handle(context.Background(), m)
		time.Sleep(10 * time.Second) // part 0 posted and edited, part 1 not yet
		synctest.Wait()
		if n := p.Sends(); n != 1 {
			t.Fatalf("sends before the stop = %d, want 1 (part 0)", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = r1.Shutdown(ctx) // interrupted: the entry stays pending
		cancel()
		// The interrupted note may have needed part 1 as well.
		pending, _ := inbox.InboxPending()
		if len(pending) != 1 || len(pending[0].Posted) == 0 || pending[0].Posted[0].ID != "m1" || string(pending[0].Ref) != "interaction-token" {
			t.Fatalf("pending after the stop = %+v, want the entry with message m1 first and the encoded ref", pending)
		}
		posted := len(pending[0].Posted)
		if posted != p.Sends() {
			t.Fatalf("entry keeps %d messages, platform has %d", posted, p.Sends())
		}

		// The resumed answer is longer: three parts.
		full = strings.Repeat("word ", 50)
		r2, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox})
		r2.Bind(p, bridges.Route{Name: "fake/t", Backend: &bridgestest.Backend{Steps: bridgestest.Answer(full, 50, 0, "c1")}})
		before := len(p.Calls())
		if n, _, err := r2.Recover(); n != 1 || err != nil {
			t.Fatalf("Recover = %d, %v, want 1", n, err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := strings.Join(p.Messages(), ""); got != full {
			t.Errorf("visible = %q, want the full answer once", got)
		}
		if n := p.Sends(); n != 3 {
			t.Errorf("sends in all = %d, want 3: each part posted once across both runs", n)
		}
		var editedM1, sentWithRef bool
		for _, c := range p.Calls()[before:] { // the second run's requests
			if c.Op == "edit" && c.ID == "m1" && c.Ref == "ref:m1" && strings.HasPrefix(full, c.Out.Text) {
				editedM1 = true
			}
			if c.Op == "send" && c.ID == "m3" && c.Ref == "interaction-token" {
				sentWithRef = true
			}
		}
		if !editedM1 || !sentWithRef {
			t.Errorf("resumed: edited m1 with its ref = %v, sent part 1 answering the restored Message.Ref = %v; calls %+v", editedM1, sentWithRef, p.Calls())
		}
		if pending, _ := inbox.InboxPending(); len(pending) != 0 {
			t.Errorf("pending after the resumed answer = %d, want 0", len(pending))
		}
	})
}

// TestResumeOldEntriesDecode: an inbox entry written before the reply's
// progress was kept (no posted messages, no ref) still resumes, posting
// anew.
func TestResumeOldEntriesDecode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := bridgestest.NewInbox()
		payload, _ := json.Marshal(msg("b", "q"))
		old := `{"id":"fake/t/b#q-q","key":"fake/t","payload":` + strconv.Quote(base64.StdEncoding.EncodeToString(payload)) + `,"received":"1999-12-31T23:00:00Z"}`
		var e store.InboxEntry
		if err := json.Unmarshal([]byte(old), &e); err != nil {
			t.Fatal(err)
		}
		inbox.InboxAdd(e)
		p := bridgestest.NewPlatform(testLimits)
		r2, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Inbox: inbox, PendingMaxAge: 24 * time.Hour})
		r2.Bind(p, bridges.Route{Name: "fake/t", Backend: &bridgestest.Backend{Steps: bridgestest.Answer("fine", 5, 0, "c")}})
		if n, _, _ := r2.Recover(); n != 1 {
			t.Fatalf("Recover = %d, want 1", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := p.Messages(); len(got) != 1 || got[0] != "fine" {
			t.Errorf("messages = %q, want the answer posted once", got)
		}
	})
}

// TestTooOldApologisesInItsMessage: a pending message too old to answer
// gets the apology in the message its partial answer was in, not a new
// one.
func TestTooOldApologisesInItsMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := bridgestest.NewPlatform(testLimits)
		m := msg("b", "q")
		s, err := p.Send(context.Background(), &m, bridges.Out{Text: "partial … the full answer follows"})
		if err != nil {
			t.Fatal(err)
		}
		inbox := bridgestest.NewInbox()
		payload, _ := json.Marshal(m)
		inbox.InboxAdd(store.InboxEntry{ID: "fake/t/b#q-q", Key: "fake/t", Payload: payload,
			Received: time.Now().Add(-time.Hour), Posted: []store.PostedMessage{{ChatID: s.ChatID, ID: s.ID, Ref: []byte(s.Ref.(string))}}})
		r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Inbox: inbox})
		r.Bind(p, bridges.Route{Name: "fake/t", Backend: &bridgestest.Backend{}})
		if _, n, _ := r.Recover(); n != 1 {
			t.Fatalf("apologised = %d, want 1", n)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := p.Messages(); len(got) != 1 || !strings.HasPrefix(got[0], "Sorry — I was restarted") || p.Sends() != 1 {
			t.Errorf("messages = %q after %d sends, want the apology in the one message", got, p.Sends())
		}
	})
}

func TestInboxResumesInterruptedAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := bridgestest.NewInbox()
		st := bridgestest.NewStore()
		slow := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
			if req.Question == "quick" {
				return bridgestest.Answer("quick answer", 50, 0, "c1")
			}
			return bridgestest.Answer(strings.Repeat("slow ", 40), 5, 5*time.Second, "c1")
		}}
		p := bridgestest.NewPlatform(testLimits)
		r1, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox})
		h1 := r1.Bind(p, bridges.Route{Name: "fake/t", Backend: slow})
		_ = h1.Handle(context.Background(), msg("a", "quick"))
		_ = h1.Handle(context.Background(), msg("b", "slow one"))
		time.Sleep(10 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = r1.Shutdown(ctx) // the slow answer is interrupted
		cancel()
		pending, _ := inbox.InboxPending()
		if len(pending) != 1 || !strings.Contains(pending[0].ID, "fake/t/b") {
			t.Fatalf("pending after shutdown = %+v, want only the interrupted question", pending)
		}

		// Restart: the pending question is answered again, the completed one is not.
		p2 := bridgestest.NewPlatform(testLimits)
		r2, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox})
		r2.Bind(p2, bridges.Route{Name: "fake/t", Backend: slow})
		if n, _, err := r2.Recover(); n != 1 || err != nil {
			t.Fatalf("Recover = %d, %v, want 1", n, err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := p2.Messages(); strings.Join(got, "") != strings.Repeat("slow ", 40) {
			t.Errorf("after restart messages = %q, want the full slow answer once", got)
		}
		if pending, _ := inbox.InboxPending(); len(pending) != 0 {
			t.Errorf("pending after the answer = %d, want 0 (completed entries are removed)", len(pending))
		}
	})
}

func TestInboxApologisesForOldMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := bridgestest.NewInbox()
		st := bridgestest.NewStore()
		never := &bridgestest.Backend{Steps: []bridgestest.Step{{Wait: time.Hour}}}
		r1, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox})
		h1 := r1.Bind(bridgestest.NewPlatform(testLimits), bridges.Route{Name: "fake/t", Backend: never})
		_ = h1.Handle(context.Background(), msg("a", "lost?"))
		time.Sleep(time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_ = r1.Shutdown(ctx)
		cancel()
		time.Sleep(20 * time.Minute) // down for a while

		p2 := bridgestest.NewPlatform(testLimits)
		be := &bridgestest.Backend{Steps: answer("ok")}
		r2, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox, PendingMaxAge: 10 * time.Minute})
		r2.Bind(p2, bridges.Route{Name: "fake/t", Backend: be})
		if _, sorry, _ := r2.Recover(); sorry != 1 {
			t.Fatalf("apologies = %d, want 1", sorry)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := p2.Messages(); len(got) != 1 || !strings.HasPrefix(got[0], "Sorry — I was restarted") {
			t.Errorf("messages = %q, want one apology", got)
		}
		if len(be.Requests()) != 0 {
			t.Error("an old pending message was sent to the backend")
		}
		if pending, _ := inbox.InboxPending(); len(pending) != 0 {
			t.Errorf("pending = %d, want 0", len(pending))
		}
	})
}

// TestRecoverSkipsThisRunsMessages: Recover called while the adapters
// already run resumes only what a previous run left, never a message this
// run is answering (that would answer it twice).
func TestRecoverSkipsThisRunsMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := bridgestest.NewInbox()
		be := &bridgestest.Backend{Steps: bridgestest.Answer("slow answer", 2, time.Second, "c")}
		r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Inbox: inbox})
		p := bridgestest.NewPlatform(testLimits)
		h := r.Bind(p, bridges.Route{Name: "fake/t", Backend: be})
		time.Sleep(time.Second)
		_ = h.Handle(context.Background(), msg("a", "question"))
		time.Sleep(time.Second)
		if n, _, _ := r.Recover(); n != 0 {
			t.Errorf("Recover resumed %d of this run's messages, want 0", n)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(be.Requests()); n != 1 {
			t.Errorf("backend asked %d times, want 1", n)
		}
	})
}

// TestRedeliveryAfterRestartAnsweredOnce: a message left pending by a
// crash is resumed from the inbox, and the platform delivering it again
// (an unconfirmed Telegram update) does not answer it twice, in either
// order.
func TestRedeliveryAfterRestartAnsweredOnce(t *testing.T) {
	for _, recoverFirst := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			inbox := bridgestest.NewInbox()
			st := bridgestest.NewStore()
			r1, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox})
			never := &bridgestest.Backend{Steps: []bridgestest.Step{{Wait: time.Hour}}}
			h1 := r1.Bind(bridgestest.NewPlatform(testLimits), bridges.Route{Name: "fake/t", Backend: never})
			m := msg("a", "question")
			_ = h1.Handle(context.Background(), m)
			time.Sleep(time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			_ = r1.Shutdown(ctx)
			cancel()
			time.Sleep(time.Second)

			be := &bridgestest.Backend{Steps: bridgestest.Answer("answer", 10, 100*time.Millisecond, "c")}
			r2, _ := bridges.NewRelay(bridges.Config{Store: st, Inbox: inbox})
			h2 := r2.Bind(bridgestest.NewPlatform(testLimits), bridges.Route{Name: "fake/t", Backend: be})
			if recoverFirst {
				_, _, _ = r2.Recover()
				_ = h2.Handle(context.Background(), m)
			} else {
				_ = h2.Handle(context.Background(), m)
				_, _, _ = r2.Recover()
			}
			time.Sleep(time.Minute)
			synctest.Wait()
			if n := len(be.Requests()); n != 1 {
				t.Errorf("recoverFirst=%v: backend asked %d times, want 1", recoverFirst, n)
			}
		})
	}
}
