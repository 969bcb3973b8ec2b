package telegram

// End-to-end tests: the real adapter (through tgbotapi's MakeRequest) and
// the real relay with a scripted backend, against the loopback fake Bot
// API, asserting what the fake received.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// testLimits are the fake's flood limits scaled to the test timing: the
// adapter's budgets (testTiming) stay just inside them.
var testLimits = telegramtest.Limits{
	PrivateEvery: 90 * time.Millisecond, PrivateBurst: 3,
	GroupMax: 20, GroupWindow: 6 * time.Second, // adapter: one per 320 ms
	BotMax: 30, BotWindow: 80 * time.Millisecond, // adapter: 10 + one per 5 ms
}

func e2eTiming() timing {
	tm := testTiming()
	tm.botEvery, tm.botBurst = 5*time.Millisecond, 9
	return tm
}

type e2e struct {
	*harness
	store *bridgestest.Store
	be    *bridgestest.Backend
	relay *bridges.Relay
	stop  func() error
	route bridges.Route
}

type e2eOpts struct {
	f       *telegramtest.Server
	kv      *bridgestest.KV
	store   *bridgestest.Store
	cfg     func(*Config, *bridges.Deps)
	script  func(req backend.Request) []bridgestest.Step
	respond string
	edit    time.Duration // Route.EditInterval
	noRun   bool
}

func newE2E(t *testing.T, o e2eOpts) *e2e {
	t.Helper()
	if o.f == nil {
		o.f = newFake(t, telegramtest.Options{Limits: testLimits})
	}
	h := newHarness(t, o.f, func(c *Config, d *bridges.Deps) {
		c.Drafts = new(bool) // edits unless a test turns drafts on
		if o.kv != nil {
			d.KV = o.kv
		}
		if o.cfg != nil {
			o.cfg(c, d)
		}
	})
	h.a.timing = e2eTiming()
	if o.store == nil {
		o.store = bridgestest.NewStore()
	}
	be := &bridgestest.Backend{Script: o.script}
	if be.Script == nil {
		be.Script = func(req backend.Request) []bridgestest.Step {
			return bridgestest.Answer("Answer to: "+req.Question, 8, 10*time.Millisecond, "conv-"+req.Question)
		}
	}
	relay, err := bridges.NewRelay(bridges.Config{
		Store:  o.store,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	rt := bridges.Route{Name: "telegram/main", BackendName: "test", Backend: be, Respond: o.respond, EditInterval: o.edit,
		Policy: bridges.Policy{MaxQuestionChars: -1}}
	e := &e2e{harness: h, store: o.store, be: be, relay: relay, route: rt}
	if !o.noRun {
		e.start(t)
	}
	return e
}

func (e *e2e) start(t *testing.T) {
	t.Helper()
	handler := e.relay.Bind(e.a, e.route)
	stopRun := run(t, e.a, handler)
	var stopped bool
	e.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		err := stopRun()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.relay.Shutdown(ctx)
		return err
	}
	t.Cleanup(func() { e.stop() })
}

// finalTexts returns the final visible text of the bot's messages in chat
// (and thread, when not 0).
func (e *e2e) finalTexts(chat int64, thread int) []string {
	var out []string
	for _, m := range e.f.BotMessages(chat) {
		if thread == 0 || m.Thread == thread {
			out = append(out, m.Text)
		}
	}
	return out
}

func (e *e2e) questions() []string {
	var qs []string
	for _, r := range e.be.Requests() {
		qs = append(qs, r.Question)
	}
	return qs
}

func TestE2EPrivateStreaming(t *testing.T) {
	answer := "Hello **world**, this is a *streamed* answer with `code` & <angles>, long enough to take several edits."
	e := newE2E(t, e2eOpts{script: func(req backend.Request) []bridgestest.Step {
		steps := []bridgestest.Step{{Wait: 150 * time.Millisecond}} // typing first
		return append(steps, bridgestest.Answer(answer, 6, 25*time.Millisecond, "c1")...)
	}})
	q := e.f.Queue(in{Chat: 55, Text: "hi there"})
	want := "Hello world, this is a streamed answer with code & <angles>, long enough to take several edits."
	bridgestest.WaitFor(t, "final answer", 10*time.Second, func() bool {
		m := e.f.BotMessages(55)
		return len(m) == 1 && m[0].Text == want && m[0].ParseMode == "HTML"
	})
	m := e.f.BotMessages(55)[0]
	if len(m.Versions) < 3 {
		t.Errorf("message had %d versions %q, want ≥ 2 progressive updates before the final", len(m.Versions), m.Versions)
	}
	for i, v := range m.Versions[:len(m.Versions)-1] {
		if !strings.HasPrefix(answer, v) {
			t.Errorf("progressive version %d = %q is not a plain prefix of the answer", i, v)
		}
	}
	if wantRaw := "Hello <b>world</b>, this is a <i>streamed</i> answer with <code>code</code> &amp; &lt;angles&gt;, long enough to take several edits."; m.Raw != wantRaw {
		t.Errorf("final HTML = %q, want %q", m.Raw, wantRaw)
	}
	if m.ReplyTo != q {
		t.Errorf("reply to message %d, want the question %d", m.ReplyTo, q)
	}
	sends := e.f.Calls("sendMessage")
	if lpo := sends[0].Get("link_preview_options"); lpo != `{"is_disabled":true}` || sends[0].Get("disable_web_page_preview") != "true" {
		t.Errorf("link previews not disabled: %v", sends[0])
	}
	if len(e.f.Calls("sendChatAction")) == 0 {
		t.Errorf("no typing action before the first text")
	}
	if n := e.f.Flood429(); n != 0 {
		t.Errorf("fake answered %d flood 429s, want 0", n)
	}
	if r, ok := e.store.Records()["telegram/main/55"]; !ok || r.ConversationID != "c1" {
		t.Errorf("stored conversation = %+v, %v; want c1 under telegram/main/55", r, ok)
	}
}

func TestE2EStartAnswersHelp(t *testing.T) {
	e := newE2E(t, e2eOpts{})
	text, ents := command("/start", "")
	e.f.Queue(in{Chat: 55, Text: text, Entities: ents})
	bridgestest.WaitFor(t, "help", 5*time.Second, func() bool { return len(e.f.BotMessages(55)) == 1 })
	if got := e.f.BotMessages(55)[0].Text; got != strings.TrimSpace(bridges.HelpText) {
		t.Errorf("/start answered %q, want the help text", got)
	}
	if len(e.be.Requests()) != 0 {
		t.Errorf("/start reached the backend")
	}
}

// TestE2EGroupGating: in a group only mentions, replies to the bot and
// commands are answered; a command for another bot is ignored.
func TestE2EGroupGating(t *testing.T) {
	const g = -100777
	e := newE2E(t, e2eOpts{})
	e.f.Queue(in{Chat: g, From: 1, Text: "just chatting"})
	mt, me := mention("test_bot", "first question")
	e.f.Queue(in{Chat: g, From: 1, Text: mt, Entities: me})
	bridgestest.WaitFor(t, "answer to the mention", 10*time.Second, func() bool {
		return len(e.finalTexts(g, 0)) == 1 && e.finalTexts(g, 0)[0] == "Answer to: first question"
	})
	botMsg := e.f.BotMessages(g)[0].ID
	e.f.Queue(in{Chat: g, From: 2, Text: "follow-up by reply", ReplyTo: botMsg})
	bridgestest.WaitFor(t, "answer to the reply", 10*time.Second, func() bool { return len(e.finalTexts(g, 0)) == 2 })
	ot, oe := command("/reset@otherbot", "")
	e.f.Queue(in{Chat: g, From: 1, Text: ot, Entities: oe})
	rt, re := command("/reset@test_bot", "")
	e.f.Queue(in{Chat: g, From: 1, Text: rt, Entities: re})
	bridgestest.WaitFor(t, "reset confirmation", 10*time.Second, func() bool { return len(e.finalTexts(g, 0)) == 3 })
	at, ae := command("/ask", "what now?")
	e.f.Queue(in{Chat: g, From: 1, Text: at, Entities: ae})
	bridgestest.WaitFor(t, "answer to /ask", 10*time.Second, func() bool { return len(e.finalTexts(g, 0)) == 4 })

	got := e.finalTexts(g, 0)
	want := []string{"Answer to: first question", "Answer to: follow-up by reply", "Started a new conversation.", "Answer to: what now?"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("group replies = %q, want %q", got, want)
	}
	if qs := e.questions(); fmt.Sprint(qs) != fmt.Sprint([]string{"first question", "follow-up by reply", "what now?"}) {
		t.Errorf("backend asked %q", qs)
	}
	if r := e.be.Requests(); r[1].ConversationID != "conv-first question" || r[2].ConversationID != "" {
		t.Errorf("conversation IDs = %q, %q; want continued then reset", r[1].ConversationID, r[2].ConversationID)
	}
}

// TestE2EForumTopics: two topics of one forum are two conversations; the
// replies go to their topic.
func TestE2EForumTopics(t *testing.T) {
	const g = -100900
	e := newE2E(t, e2eOpts{})
	for _, topic := range []int{11, 12} {
		mt, me := mention("test_bot", fmt.Sprintf("q%d", topic))
		e.f.Queue(in{Chat: g, From: 1, Text: mt, Entities: me, Thread: topic, Topic: true})
	}
	bridgestest.WaitFor(t, "two answers", 10*time.Second, func() bool { return len(e.finalTexts(g, 0)) == 2 })
	mt, me := mention("test_bot", "again11")
	e.f.Queue(in{Chat: g, From: 1, Text: mt, Entities: me, Thread: 11, Topic: true})
	bridgestest.WaitFor(t, "third answer", 10*time.Second, func() bool { return len(e.finalTexts(g, 0)) == 3 })
	for _, topic := range []int{11, 12} {
		got := e.finalTexts(g, topic)
		if len(got) == 0 || got[0] != fmt.Sprintf("Answer to: q%d", topic) {
			t.Errorf("topic %d got %q", topic, got)
		}
	}
	for _, s := range e.f.Calls("sendMessage") {
		if s.Get("message_thread_id") == "" {
			t.Errorf("sendMessage without message_thread_id: %v", s)
		}
	}
	recs := e.store.Records()
	if recs["telegram/main/-100900/11"].ConversationID != "conv-again11" || recs["telegram/main/-100900/12"].ConversationID != "conv-q12" {
		t.Errorf("records = %+v", recs)
	}
	if r := e.be.Requests()[2]; r.ConversationID != "conv-q11" {
		t.Errorf("topic 11 continued conversation %q, want conv-q11", r.ConversationID)
	}
}

// TestE2ERetryAfter: a 429 on an edit pauses the chat for retry_after and
// the final text still lands.
func TestE2ERetryAfter(t *testing.T) {
	answer := strings.Repeat("word ", 40)
	e := newE2E(t, e2eOpts{script: func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(answer, 10, 20*time.Millisecond, "c")
	}})
	e.f.Fail("editMessageText", 1, 429, "Too Many Requests: retry after 1", 1)
	e.f.Queue(in{Chat: 55, Text: "q"})
	bridgestest.WaitFor(t, "final answer", 15*time.Second, func() bool {
		m := e.f.BotMessages(55)
		return len(m) == 1 && m[0].Text == strings.TrimSpace(answer)
	})
	edits := e.f.CallTimes("editMessageText")
	if len(edits) < 2 {
		t.Fatalf("%d edits, want the 429'd one and a retry", len(edits))
	}
	if gap := edits[1].Sub(edits[0]); gap < time.Second {
		t.Errorf("edit after the 429 came %s later, want ≥ retry_after 1s", gap)
	}
}

// TestE2ELongAnswer: 10,000 characters with emoji and CJK become several
// valid messages whose texts, in order, are the answer.
func TestE2ELongAnswer(t *testing.T) {
	var b strings.Builder
	for i := 0; len([]rune(b.String())) < 10000; i++ {
		sep := " "
		if i%3 == 2 {
			sep = "\n\n" // no trailing space: Markdown drops it at a paragraph's end
		}
		fmt.Fprintf(&b, "Paragraph %d: 你好，世界。這是一個測試 😀🎉👍🏽 and 1 < 2 & 3 > 0.%s", i, sep)
	}
	answer := strings.TrimSpace(string([]rune(b.String())[:10000]))
	e := newE2E(t, e2eOpts{script: func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(answer, 2500, 30*time.Millisecond, "c")
	}})
	e.f.Queue(in{Chat: 55, Text: "long please"})
	bridgestest.WaitFor(t, "final parts", 20*time.Second, func() bool {
		ms := e.f.BotMessages(55)
		if len(ms) < 3 {
			return false
		}
		for _, m := range ms {
			if m.ParseMode != "HTML" {
				return false
			}
		}
		return coversExactly(answer, e.finalTexts(55, 0)) == ""
	})
	if t.Failed() {
		return
	}
	for i, m := range e.f.BotMessages(55) {
		if n := len(utf16.Encode([]rune(m.Text))); n > 4096 {
			t.Errorf("part %d is %d UTF-16 units, want ≤ 4096", i, n)
		}
		if i > 0 && m.ReplyTo != 0 {
			t.Errorf("part %d replies to %d; only part 0 replies to the question", i, m.ReplyTo)
		}
	}
	if n := e.f.Flood429(); n != 0 {
		t.Errorf("fake answered %d flood 429s, want 0", n)
	}
}

// coversExactly reports "" when parts, in order, are answer cut at
// whitespace (Telegram trims a message's edges), else what differs.
func coversExactly(answer string, parts []string) string {
	pos := 0
	for i, p := range parts {
		for pos < len(answer) && strings.ContainsRune(" \n\t", rune(answer[pos])) {
			pos++
		}
		if !strings.HasPrefix(answer[pos:], p) {
			return fmt.Sprintf("part %d (%d bytes) does not continue the answer at byte %d", i, len(p), pos)
		}
		pos += len(p)
	}
	if strings.TrimSpace(answer[pos:]) != "" {
		return fmt.Sprintf("answer not covered after byte %d of %d", pos, len(answer))
	}
	return ""
}

// TestE2EWebhook: webhook mode end to end; the fake delivers updates with
// the secret token, a wrong secret is rejected.
func TestE2EWebhook(t *testing.T) {
	mux := http.NewServeMux()
	hook := httptest.NewServer(mux)
	t.Cleanup(hook.Close)
	e := newE2E(t, e2eOpts{cfg: func(c *Config, d *bridges.Deps) {
		c.WebhookURL = hook.URL + "/hooks/tg"
		c.WebhookSecret = secret("s3cret_token-1")
		d.Mux = mux
	}})
	bridgestest.WaitFor(t, "webhook running", 5*time.Second, func() bool { return e.a.running.Load() != nil })
	if code := postUpdate(t, hook.URL+"/hooks/tg", "s3cret_token-2", map[string]any{"update_id": 5, "message": msgJSON(55, "private", 55, "forged")}); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: status %d, want 401", code)
	}
	e.f.Queue(in{Chat: 55, Text: "through the hook"})
	bridgestest.WaitFor(t, "answer", 10*time.Second, func() bool {
		return fmt.Sprint(e.finalTexts(55, 0)) == "[Answer to: through the hook]"
	})
	if qs := e.questions(); len(qs) != 1 {
		t.Errorf("backend asked %q, want only the genuine update", qs)
	}
}

// TestE2ERestartResumesOffset: a second Run sharing the KV continues from
// the persisted offset: it neither answers the first question again (even
// if Telegram never got the confirmation) nor loses the one that came in
// between.
func TestE2ERestartResumesOffset(t *testing.T) {
	f := newFake(t, telegramtest.Options{Limits: testLimits})
	kv := bridgestest.NewKV()
	st := bridgestest.NewStore()
	e1 := newE2E(t, e2eOpts{f: f, kv: kv, store: st})
	first := f.LastUpdateID() + 1
	f.Queue(in{Chat: 55, Text: "before restart"})
	bridgestest.WaitFor(t, "first answer", 10*time.Second, func() bool {
		return len(e1.finalTexts(55, 0)) == 1 && e1.finalTexts(55, 0)[0] == "Answer to: before restart"
	})
	e1.stop()
	// The confirming getUpdates may never have reached Telegram.
	f.RedeliverFrom(first)
	f.Queue(in{Chat: 55, Text: "while down"})

	e2 := newE2E(t, e2eOpts{f: f, kv: kv, store: st})
	bridgestest.WaitFor(t, "second answer", 10*time.Second, func() bool { return len(e2.finalTexts(55, 0)) == 2 })
	time.Sleep(300 * time.Millisecond) // a replayed update would be answered by now
	if got := e2.finalTexts(55, 0); fmt.Sprint(got) != "[Answer to: before restart Answer to: while down]" {
		t.Errorf("answers = %q", got)
	}
	if qs := append(e1.questions(), e2.questions()...); fmt.Sprint(qs) != "[before restart while down]" {
		t.Errorf("backend asked %q, want each question once", qs)
	}
	if r := e2.be.Requests()[0]; r.ConversationID != "conv-before restart" {
		t.Errorf("after restart the conversation is %q, want conv-before restart", r.ConversationID)
	}
}

// TestE2EGroupBudget: two live replies in one group (two forum topics)
// share the group's budget: together they stay within 20 requests per
// window (scaled) and the fake never answers 429.
func TestE2EGroupBudget(t *testing.T) {
	const g = -100600
	answer := strings.Repeat("streaming text ", 20)
	e := newE2E(t, e2eOpts{
		edit: 40 * time.Millisecond, // each reply alone would edit every 40 ms
		script: func(req backend.Request) []bridgestest.Step {
			return bridgestest.Answer(answer, 5, 25*time.Millisecond, "c-"+req.Question)
		},
	})
	for _, topic := range []int{1, 2} {
		mt, me := mention("test_bot", fmt.Sprintf("topic%d", topic))
		e.f.Queue(in{Chat: g, From: int64(topic), Text: mt, Entities: me, Thread: topic, Topic: true})
	}
	bridgestest.WaitFor(t, "both final answers", 30*time.Second, func() bool {
		ts := e.f.BotMessages(g)
		if len(ts) != 2 {
			return false
		}
		for _, m := range ts {
			if m.Text != strings.TrimSpace(answer) || m.ParseMode != "HTML" {
				return false
			}
		}
		return true
	})
	if n := e.f.Flood429(); n != 0 {
		t.Errorf("fake answered %d flood 429s, want 0", n)
	}
	var reqs []time.Time
	reqs = append(reqs, e.f.CallTimes("sendMessage")...)
	reqs = append(reqs, e.f.CallTimes("editMessageText")...)
	if len(reqs) < 4 {
		t.Errorf("only %d requests: the replies did not stream", len(reqs))
	}
	slices.SortFunc(reqs, time.Time.Compare)
	for i := 1; i < len(reqs); i++ {
		// The group budget is one request per 320 ms for both replies
		// (less a little for scheduling jitter).
		if gap := reqs[i].Sub(reqs[i-1]); gap < 250*time.Millisecond {
			t.Errorf("requests %d and %d to the group %s apart, want ≥ the shared 320 ms budget", i-1, i, gap)
		}
	}
	var versions int
	for _, m := range e.f.BotMessages(g) {
		versions += len(m.Versions)
		if len(m.Versions) < 2 {
			t.Errorf("topic %d reply had %d versions, want progressive edits", m.Thread, len(m.Versions))
		}
	}
	t.Logf("two replies used %d requests (%d versions)", len(reqs), versions)
}

// TestE2EDrafts: in a private chat with drafts on, progress goes through
// sendMessageDraft and the final text is one sendMessage.
func TestE2EDrafts(t *testing.T) {
	answer := "Drafted **answer** that grows over a few steps until it is complete."
	script := func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(answer, 6, 30*time.Millisecond, "c")
	}
	want := "Drafted answer that grows over a few steps until it is complete."
	on := func(c *Config, _ *bridges.Deps) { c.Drafts = nil } // the default

	t.Run("drafts then one message", func(t *testing.T) {
		e := newE2E(t, e2eOpts{cfg: on, script: script})
		q := e.f.Queue(in{Chat: 55, Text: "q"})
		bridgestest.WaitFor(t, "final", 10*time.Second, func() bool { return fmt.Sprint(e.finalTexts(55, 0)) == "["+want+"]" })
		ds := e.f.Drafts(55)
		if len(ds) < 2 {
			t.Fatalf("%d drafts, want ≥ 2 progressive drafts", len(ds))
		}
		for _, d := range ds {
			if d.DraftID != ds[0].DraftID || d.DraftID == "0" || !strings.HasPrefix(answer, d.Text) {
				t.Errorf("draft %+v: want the same non-zero draft_id and a prefix of the answer", d)
			}
		}
		if n := len(e.f.Calls("sendMessage")); n != 1 {
			t.Errorf("%d sendMessage, want exactly one final message", n)
		}
		if n := len(e.f.Calls("editMessageText")); n != 0 {
			t.Errorf("%d edits, want none with drafts", n)
		}
		m := e.f.BotMessages(55)[0]
		if m.ParseMode != "HTML" || m.ReplyTo != q {
			t.Errorf("final message %+v: want HTML replying to %d", m, q)
		}
	})
	t.Run("draft error falls back to edits", func(t *testing.T) {
		e := newE2E(t, e2eOpts{cfg: on, script: script, noRun: true})
		e.f.Fail("sendMessageDraft", 1, 400, "Bad Request: TEXTDRAFT_PEER_INVALID", 0)
		e.start(t)
		e.f.Queue(in{Chat: 55, Text: "q"})
		bridgestest.WaitFor(t, "final", 10*time.Second, func() bool {
			m := e.f.BotMessages(55)
			return len(m) == 1 && m[0].Text == want && m[0].ParseMode == "HTML"
		})
		time.Sleep(200 * time.Millisecond)
		if n := len(e.f.BotMessages(55)); n != 1 {
			t.Errorf("%d messages, want one (no duplicated text)", n)
		}
		if n := len(e.f.Calls("editMessageText")); n == 0 {
			t.Errorf("no edits after the draft failed")
		}
	})
	t.Run("server without drafts", func(t *testing.T) {
		e := newE2E(t, e2eOpts{cfg: on, script: script})
		e.f.SetDrafts(false)
		e.f.Queue(in{Chat: 55, Text: "q1"})
		bridgestest.WaitFor(t, "first", 10*time.Second, func() bool { return len(e.finalTexts(55, 0)) == 1 && e.finalTexts(55, 0)[0] == want })
		e.f.Queue(in{Chat: 55, Text: "q2"})
		bridgestest.WaitFor(t, "second", 10*time.Second, func() bool { return len(e.finalTexts(55, 0)) == 2 && e.finalTexts(55, 0)[1] == want })
		if n := len(e.f.Calls("sendMessageDraft")); n != 1 {
			t.Errorf("%d sendMessageDraft calls, want 1 (then drafts off)", n)
		}
	})
	t.Run("groups never use drafts", func(t *testing.T) {
		e := newE2E(t, e2eOpts{cfg: on, script: script})
		mt, me := mention("test_bot", "q")
		e.f.Queue(in{Chat: -100321, From: 3, Text: mt, Entities: me})
		bridgestest.WaitFor(t, "final", 10*time.Second, func() bool { return fmt.Sprint(e.finalTexts(-100321, 0)) == "["+want+"]" })
		if n := len(e.f.Calls("sendMessageDraft")); n != 0 {
			t.Errorf("%d drafts in a group", n)
		}
	})
}

// TestE2EMigration: a group upgraded to a supergroup keeps its
// conversation.
func TestE2EMigration(t *testing.T) {
	const old, super = -4001, -1004001
	e := newE2E(t, e2eOpts{})
	mt, me := mention("test_bot", "before")
	e.f.Queue(in{Chat: old, ChatType: "group", From: 1, Text: mt, Entities: me})
	bridgestest.WaitFor(t, "answer in the group", 10*time.Second, func() bool { return len(e.finalTexts(old, 0)) == 1 })
	e.f.Queue(in{Chat: old, ChatType: "group", From: 1, Raw: map[string]any{"migrate_to_chat_id": super}})
	e.f.Queue(in{Chat: super, ChatType: "supergroup", From: 1, Raw: map[string]any{"migrate_from_chat_id": old}})
	mt, me = mention("test_bot", "after")
	e.f.Queue(in{Chat: super, From: 1, Text: mt, Entities: me})
	bridgestest.WaitFor(t, "answer in the supergroup", 10*time.Second, func() bool { return len(e.finalTexts(super, 0)) == 1 })
	reqs := e.be.Requests()
	if len(reqs) != 2 || reqs[1].ConversationID != "conv-before" {
		t.Fatalf("requests = %+v, want the second to continue conv-before", reqs)
	}
	bridgestest.WaitFor(t, "conversation kept under the group's first key", 5*time.Second, func() bool {
		recs := e.store.Records()
		return len(recs) == 1 && recs["telegram/main/-4001"].ConversationID == "conv-after"
	})
}

// TestNoTokenInErrorsOrLogs: neither errors nor logs show the token, also
// when the transport fails (url.Error prints the URL holding the token).
func TestNoTokenInErrorsOrLogs(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	h := newHarness(t, nil, func(c *Config, _ *bridges.Deps) { c.APIEndpoint = deadURL + "/tg/bot%s/%s" })
	m := &bridges.Message{ChatID: "55", ID: "1", Private: true}
	var errs []error
	_, err := h.a.Send(context.Background(), m, bridges.Out{Text: "x", Final: true})
	errs = append(errs, err)
	errs = append(errs, h.a.Edit(context.Background(), bridges.Sent{ChatID: "55", ID: "1"}, bridges.Out{Text: "x"}))
	errs = append(errs, h.a.Typing(context.Background(), m))
	_, err = h.a.Check(context.Background())
	errs = append(errs, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	errs = append(errs, h.a.Run(ctx, &bridgestest.Recorder{})) // retries getMe, logging each failure

	// And against a server that rejects the token.
	h2 := newHarness(t, nil, nil)
	h2.f.SetToken("x")
	errs = append(errs, h2.a.Run(context.Background(), &bridgestest.Recorder{}))

	for i, err := range errs[:4] {
		if err == nil {
			t.Errorf("call %d: no error against a dead server", i)
		}
	}
	for i, err := range errs {
		if err != nil && strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), testToken) {
			t.Errorf("error %d reveals the token: %v", i, err)
		}
	}
	logs := h.logs.String() + h2.logs.String()
	if !strings.Contains(logs, "getMe failed") {
		t.Errorf("expected getMe failures in the log:\n%s", logs)
	}
	if strings.Contains(logs, testToken) || strings.Contains(logs, strings.Split(testToken, ":")[1]) {
		t.Errorf("logs reveal the token:\n%s", logs)
	}
	if !strings.Contains(fmt.Sprint(errs[0]), "<token>") {
		t.Errorf("transport error %q: want the URL kept with <token> in place of the token", errs[0])
	}
}

// TestE2EDraftsUnsupported: a server that refuses sendMessageDraft in a
// way that means "no such method" turns drafts off for the instance after
// the first refusal, with one warning, and every answer still lands; a
// refusal about the chat or a passing failure keeps drafts on.
func TestE2EDraftsUnsupported(t *testing.T) {
	answer := "Drafted **answer** that grows over a few steps until it is complete."
	want := "Drafted answer that grows over a few steps until it is complete."
	script := func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(answer, 6, 30*time.Millisecond, "c")
	}
	on := func(c *Config, _ *bridges.Deps) { c.Drafts = nil }
	tests := map[string]struct {
		fault   telegramtest.Fault
		turnOff bool
	}{
		"404":                  {telegramtest.Fault{Code: 404, Description: "Not Found"}, true},
		"404 page":             {telegramtest.Fault{Code: 404, Body: "<html>404 page not found</html>"}, true},
		"400 method not found": {telegramtest.Fault{Code: 400, Description: "Bad Request: method not found"}, true},
		"500 not supported":    {telegramtest.Fault{Code: 500, Description: "Internal Server Error: sendMessageDraft is not supported"}, true},
		"501 without JSON":     {telegramtest.Fault{Code: 501, Body: "Not Implemented"}, true},
		"400 about the chat":   {telegramtest.Fault{Code: 400, Description: "Bad Request: TEXTDRAFT_PEER_INVALID"}, false},
		"passing 500":          {telegramtest.Fault{Code: 500, Description: "Internal Server Error"}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := newE2E(t, e2eOpts{cfg: on, script: script})
			if tt.turnOff {
				e.f.FailWith("sendMessageDraft", -1, tt.fault)
			} else {
				e.f.FailWith("sendMessageDraft", 1, tt.fault)
			}
			for i, q := range []string{"q1", "q2", "q3"} {
				e.f.Queue(in{Chat: 55, Text: q})
				bridgestest.WaitFor(t, "answer "+q, 10*time.Second, func() bool {
					got := e.finalTexts(55, 0)
					return len(got) == i+1 && got[i] == want && e.f.BotMessages(55)[i].ParseMode == "HTML"
				})
			}
			drafts := len(e.f.Calls("sendMessageDraft"))
			warnings := strings.Count(e.logs.String(), "does not support sendMessageDraft")
			if tt.turnOff && (drafts != 1 || warnings != 1) {
				t.Errorf("%d sendMessageDraft and %d warnings, want 1 and 1 (then drafts off)", drafts, warnings)
			}
			if !tt.turnOff && (drafts < 3 || warnings != 0) {
				t.Errorf("%d sendMessageDraft and %d warnings, want drafts kept on (≥ 3) and no warning", drafts, warnings)
			}
			if n := len(e.f.BotMessages(55)); n != 3 {
				t.Errorf("%d messages, want one per answer", n)
			}
		})
	}
}

// Thread context, status lines, the notices catalog, platform admins and
// edit restarts, end to end through the Telegram fake.

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
	var lines []string
	for i := range 5 {
		lines = append(lines, "[u"+itoa(i)+"] earlier "+itoa(i))
	}
	bridgestest.CheckThreadLines(t, q, lines)
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
