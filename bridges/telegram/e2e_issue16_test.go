// End-to-end tests of issue 16 through the Telegram fake: thread
// context, status lines, the notices catalog, platform admins, edit
// restarts.

package telegram

import (
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestE2EThreadContext: a mention in a forum topic with 5 earlier
// messages sends those 5 (in order, labelled with their authors) with
// the question; a reply to someone's message sends that message; a
// question outside any thread sends none.
func TestE2EThreadContext(t *testing.T) {
	e := newE2E(t, e2eOpts{noRun: true})
	e.route.ThreadContext = 20
	e.start(t)
	const g = -100900
	for i := range 5 {
		e.f.Queue(in{Chat: g, Thread: 9, Topic: true, From: int64(10 + i), Name: "u" + itoa(i), Text: "earlier " + itoa(i)})
	}
	mt, me := mention("test_bot", "summarise")
	e.f.Queue(in{Chat: g, Thread: 9, Topic: true, From: 7, Text: mt, Entities: me})
	bridgestest.WaitFor(t, "the topic's answer", 10*time.Second, func() bool { return len(e.finalTexts(g, 9)) == 1 })
	q := e.be.Requests()[0].Question
	last := -1
	for i := range 5 {
		at := strings.Index(q, "[u"+itoa(i)+"] earlier "+itoa(i))
		if at <= last {
			t.Fatalf("question %q lacks earlier message %d in order, labelled", q, i)
		}
		last = at
	}
	if !strings.HasSuffix(q, "summarise") {
		t.Errorf("question %q does not end with the question", q)
	}

	orig := e.f.Queue(in{Chat: g, From: 8, Name: "Bo", Text: "the sky is green"})
	mt, me = mention("test_bot", "is that right?")
	e.f.Queue(in{Chat: g, From: 7, Text: mt, Entities: me, ReplyTo: orig})
	bridgestest.WaitFor(t, "the reply's answer", 10*time.Second, func() bool { return len(e.be.Requests()) == 2 })
	if q := e.be.Requests()[1].Question; !strings.Contains(q, "the sky is green") || !strings.Contains(q, "Bo") {
		t.Errorf("question %q lacks the replied-to message", q)
	}

	mt, me = mention("test_bot", "plain question")
	e.f.Queue(in{Chat: -100901, From: 7, Text: mt, Entities: me})
	bridgestest.WaitFor(t, "the plain answer", 10*time.Second, func() bool { return len(e.be.Requests()) == 3 })
	if q := e.be.Requests()[2].Question; q != "plain question" {
		t.Errorf("outside a thread the question is %q, want it alone", q)
	}
}

// TestE2EStatusLineInDraft: a status event before the text shows a
// status line as the draft, under the answer's draft_id; the answer's
// drafts replace it and the final message never has it.
func TestE2EStatusLineInDraft(t *testing.T) {
	e := newE2E(t, e2eOpts{cfg: func(c *Config, _ *bridges.Deps) { c.Drafts = nil }, script: func(req backend.Request) []bridgestest.Step {
		return append([]bridgestest.Step{{Event: backend.Status{Stage: "retrieving"}, Wait: 50 * time.Millisecond}},
			bridgestest.Answer("The answer is here and long", 4, 20*time.Millisecond, "c")...)
	}})
	id := e.f.Queue(in{Chat: 55, Text: "hello"})
	bridgestest.WaitFor(t, "the answer", 10*time.Second, func() bool { return len(e.finalTexts(55, 0)) == 1 })
	d := e.f.Drafts(55)
	if len(d) < 2 || strings.HasPrefix(d[0].Text, "The") || !strings.HasPrefix(d[len(d)-1].Text, "The") {
		t.Fatalf("drafts = %+v, want the status line first, then the answer", d)
	}
	for _, x := range d {
		if x.DraftID != itoa(id) {
			t.Errorf("draft %+v, want draft_id %d (one draft)", x, id)
		}
	}
	if f := e.finalTexts(55, 0); f[0] != "The answer is here and long" {
		t.Errorf("final = %q, want the answer alone", f[0])
	}
}

// TestE2ELanguageAndTextOnly: a user with language_code de gets the
// text-only notice for a photo in German, another user in English.
func TestE2ELanguageAndTextOnly(t *testing.T) {
	e := newE2E(t, e2eOpts{})
	photo := map[string]any{"photo": []map[string]any{{"file_id": "p", "file_unique_id": "q", "width": 1, "height": 1}}}
	e.f.Queue(in{Chat: 55, Lang: "de", Raw: photo})
	e.f.Queue(in{Chat: 56, Lang: "en", Raw: photo})
	bridgestest.WaitFor(t, "both notices", 10*time.Second, func() bool {
		return len(e.finalTexts(55, 0)) == 1 && len(e.finalTexts(56, 0)) == 1
	})
	de, en := e.finalTexts(55, 0)[0], e.finalTexts(56, 0)[0]
	if de == en || de == "" || !strings.Contains(strings.ToLower(en), "text") {
		t.Errorf("notices de %q, en %q: want the text-only notice, in German for de", de, en)
	}
	if n := len(e.be.Requests()); n != 0 {
		t.Errorf("%d backend requests for pictures, want none", n)
	}
}

// TestE2EResetByAdmins: with reset = "admins", /reset by a group
// administrator (getChatMember on the fake) starts a new conversation;
// by a member it is refused.
func TestE2EResetByAdmins(t *testing.T) {
	e := newE2E(t, e2eOpts{noRun: true})
	e.route.Policy.ResetAdminsOnly = true
	e.start(t)
	const g = -100902
	e.f.SetChatMember(g, 7, "administrator")
	c, ce := command("/reset", "")
	e.f.Queue(in{Chat: g, From: 7, Text: c, Entities: ce})
	bridgestest.WaitFor(t, "the admin's reset", 10*time.Second, func() bool { return len(e.finalTexts(g, 0)) == 1 })
	e.f.Queue(in{Chat: g, From: 8, Text: c, Entities: ce})
	bridgestest.WaitFor(t, "the member's refusal", 10*time.Second, func() bool { return len(e.finalTexts(g, 0)) == 2 })
	got := e.finalTexts(g, 0)
	if got[0] == got[1] || !strings.Contains(strings.ToLower(got[1]), "admin") {
		t.Errorf("notices %q: want a reset for the admin, a refusal naming admins for the member", got)
	}
	if n := len(e.f.Calls("getChatMember")); n < 2 {
		t.Errorf("getChatMember called %d times, want for both users", n)
	}
}

// TestE2EEditRestarts: a question edited while its answer streams
// restarts the answer with the new text in the same message.
func TestE2EEditRestarts(t *testing.T) {
	e := newE2E(t, e2eOpts{script: func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("Answer to: "+req.Question+" "+strings.Repeat("word ", 30), 30, 60*time.Millisecond, "c")
	}})
	id := e.f.Queue(in{Chat: 56, Text: "first"})
	bridgestest.WaitFor(t, "the answer streaming", 10*time.Second, func() bool { return strings.HasPrefix(e.f.Visible(56), "Answer to: first") })
	e.f.EditUser(56, id, "second")
	want := strings.TrimSpace("Answer to: second " + strings.Repeat("word ", 30))
	bridgestest.WaitFor(t, "the restarted answer", 20*time.Second, func() bool {
		f := e.finalTexts(56, 0)
		return len(f) == 1 && f[0] == want
	})
	if qs := e.questions(); len(qs) != 2 || qs[1] != "second" {
		t.Errorf("questions = %q, want first then second", qs)
	}
}
