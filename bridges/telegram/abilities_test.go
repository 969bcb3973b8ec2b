package telegram

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// The optional abilities (abilities.go), through the real library against
// the fake: thread history, real admins, the status line.

// TestThreadHistory: a reply to someone's message brings that message
// (mention removed); a reply to the bot's flags it FromBot; in a forum
// topic the messages the adapter saw there come first, oldest first,
// bounded by max; outside a thread there is nothing.
func TestThreadHistory(t *testing.T) {
	h := newHarness(t, nil, nil)
	rec := &bridgestest.Recorder{}
	stop := run(t, h.a, rec)
	defer stop()
	ctx := context.Background()
	const group = -100123
	at, ents := mention("test_bot", "")
	at = strings.TrimSpace(at)

	// A reply to a user's message that mentioned the bot.
	orig := h.f.Queue(in{Chat: group, From: 8, Name: "Bo", Text: at + " the sky is green", Entities: ents})
	q, qe := mention("test_bot", "is that right?")
	h.f.Queue(in{Chat: group, From: 7, Text: q, Entities: qe, ReplyTo: orig})
	// The forum topic 9: five messages, then the question.
	for i := range 5 {
		h.f.Queue(in{Chat: group, Thread: 9, Topic: true, From: int64(10 + i), Name: "u" + itoa(i), Text: "topic message " + itoa(i)})
	}
	h.f.Queue(in{Chat: group, Thread: 9, Topic: true, From: 7, Text: q, Entities: qe})
	h.f.Queue(in{Chat: group, From: 7, Text: q, Entities: qe}) // outside any thread
	bridgestest.WaitFor(t, "every message", 5*time.Second, func() bool { return len(rec.Got()) == 9 })
	got := rec.Got()

	reply := got[1]
	hist, err := h.a.ThreadHistory(ctx, &reply, 20)
	if err != nil || len(hist) != 1 || hist[0].Text != "the sky is green" || hist[0].Author != "Bo" || hist[0].FromBot {
		t.Errorf("ThreadHistory of a reply = %+v, %v; want Bo's message without the mention", hist, err)
	}

	topic := got[7]
	hist, err = h.a.ThreadHistory(ctx, &topic, 20)
	var texts []string
	for _, m := range hist {
		texts = append(texts, m.Text)
	}
	want := []string{"topic message 0", "topic message 1", "topic message 2", "topic message 3", "topic message 4"}
	if err != nil || !slices.Equal(texts, want) {
		t.Errorf("ThreadHistory of a topic = %q, %v; want %q", texts, err, want)
	}
	if hist, _ := h.a.ThreadHistory(ctx, &topic, 3); len(hist) != 3 || hist[0].Text != "topic message 2" || hist[2].Text != "topic message 4" {
		t.Errorf("ThreadHistory(max 3) = %+v, want the last three, oldest first", hist)
	}
	if hist, _ := h.a.ThreadHistory(ctx, &got[8], 20); len(hist) != 0 || got[8].InThread {
		t.Errorf("outside a thread: InThread %v, history %+v; want none", got[8].InThread, hist)
	}

	// A reply to the bot's own message: flagged FromBot.
	s, err := h.a.Send(ctx, &got[8], bridges.Out{Text: "my answer", Final: true})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.Atoi(s.ID)
	h.f.Queue(in{Chat: group, From: 7, Text: "and then?", ReplyTo: id})
	bridgestest.WaitFor(t, "the reply to the bot", 5*time.Second, func() bool { return len(rec.Got()) == 10 })
	m := rec.Got()[9]
	hist, _ = h.a.ThreadHistory(ctx, &m, 20)
	if !m.ReplyToBot || m.InThread || len(hist) != 1 || !hist[0].FromBot || hist[0].Text != "my answer" {
		t.Errorf("a reply to the bot: ReplyToBot %v, InThread %v, history %+v; want the bot's message flagged FromBot", m.ReplyToBot, m.InThread, hist)
	}
}

// TestTopicRingBounded: the ring keeps at most ringSize messages a topic
// and ringTopics topics.
func TestTopicRingBounded(t *testing.T) {
	var r topicRing
	for i := range ringSize + 10 {
		r.add(-1, 9, i+1, bridges.ThreadMessage{Text: itoa(i)})
	}
	if got := r.before(-1, 9, 1<<30); len(got) != ringSize || got[0].tm.Text != itoa(10) {
		t.Errorf("ring of one topic holds %d from %q, want the last %d", len(got), got[0].tm.Text, ringSize)
	}
	for i := range ringTopics + 5 {
		r.add(-2, i+1, 1, bridges.ThreadMessage{Text: "x"})
	}
	if len(r.topics) != ringTopics || len(r.order) != ringTopics {
		t.Errorf("ring holds %d topics (%d in order), want %d", len(r.topics), len(r.order), ringTopics)
	}
	if got := r.before(-1, 9, 1<<30); len(got) != 0 {
		t.Errorf("the oldest topic was kept")
	}
}

// TestIsAdmin: getChatMember's creator and administrator are admins,
// others not; a private chat and an anonymous admin need no request.
func TestIsAdmin(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := context.Background()
	const group = -100123
	for status, want := range map[string]bool{"creator": true, "administrator": true, "member": false, "restricted": false, "left": false, "kicked": false} {
		h.f.SetChatMember(group, 7, status)
		got, err := h.a.IsAdmin(ctx, &bridges.Message{ChatID: fmtInt(group), UserID: "7"})
		if err != nil || got != want {
			t.Errorf("IsAdmin(%s) = %v, %v; want %v", status, got, err, want)
		}
	}
	calls := h.f.Calls("getChatMember")
	if p := calls[len(calls)-1]; p.Get("chat_id") != fmtInt(group) || p.Get("user_id") != "7" {
		t.Errorf("getChatMember params = %v", p)
	}
	n := len(calls)
	if ok, err := h.a.IsAdmin(ctx, &bridges.Message{ChatID: "55", UserID: "55", Private: true}); !ok || err != nil {
		t.Errorf("IsAdmin in a private chat = %v, %v; want true", ok, err)
	}
	if ok, err := h.a.IsAdmin(ctx, &bridges.Message{ChatID: fmtInt(group), UserID: fmtInt(group)}); !ok || err != nil {
		t.Errorf("IsAdmin of an anonymous admin = %v, %v; want true", ok, err)
	}
	if len(h.f.Calls("getChatMember")) != n {
		t.Errorf("a private chat or an anonymous admin made a request")
	}
	h.f.Fail("getChatMember", 1, 400, "Bad Request: chat not found", 0)
	if ok, err := h.a.IsAdmin(ctx, &bridges.Message{ChatID: fmtInt(group), UserID: "7"}); ok || err == nil || !strings.Contains(err.Error(), "chat not found") {
		t.Errorf("IsAdmin on a refusal = %v, %v; want an error with Telegram's description", ok, err)
	}
}

// TestShowStatus: in a private chat with drafts on the status line is a
// draft under the answer's draft_id, which the answer's first draft then
// replaces; in a group or with drafts off there is none (no request).
func TestShowStatus(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := context.Background()
	m := &bridges.Message{ChatID: "55", ID: "31", Private: true}
	if err := h.a.ShowStatus(ctx, m, "Searching the knowledge base…"); err != nil {
		t.Fatal(err)
	}
	ns, err := h.a.OpenStream(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Update(ctx, "The answer"); err != nil {
		t.Fatal(err)
	}
	d := h.f.Drafts(55)
	if len(d) != 2 || d[0].Text != "Searching the knowledge base…" || d[0].DraftID != "31" || d[1].DraftID != "31" || d[1].Text != "The answer" {
		t.Errorf("drafts = %+v, want the status then the answer under draft_id 31", d)
	}
	if err := h.a.ShowStatus(ctx, &bridges.Message{ChatID: "-100123", ID: "4"}, "x"); !errors.Is(err, errNoStatus) {
		t.Errorf("ShowStatus in a group = %v, want errNoStatus", err)
	}
	off := newHarness(t, h.f, func(c *Config, _ *bridges.Deps) { c.Drafts = new(bool) })
	if err := off.a.ShowStatus(ctx, m, "x"); !errors.Is(err, errNoStatus) {
		t.Errorf("ShowStatus with drafts off = %v, want errNoStatus", err)
	}
	if n := len(h.f.Calls("sendMessageDraft")); n != 2 {
		t.Errorf("%d sendMessageDraft, want 2", n)
	}
}
