package slack

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// message returns the i-th message the adapter handed to the relay.
func (e *env) message(i int) bridges.Message {
	e.t.Helper()
	bridgestest.WaitFor(e.t, fmt.Sprintf("message %d handled", i), 10*time.Second, func() bool { return e.handledCount() > i })
	e.handledMu.Lock()
	defer e.handledMu.Unlock()
	return e.msgs[i]
}

// The user's locale comes from users.info (include_locale=true), asked
// once per user; Space is the workspace.
func TestLocaleFromUsersInfo(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("ok", 10, 0, "c")})
	e.fake.AddUser(slacktest.User{ID: "U1", Name: "ana", DisplayName: "Ana", Locale: "de-DE"})
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> hallo", "1700000100.000100", ""))
	e.envelope("Ev2", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> noch was", "1700000100.000200", ""))
	for i := range 2 {
		m := e.message(i)
		if m.Locale != "de-DE" || m.Space != teamID || m.UserName != "Ana" {
			t.Errorf("message %d: locale %q space %q name %q, want de-DE, %s, Ana", i, m.Locale, m.Space, m.UserName, teamID)
		}
	}
	calls := e.fake.Requests("users.info")
	if len(calls) != 1 {
		t.Fatalf("users.info calls = %d, want 1 (cached per user)", len(calls))
	}
	if f := calls[0].Form; f.Get("user") != "U1" || f.Get("include_locale") != "true" {
		t.Errorf("users.info form = %v, want user U1 with include_locale=true", f)
	}
}

// Without the users:read scope the lookups stop after the first refusal;
// messages still arrive, without a locale.
func TestLocaleWithoutScope(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("ok", 10, 0, "c")})
	e.fake.Fail("users.info", 100, slacktest.Fault{Error: "missing_scope"})
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> a", "1700000101.000100", ""))
	e.envelope("Ev2", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> b", "1700000101.000200", ""))
	for i := range 2 {
		if m := e.message(i); m.Locale != "" {
			t.Errorf("message %d locale = %q, want none", i, m.Locale)
		}
	}
	if n := e.fake.Count("users.info"); n != 1 {
		t.Errorf("users.info calls = %d, want 1 (off after missing_scope)", n)
	}
	if ok, err := e.a.IsAdmin(context.Background(), &bridges.Message{UserID: "U1"}); ok || err == nil {
		t.Errorf("IsAdmin without users:read = %v, %v; want false and an error", ok, err)
	}
}

// A mention inside an existing thread is InThread, and ThreadHistory
// returns the thread's earlier messages: in order, bounded, the bot's
// flagged, the bot's mention removed, later messages and the mention
// itself left out. A top-level mention is not InThread and reads nothing.
func TestThreadHistory(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("ok", 10, 0, "c")})
	ctx := context.Background()
	root := "1700000200.000100"
	e.fake.AddUser(slacktest.User{ID: "U2", DisplayName: "Bo"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: root, User: "U2", Text: "our deploy is failing"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: "1700000200.000200", ThreadTS: root, User: "U3", Text: "which step?"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: "1700000200.000300", ThreadTS: root, User: "U2", Text: "the <https://ci.example|CI> one"})
	// The bot's own earlier message in the thread.
	if _, err := e.a.Send(ctx, &bridges.Message{ChatID: "C1", ThreadID: root}, bridges.Out{Text: "I can help with CI", Final: true}); err != nil {
		t.Fatal(err)
	}
	// Timestamps from the fake's one sequence: the bot's answer to the
	// mention comes after it, as on Slack.
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U3", Text: "<@UBOT> are you there?"})
	mention := e.fake.NewTS()
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: mention, ThreadTS: root, User: "U2", Text: "<@UBOT> why does it fail?"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U3", Text: "later"})
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> why does it fail?", mention, root))
	m := e.message(0)
	if !m.InThread || m.ThreadID != root || m.ID != mention {
		t.Fatalf("mention in a thread: InThread %v thread %q id %q, want true, %s, %s", m.InThread, m.ThreadID, m.ID, root, mention)
	}
	got, err := e.a.ThreadHistory(ctx, &m, 20)
	if err != nil {
		t.Fatal(err)
	}
	want := []bridges.ThreadMessage{
		{Author: "Bo", Text: "our deploy is failing"},
		{Text: "which step?"},
		{Author: "Bo", Text: "the CI (https://ci.example) one"},
		{FromBot: true, Author: slacktest.DefaultBotName, Text: "I can help with CI"},
		{Text: "are you there?"},
	}
	if len(got) != len(want) {
		t.Fatalf("history = %+v, want %d messages", got, len(want))
	}
	for i := range want {
		g := got[i]
		if g.FromBot != want[i].FromBot || g.Author != want[i].Author || g.Text != want[i].Text || g.Time.IsZero() {
			t.Errorf("history[%d] = %+v, want %+v", i, g, want[i])
		}
	}
	calls := e.fake.Requests("conversations.replies")
	if len(calls) != 1 || calls[0].Form.Get("ts") != root || calls[0].Form.Get("latest") != mention {
		t.Errorf("conversations.replies calls = %+v, want one for %s up to %s", calls, root, mention)
	}
	// Bounded by max: the latest ones.
	got, err = e.a.ThreadHistory(ctx, &m, 2)
	if err != nil || len(got) != 2 || got[0].Text != "I can help with CI" || got[1].Text != "are you there?" {
		t.Errorf("history bounded to 2 = %+v, %v; want the last two", got, err)
	}

	// A top-level mention: no thread, nothing read.
	e.envelope("Ev2", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> hi", e.fake.NewTS(), ""))
	top := e.message(1)
	if top.InThread {
		t.Errorf("a top-level mention is InThread")
	}
	n := e.fake.Count("conversations.replies")
	if h, err := e.a.ThreadHistory(ctx, &top, 20); err != nil || len(h) != 0 || e.fake.Count("conversations.replies") != n {
		t.Errorf("history of a top-level message = %+v, %v, want none and no request", h, err)
	}
}

// A long thread is read page by page; the messages just before the
// mention are kept.
func TestThreadHistoryPages(t *testing.T) {
	f, a := newFakeAdapter(t)
	root := "1700000300.000000"
	f.AddMessage(slacktest.UserMessage{Channel: "C1", TS: root, User: "U2", Text: "root"})
	for i := 1; i <= 450; i++ {
		f.AddMessage(slacktest.UserMessage{Channel: "C1", TS: fmt.Sprintf("1700000300.%06d", i), ThreadTS: root, User: "U2", Text: fmt.Sprint("reply ", i)})
	}
	m := &bridges.Message{ChatID: "C1", ThreadID: root, ID: "1700000300.000451"}
	got, err := a.ThreadHistory(context.Background(), m, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Text != "reply 448" || got[2].Text != "reply 450" {
		t.Errorf("history = %+v, want replies 448 to 450", got)
	}
	if n := f.Count("conversations.replies"); n != 3 {
		t.Errorf("conversations.replies pages = %d, want 3 (200 a page)", n)
	}
}

// IsAdmin asks users.info: an admin, an owner or the primary owner
// administers; a member does not; a user Slack does not know does not.
func TestIsAdmin(t *testing.T) {
	f, a := newFakeAdapter(t)
	f.AddUser(slacktest.User{ID: "UA", IsAdmin: true})
	f.AddUser(slacktest.User{ID: "UO", IsOwner: true})
	f.AddUser(slacktest.User{ID: "UP", IsPrimaryOwner: true})
	f.AddUser(slacktest.User{ID: "UM"})
	for id, want := range map[string]bool{"UA": true, "UO": true, "UP": true, "UM": false, "UX": false} {
		got, err := a.IsAdmin(context.Background(), &bridges.Message{ChatID: "C1", UserID: id})
		if err != nil || got != want {
			t.Errorf("IsAdmin(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	// Asked fresh each time (the core caches): a demoted admin is seen.
	f.AddUser(slacktest.User{ID: "UA"})
	if got, _ := a.IsAdmin(context.Background(), &bridges.Message{UserID: "UA"}); got {
		t.Errorf("IsAdmin after the demotion = true")
	}
	f.Fail("users.info", 1, slacktest.Fault{Error: "internal_error"})
	if _, err := a.IsAdmin(context.Background(), &bridges.Message{UserID: "UA"}); err == nil {
		t.Errorf("IsAdmin on internal_error: no error")
	}
}

// ShowStatus sets the thread's status line with
// assistant.threads.setStatus; at top level in a DM there is none, and
// where Slack refused it once it is not tried again in that channel.
func TestShowStatus(t *testing.T) {
	f, a := newFakeAdapter(t)
	ctx := context.Background()
	m := &bridges.Message{ChatID: "D1", ThreadID: "1700000400.000100"}
	if err := a.ShowStatus(ctx, m, "Searching the knowledge base…"); err != nil {
		t.Fatal(err)
	}
	if err := a.ShowStatus(ctx, &bridges.Message{ChatID: "D1"}, "x"); err != nil {
		t.Fatal(err)
	}
	// The typing status does not overwrite the progress line.
	if err := a.Typing(ctx, m); err != nil {
		t.Fatal(err)
	}
	st := f.Statuses()
	if len(st) != 1 || st[0].Status != "Searching the knowledge base…" || st[0].Channel != "D1" || st[0].ThreadTS != m.ThreadID {
		t.Errorf("statuses = %+v, want the one line in D1's thread", st)
	}
	f.Fail("assistant.threads.setStatus", 1, slacktest.Fault{Error: "not_allowed"})
	c := &bridges.Message{ChatID: "C1", ThreadID: "1700000400.000200"}
	if err := a.ShowStatus(ctx, c, "a"); err == nil {
		t.Errorf("refused status: no error")
	}
	if err := a.ShowStatus(ctx, c, "b"); err != nil || f.Count("assistant.threads.setStatus") != 2 {
		t.Errorf("status after a refusal: %v, %d calls; want no second try", err, f.Count("assistant.threads.setStatus"))
	}
}

// A file without text is NonText (with empty Text); a file with a
// caption is text, as before.
func TestNonText(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("ok", 10, 0, "c")})
	file := []any{map[string]any{"id": "F1", "name": "cat.png", "mimetype": "image/png"}}
	bare := slacktest.MessageEvent("im", "D1", "U1", "", "1700000500.000100", "")
	bare["subtype"], bare["files"] = "file_share", file
	captioned := slacktest.MessageEvent("im", "D1", "U1", "what is this?", "1700000500.000200", "")
	captioned["subtype"], captioned["files"] = "file_share", file
	mention := slacktest.MentionEvent("C1", "U1", "<@UBOT>", "1700000500.000300", "")
	mention["files"] = file
	e.envelope("Ev1", 0, bare)
	e.envelope("Ev2", 0, captioned)
	e.envelope("Ev3", 0, mention)
	want := map[string]struct {
		nonText bool
		text    string
	}{
		"1700000500.000100": {true, ""},
		"1700000500.000200": {false, "what is this?"},
		"1700000500.000300": {true, ""},
	}
	for i := range 3 {
		m := e.message(i)
		w := want[m.ID]
		if m.NonText != w.nonText || m.Text != w.text {
			t.Errorf("message %s: NonText %v text %q, want %v %q", m.ID, m.NonText, m.Text, w.nonText, w.text)
		}
	}
}

// A user's edit (message_changed) reaches the relay with the original
// ts as ID, the new text and Edited set; the same edit seen twice (as
// message_changed and as an edited app_mention) is delivered once; the
// bot's own edits never are.
func TestSocketEdit(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("ok", 10, 0, "c")})
	orig := "1700000600.000100"
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> wat is x", orig, ""))
	first := e.message(0)
	changed := map[string]any{"type": "message", "subtype": "message_changed", "channel": "C1", "channel_type": "channel",
		"ts": "1700000600.000200", "hidden": true,
		"message": map[string]any{"type": "message", "user": "U1", "text": "<@UBOT> what is x", "ts": orig,
			"edited": map[string]any{"user": "U1", "ts": "1700000600.000200"}},
		"previous_message": map[string]any{"type": "message", "user": "U1", "text": "<@UBOT> wat is x", "ts": orig}}
	e.envelope("Ev2", 0, changed)
	again := slacktest.MentionEvent("C1", "U1", "<@UBOT> what is x", orig, "")
	again["edited"] = map[string]any{"user": "U1", "ts": "1700000600.000200"}
	e.envelope("Ev3", 0, again)
	ed := e.message(1)
	if !ed.Edited || ed.ID != orig || ed.Text != "what is x" || ed.Key != first.Key || ed.ThreadID != first.ThreadID {
		t.Errorf("edit = %+v, want Edited, ID %s, text %q, the first message's conversation", ed, orig, "what is x")
	}
	// The bot's own edit of its reply, then a real message to know the
	// envelopes before it were processed.
	bot := map[string]any{"type": "message", "subtype": "message_changed", "channel": "C1", "channel_type": "channel",
		"ts": "1700000600.000300", "hidden": true,
		"message": map[string]any{"type": "message", "user": botUser, "bot_id": botID, "text": "new reply text", "ts": "1700000600.000150",
			"edited": map[string]any{"user": botUser, "ts": "1700000600.000300"}}}
	e.envelope("Ev4", 0, bot)
	e.envelope("Ev5", 0, slacktest.MessageEvent("im", "D1", "U1", "hi", "1700000600.000400", ""))
	if m := e.message(2); m.ID != "1700000600.000400" {
		t.Errorf("third message handled = %+v, want the DM (the edit delivered once, the bot's edit never)", m)
	}
	bridgestest.WaitFor(t, "the DM answered", 10*time.Second, func() bool { return len(e.fake.Messages("D1", "")) == 1 })
	if n := e.handledCount(); n != 3 {
		t.Errorf("messages handled = %d, want 3", n)
	}
}
