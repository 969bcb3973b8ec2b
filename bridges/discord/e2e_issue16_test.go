// End-to-end tests of issue 16 through the Discord fake: thread context,
// platform admins for reset = "admins", the user's language.

package discord

import (
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// e2e16 is an adapter on the fake bound to a real relay whose backend
// answers every question with "Answer: " and the question's last line
// (the question itself, after a thread's preface).
type e2e16 struct {
	f  *fake
	be *bridgestest.Backend
}

func newE2E16(t *testing.T, be *bridgestest.Backend, mod func(*bridges.Route)) *e2e16 {
	t.Helper()
	f := newFake(t)
	if be == nil {
		be = &bridgestest.Backend{}
	}
	be.Script = func(req backend.Request) []bridgestest.Step {
		lines := strings.Split(req.Question, "\n")
		return bridgestest.Answer("Answer: "+strings.TrimPrefix(lines[len(lines)-1], "Question: "), 100, 0, "")
	}
	a := newAdapter(t, f, nil)
	r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore(), Logger: testLogger(t)})
	rt := bridges.Route{BackendName: "test", Backend: be, EditInterval: 50 * time.Millisecond}
	if mod != nil {
		mod(&rt)
	}
	start(t, a, r.Bind(a, rt))
	f.connected(t)
	return &e2e16{f: f, be: be}
}

// requests waits for n backend requests and returns them.
func (e *e2e16) requests(t *testing.T, n int) []backend.Request {
	t.Helper()
	bridgestest.WaitFor(t, "backend request", 10*time.Second, func() bool { return len(e.be.Requests()) >= n })
	return e.be.Requests()
}

// answered waits for a bot message in channel with content want.
func (e *e2e16) answered(t *testing.T, channel, want string) {
	t.Helper()
	e.f.wait(t, "the answer "+want+" in "+channel, func() bool {
		for _, m := range e.f.Messages(channel) {
			if m.Content == want {
				return true
			}
		}
		return false
	})
}

// threadScene puts seven earlier messages in T9, a thread of C1 the bot
// did not start: two old ones, then five (one of them the bot's own
// answer, one a user's earlier mention that was answered elsewhere).
func threadScene(t *testing.T, e *e2e16) []string {
	t.Helper()
	e.f.AddChannel(discordtest.Channel{ID: "T9", Type: 11, ParentID: "C1", OwnerID: "77", GuildID: "G1"})
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("90", "T9", "G1", "8", "old message one"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("91", "T9", "G1", "8", "old message two"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("101", "T9", "G1", "6", "the build is red"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("102", "T9", "G1", "7", "since when?"))
	e.f.AddMessage("T9", "Probably the flaky test.")
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("104", "T9", "G1", "6", "since Monday"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("105", "T9", "G1", "7", "it is the flaky test"))
	return []string{"[user6] the build is red", "[user7] since when?", "[assistant] Probably the flaky test.",
		"[user6] since Monday", "[user7] it is the flaky test"}
}

// TestE2EThreadContext: a mention inside a thread the bot did not start,
// with seven earlier messages and thread_context = 5, sends the last 5
// (in order, labelled, the bot's as the assistant's) ahead of the
// question, and the user sees only the answer; a reply to someone's
// message sends that message; a mention outside any thread sends
// nothing but the question and reads no history.
func TestE2EThreadContext(t *testing.T) {
	e := newE2E16(t, nil, func(rt *bridges.Route) { rt.ThreadContext = 5 })
	want := threadScene(t, e)
	mention := "<@" + fakeBotID + "> "
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("110", "T9", "G1", "5", mention+"sum up the thread"))
	q := e.requests(t, 1)[0].Question
	last := -1
	for i, w := range want {
		at := strings.Index(q, w+"\n")
		if at <= last {
			t.Fatalf("question %q lacks earlier message %d %q in order, labelled", q, i, w)
		}
		last = at
	}
	if strings.Contains(q, "old message") {
		t.Errorf("question %q holds messages beyond thread_context = 5", q)
	}
	if !strings.HasSuffix(q, "\nQuestion: sum up the thread") || strings.Contains(q, fakeBotID) {
		t.Errorf("question %q does not end with the question, its mention stripped", q)
	}
	e.answered(t, "T9", "Answer: sum up the thread")
	hist := e.f.requests(func(r discordtest.Request) bool {
		return r.Method == "GET" && strings.HasPrefix(r.Path, "channels/T9/messages")
	})
	if len(hist) != 1 || !strings.Contains(hist[0].Query, "before=110") || !strings.Contains(hist[0].Query, "limit=5") {
		t.Errorf("history requests %+v, want one, of 5 before the mention", hist)
	}

	// Later questions of the conversation rely on the backend's memory.
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("111", "T9", "G1", "5", mention+"and now?"))
	if q := e.requests(t, 2)[1].Question; q != "and now?" {
		t.Errorf("second question in the thread = %q, want it alone", q)
	}

	e.f.dispatch(t, "MESSAGE_CREATE", discordtest.ReplyTo(msgEvent("201", "C1", "G1", "5", mention+"is that right?"), "200", "6"))
	q = e.requests(t, 3)[2].Question
	if !strings.Contains(q, "[user6] an earlier message\n") || !strings.HasSuffix(q, "\nQuestion: is that right?") {
		t.Errorf("reply's question %q lacks the replied-to message, labelled, ahead of the question", q)
	}
	e.answered(t, "C1", "Answer: is that right?")

	before := len(e.f.requests(nil))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("301", "C2", "G1", "5", mention+"plain question"))
	if q := e.requests(t, 4)[3].Question; q != "plain question" {
		t.Errorf("outside a thread the question is %q, want it alone", q)
	}
	e.answered(t, "C2", "Answer: plain question")
	for _, r := range e.f.requests(nil)[before:] {
		if r.Method == "GET" && strings.Contains(r.Path, "/messages") {
			t.Errorf("a history request outside a thread: %s", r.Path)
		}
	}
	if n := len(e.be.Requests()); n != 4 {
		t.Errorf("%d backend requests, want 4 (the thread's plain messages are not questions)", n)
	}
}

// TestE2EThreadContextAsHistory: to a backend that keeps no memory (an
// OpenAI-compatible one), the thread goes as history turns, the bot's
// message as the assistant's answer, and the question alone.
func TestE2EThreadContextAsHistory(t *testing.T) {
	be := &bridgestest.HistoryBackend{Turns: 10}
	f := newFake(t)
	be.Script = func(req backend.Request) []bridgestest.Step { return bridgestest.Answer("ok", 100, 0, "") }
	a := newAdapter(t, f, nil)
	r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore(), Logger: testLogger(t)})
	start(t, a, r.Bind(a, bridges.Route{BackendName: "test", Backend: be, ThreadContext: 5, EditInterval: 50 * time.Millisecond}))
	f.connected(t)
	e := &e2e16{f: f, be: &be.Backend}
	threadScene(t, e)
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("110", "T9", "G1", "5", "<@"+fakeBotID+"> sum up the thread"))
	req := e.requests(t, 1)[0]
	want := []backend.Turn{
		{Question: "[user6] the build is red\n[user7] since when?", Answer: "Probably the flaky test."},
		{Question: "[user6] since Monday\n[user7] it is the flaky test"},
	}
	if req.Question != "sum up the thread" || len(req.History) != len(want) {
		t.Fatalf("request = %q with history %+v, want the question alone after %+v", req.Question, req.History, want)
	}
	for i := range want {
		if req.History[i] != want[i] {
			t.Errorf("history turn %d = %+v, want %+v", i, req.History[i], want[i])
		}
	}
}

// TestE2EResetByAdmins: with reset = "admins", /reset by a member whose
// role has Manage Messages (the fake's guild roles, GET
// /guilds/{g}/members/{u}) starts a new conversation, by a plain member
// it is refused, and a channel overwrite denying Manage Messages makes
// the mod a plain member there; the same through slash commands, whose
// member.permissions the fake computes from those roles and overwrites.
func TestE2EResetByAdmins(t *testing.T) {
	e := newE2E16(t, nil, func(rt *bridges.Route) { rt.Policy.ResetAdminsOnly = true })
	e.f.SetMember("G1", "8", "940") // the default guild's "mods" role: Manage Messages
	e.f.SetMember("G1", "9")
	e.f.AddChannel(discordtest.Channel{ID: "CX", GuildID: "G1", PermissionOverwrites: []discordtest.Overwrite{
		{ID: "940", Type: 0, Deny: discordtest.PermManageMessages},
	}})
	const done, refused = "Started a new conversation.", "Only the group's admins can start a new conversation here."

	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("1", "C1", "G1", "8", "/reset"))
	e.answered(t, "C1", done)
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("2", "C1", "G1", "9", "/reset"))
	e.answered(t, "C1", refused)
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("3", "CX", "G1", "8", "/reset"))
	e.answered(t, "CX", refused)
	if n := len(e.f.requests(func(r discordtest.Request) bool {
		return r.Method == "GET" && strings.HasPrefix(r.Path, "guilds/G1/members/")
	})); n != 3 {
		t.Errorf("%d member lookups, want 3 (the platform asked per channel and user)", n)
	}

	// Slash commands: the fake computes member.permissions from the same
	// roles and overwrites. New users: a refusal is shown once a minute
	// per user.
	e.f.SetMember("G1", "12", "940")
	e.f.SetMember("G1", "13")
	e.f.SetMember("G1", "14", "940")
	e.f.AddChannel(discordtest.Channel{ID: "CY", GuildID: "G1", PermissionOverwrites: []discordtest.Overwrite{
		{ID: "940", Type: 0, Deny: discordtest.PermManageMessages},
	}})
	e.f.dispatch(t, "INTERACTION_CREATE", commandEvent("501", "itok501", "C5", "G1", "12", "reset", ""))
	e.f.dispatch(t, "INTERACTION_CREATE", commandEvent("502", "itok502", "C5", "G1", "13", "reset", ""))
	e.f.dispatch(t, "INTERACTION_CREATE", commandEvent("503", "itok503", "CY", "G1", "14", "reset", ""))
	for id, want := range map[string]string{"501": done, "502": refused, "503": refused} {
		e.f.wait(t, "the /reset answer of "+id, func() bool {
			ms := e.f.InteractionMessages(id)
			return len(ms) == 1 && ms[0].Content == want
		})
	}
	if n := len(e.f.requests(func(r discordtest.Request) bool {
		return r.Method == "GET" && strings.HasPrefix(r.Path, "guilds/G1/members/")
	})); n != 3 {
		t.Errorf("%d member lookups after the slash commands, want still 3 (their permissions come with them)", n)
	}
	for _, m := range append(e.f.Messages("C1"), e.f.Messages("CX")...) {
		if m.Content != done && m.Content != refused {
			t.Errorf("unexpected bot message %q", m.Content)
		}
	}
}

// TestE2ELanguage: a slash command with locale "de" gets its notices in
// German, another user's in English; a guild whose preferred locale is
// "fr" gets French notices for messages.
func TestE2ELanguage(t *testing.T) {
	e := newE2E16(t, nil, nil)
	de := commandEvent("601", "itok601", "C6", "G1", "5", "reset", "")
	de["locale"] = "de"
	e.f.dispatch(t, "INTERACTION_CREATE", de)
	en := commandEvent("602", "itok602", "C7", "G1", "6", "reset", "")
	en["locale"] = "en-US"
	e.f.dispatch(t, "INTERACTION_CREATE", en)
	for id, want := range map[string]string{"601": "Neue Unterhaltung begonnen.", "602": "Started a new conversation."} {
		e.f.wait(t, "the /reset confirmation of "+id, func() bool {
			ms := e.f.InteractionMessages(id)
			return len(ms) == 1 && ms[0].Content == want
		})
	}

	e.f.SetGuild(discordtest.Guild{ID: "G4", OwnerID: "1", PreferredLocale: "fr", Roles: []discordtest.Role{{ID: "G4"}}})
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("603", "C8", "G4", "5", "/reset"))
	e.answered(t, "C8", "Nouvelle conversation commencée.")
	if n := len(e.be.Requests()); n != 0 {
		t.Errorf("%d backend requests for commands, want none", n)
	}
}
