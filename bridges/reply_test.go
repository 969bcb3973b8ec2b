package bridges_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/openai"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/store"
)

var testLimits = bridges.Limits{
	MaxLen:       100,
	Unit:         bridges.Runes,
	EditInterval: time.Second,
}

func msg(chat, text string) bridges.Message {
	return bridges.Message{
		Key:    bridges.Key{Platform: "fake", Instance: "t", Chat: chat},
		ChatID: chat, ID: "q-" + text, UserID: "u1", Text: text, Private: true,
	}
}

type harness struct {
	t     *testing.T
	relay *bridges.Relay
	p     *bridgestest.Platform
	be    *bridgestest.Backend
	store *bridgestest.Store
	h     bridges.Handler
}

// newHarness binds a recording platform of limits lim to a fresh relay
// and store, routed to be.
func newHarness(t *testing.T, lim bridges.Limits, be *bridgestest.Backend, rt bridges.Route) *harness {
	t.Helper()
	p := bridgestest.NewPlatform(lim)
	rt.Backend = be
	h := bindHarness(t, bridges.Config{}, p, p, rt)
	h.be = be
	return h
}

// bindHarness is newHarness for a platform with optional abilities (p,
// whose recording Platform is rec) and a relay configured by cfg (its
// Store, when nil, the harness's).
func bindHarness(t *testing.T, cfg bridges.Config, p bridges.Platform, rec *bridgestest.Platform, rt bridges.Route) *harness {
	t.Helper()
	st := bridgestest.NewStore()
	if cfg.Store == nil {
		cfg.Store = st
	}
	r, err := bridges.NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rt.BackendName == "" {
		rt.BackendName = "fake"
	}
	return &harness{t: t, relay: r, p: rec, store: st, h: r.Bind(p, rt)}
}

// storeRecord is a conversation record of backendName's conversation
// conv, created and used now.
func storeRecord(backendName, conv string) store.Record {
	return store.Record{Backend: backendName, ConversationID: conv, Created: time.Now(), LastUsed: time.Now()}
}

func (h *harness) send(m bridges.Message) {
	h.t.Helper()
	if err := h.h.Handle(context.Background(), m); err != nil {
		h.t.Fatalf("Handle: %v", err)
	}
}

// settle lets the bubble run until every reply is written.
func (h *harness) settle() {
	time.Sleep(time.Hour)
	synctest.Wait()
}

func (h *harness) edits() []bridgestest.Call {
	var out []bridgestest.Call
	for _, c := range h.p.Calls() {
		if c.Op == "send" || c.Op == "edit" {
			out = append(out, c)
		}
	}
	return out
}

// checkSpaced fails t for every request of calls that came less than min
// after the one before it (why says what keeps them apart).
func checkSpaced(t *testing.T, calls []bridgestest.Call, min time.Duration, why string) {
	t.Helper()
	for i := 1; i < len(calls); i++ {
		if d := calls[i].Time.Sub(calls[i-1].Time); d < min {
			t.Errorf("request %d came %s after the previous, want >= %s (%s)", i, d, min, why)
		}
	}
}

// answer returns chunks that arrive every 100ms.
func answer(text string) []bridgestest.Step {
	return bridgestest.Answer(text, 3, 100*time.Millisecond, "conv-1")
}

const longAnswer = "The quick brown fox jumps over the lazy dog while the cat watches from the warm windowsill."

func TestReplyPostsOnFirstText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: append([]bridgestest.Step{{Wait: 5 * time.Second}}, answer("Hello there")...)}
		h := newHarness(t, testLimits, be, bridges.Route{})
		h.send(msg("c1", "hi"))
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if n := len(h.edits()); n != 0 {
			t.Fatalf("requests before the first text = %d, want 0", n)
		}
		var typing int
		for _, c := range h.p.Calls() {
			if c.Op == "typing" {
				typing++
			}
		}
		if typing < 1 {
			t.Errorf("typing indicators while waiting = %d, want >= 1", typing)
		}
		time.Sleep(1200 * time.Millisecond)
		synctest.Wait()
		calls := h.edits()
		if len(calls) == 0 || calls[0].Op != "send" {
			t.Fatalf("first request = %v, want a send right after the first text", calls)
		}
		h.settle()
		if got := h.p.Visible(); got != "Hello there" {
			t.Errorf("visible = %q, want %q", got, "Hello there")
		}
	})
}

func TestReplyEditsNeverCloserThanInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: answer(longAnswer)}
		h := newHarness(t, testLimits, be, bridges.Route{EditInterval: 700 * time.Millisecond})
		h.send(msg("c1", "hi"))
		h.settle()
		calls := h.edits()
		if len(calls) < 3 {
			t.Fatalf("requests = %d, want several progressive updates", len(calls))
		}
		checkSpaced(t, calls, 700*time.Millisecond, "the edit interval")
	})
}

func TestReplyNeverSendsUnchangedText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		steps := []bridgestest.Step{
			{Event: backend.Delta{Text: "same"}},
			{Wait: 2 * time.Second, Event: backend.Replace{Text: "same"}},
			{Wait: 2 * time.Second, Event: backend.Delta{Text: ""}},
			{Wait: 2 * time.Second, Event: backend.Done{ConversationID: "c"}},
		}
		h := newHarness(t, testLimits, &bridgestest.Backend{Steps: steps}, bridges.Route{})
		h.send(msg("c1", "hi"))
		h.settle()
		calls := h.edits()
		if len(calls) != 1 {
			t.Fatalf("requests = %+v, want exactly one send (no unchanged edits)", calls)
		}
		seen := map[string]bool{}
		for _, c := range calls {
			k := c.ID + "\x00" + c.Out.Text + fmt.Sprint(c.Out.Final)
			if seen[k] {
				t.Errorf("request repeats unchanged text %q", c.Out.Text)
			}
			seen[k] = true
		}
	})
}

func TestReplyCoalescesToLatestText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 50 chunks within 500ms, interval 1s: at most a few requests, and
		// each carries the newest text at the time it leaves.
		steps := bridgestest.Answer(strings.Repeat("ab", 50), 2, 10*time.Millisecond, "c")
		h := newHarness(t, testLimits, &bridgestest.Backend{Steps: steps}, bridges.Route{})
		h.send(msg("c1", "hi"))
		h.settle()
		calls := h.edits()
		if len(calls) > 3 {
			t.Errorf("requests = %d for 50 chunks in 0.5s with a 1s interval, want <= 3", len(calls))
		}
		if got := h.p.Visible(); got != strings.Repeat("ab", 50) {
			t.Errorf("visible = %q", got)
		}
	})
}

// slowPlatform counts concurrent requests.
type slowPlatform struct {
	*bridgestest.Platform
	inFlight, maxInFlight atomic.Int32
}

func (s *slowPlatform) enter() func() {
	n := s.inFlight.Add(1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(1500 * time.Millisecond) // a slow platform API
	return func() { s.inFlight.Add(-1) }
}

func (s *slowPlatform) Send(ctx context.Context, m *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	defer s.enter()()
	return s.Platform.Send(ctx, m, out)
}

func (s *slowPlatform) Edit(ctx context.Context, sent bridges.Sent, out bridges.Out) error {
	defer s.enter()()
	return s.Platform.Edit(ctx, sent, out)
}

func TestReplyOneRequestInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := bridgestest.NewStore()
		r, _ := bridges.NewRelay(bridges.Config{Store: st})
		sp := &slowPlatform{Platform: bridgestest.NewPlatform(testLimits)}
		h := r.Bind(sp, bridges.Route{Backend: &bridgestest.Backend{Steps: answer(longAnswer)}, EditInterval: 100 * time.Millisecond})
		_ = h.Handle(context.Background(), msg("c1", "hi"))
		time.Sleep(time.Hour)
		synctest.Wait()
		if m := sp.maxInFlight.Load(); m != 1 {
			t.Errorf("max requests in flight for one reply = %d, want 1", m)
		}
		if got := sp.Visible(); got != longAnswer {
			t.Errorf("visible = %q", got)
		}
	})
}

func TestReplyObeysRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := testLimits
		lim.Budgets = []bridges.Budget{{Key: "chat", Every: 100 * time.Millisecond}}
		h := newHarness(t, lim, &bridgestest.Backend{Steps: answer(longAnswer)}, bridges.Route{})
		var limitedAt time.Time
		var once sync.Once
		h.p.Fail = func(c bridgestest.Call) error {
			var err error
			if c.Op == "edit" {
				once.Do(func() {
					limitedAt = time.Now()
					err = &bridges.RateLimitError{RetryAfter: 5 * time.Second}
				})
			}
			return err
		}
		h.send(msg("c1", "hi"))
		h.settle()
		if limitedAt.IsZero() {
			t.Fatal("no edit was attempted")
		}
		for _, c := range h.edits() {
			if c.Time.After(limitedAt) && c.Time.Sub(limitedAt) < 5*time.Second {
				t.Errorf("request %s after the 429, want >= 5s", c.Time.Sub(limitedAt))
			}
		}
		if got := h.p.Visible(); got != longAnswer {
			t.Errorf("visible after 429 = %q, want the full answer", got)
		}
		for _, m := range h.p.Messages() {
			if strings.Contains(strings.ToLower(m), "rate") {
				t.Errorf("user sees the rate limit: %q", m)
			}
		}
	})
}

func TestReplySharesScopeBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := testLimits
		lim.EditInterval = 500 * time.Millisecond
		lim.Budgets = []bridges.Budget{{Key: "group", Every: 3 * time.Second}}
		text := strings.Repeat("word ", 18)
		be := &bridgestest.Backend{Steps: bridgestest.Answer(text, 5, 200*time.Millisecond, "c")}
		h := newHarness(t, lim, be, bridges.Route{})
		m1, m2 := msg("g", "one"), msg("g", "two")
		m2.Key.Thread = "topic" // same chat budget, different conversations
		h.send(m1)
		h.send(m2)
		h.settle()
		calls := h.edits()
		if len(calls) < 4 {
			t.Fatalf("requests = %d, want both replies streamed", len(calls))
		}
		checkSpaced(t, calls, 3*time.Second, "two replies in one scope share its budget")
		msgs := h.p.Messages()
		if len(msgs) != 2 || msgs[0] != text || msgs[1] != text {
			t.Errorf("messages = %q, want two full answers", msgs)
		}
	})
}

func TestReplyFinalTextExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := testLimits
		lim.StreamPlain = true
		h := newHarness(t, lim, &bridgestest.Backend{Steps: answer(longAnswer)}, bridges.Route{})
		h.send(msg("c1", "hi"))
		h.settle()
		finals := 0
		for _, c := range h.edits() {
			if c.Out.Final {
				finals++
				if c.Out.Text != longAnswer {
					t.Errorf("final text = %q", c.Out.Text)
				}
			}
		}
		if finals != 1 {
			t.Errorf("final requests = %d, want exactly 1", finals)
		}
	})
}

func TestReplyOverflowContinuesInNewMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b strings.Builder
		for i := 0; b.Len() < 450; i++ {
			fmt.Fprintf(&b, "Sentence number %d is here. ", i)
		}
		text := strings.TrimSpace(b.String())
		h := newHarness(t, testLimits, &bridgestest.Backend{Steps: bridgestest.Answer(text, 20, 50*time.Millisecond, "c")}, bridges.Route{})
		h.send(msg("c1", "hi"))
		h.settle()
		msgs := h.p.Messages()
		if len(msgs) < 5 {
			t.Fatalf("messages = %d, want >= 5 for %d chars at 100 per message", len(msgs), len(text))
		}
		for i, m := range msgs {
			if n := len([]rune(m)); n > 100 {
				t.Errorf("message %d has %d runes, want <= 100", i, n)
			}
			if i < len(msgs)-1 && !strings.HasSuffix(m, ". ") {
				t.Errorf("message %d = %q, want a cut at a sentence end", i, m)
			}
		}
		if got := strings.Join(msgs, ""); got != text {
			t.Errorf("joined = %q, want the answer", got)
		}
	})
}

func TestReplyReplaceEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		steps := []bridgestest.Step{
			{Event: backend.Delta{Text: strings.Repeat("x", 150)}},
			{Wait: 3 * time.Second, Event: backend.Replace{Text: "Filtered answer."}},
			{Wait: 3 * time.Second, Event: backend.Done{}},
		}
		h := newHarness(t, testLimits, &bridgestest.Backend{Steps: steps}, bridges.Route{})
		h.send(msg("c1", "hi"))
		h.settle()
		if got := h.p.Messages(); len(got) != 1 || got[0] != "Filtered answer." {
			t.Errorf("messages after replace = %q, want just the replacement", got)
		}
	})
}

func TestReplyPlainTextFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testLimits, &bridgestest.Backend{Steps: answer("**bold** answer")}, bridges.Route{})
		h.p.Fail = func(c bridgestest.Call) error {
			if !c.Out.Plain && c.Out.Final {
				return &bridges.FormatError{Err: errors.New("can't parse entities")}
			}
			return nil
		}
		h.send(msg("c1", "hi"))
		h.settle()
		calls := h.edits()
		last := calls[len(calls)-1]
		if !last.Out.Plain || !last.Out.Final || last.Out.Text != "**bold** answer" {
			t.Errorf("last request = %+v, want the final text again as plain", last.Out)
		}
	})
}

func TestReplyErrorKeepsPartialAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		steps := []bridgestest.Step{
			{Event: backend.Delta{Text: "Partial answer"}},
			{Wait: time.Second, Err: &backend.Error{Kind: backend.KindUnavailable, Message: "HTTP 502 upstream secret-detail"}},
		}
		h := newHarness(t, testLimits, &bridgestest.Backend{Steps: steps}, bridges.Route{})
		h.send(msg("c1", "hi"))
		h.settle()
		got := h.p.Visible()
		if !strings.HasPrefix(got, "Partial answer\n\n⚠️") || strings.Contains(got, "secret-detail") {
			t.Errorf("visible = %q, want the partial answer and a short notice without details", got)
		}
	})
}

// TestRelayIdleTimeout: a backend that goes silent mid-answer ends the
// answer with the partial text and the "unavailable" notice after its
// idle_timeout, counted from the last data, not from the question. The
// backend client owns the knob (its wire watchdog); the relay only shows
// the error, so this runs the real OpenAI-compatible client against a
// loopback server that stops sending.
func TestRelayIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	const pause = 200 * time.Millisecond // within idle
	chunk := func(s string) string {
		return fmt.Sprintf("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", s)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, chunk("Start"))
		w.(http.Flusher).Flush()
		time.Sleep(pause)
		io.WriteString(w, chunk(" still going"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // silent from here on
	}))
	defer srv.Close()
	be, err := openai.New(openai.Config{BaseURL: srv.URL + "/v1", BotID: "m", IdleTimeout: idle}, backend.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore()})
	if err != nil {
		t.Fatal(err)
	}
	lim := testLimits
	lim.EditInterval = 10 * time.Millisecond
	p := bridgestest.NewPlatform(lim)
	h := r.Bind(p, bridges.Route{BackendName: "fake", Backend: be})
	start := time.Now()
	if err := h.Handle(context.Background(), msg("c1", "hi")); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := p.Visible()
	if !strings.HasPrefix(got, "Start still going\n\n⚠️") || !strings.Contains(got, "unavailable") {
		t.Errorf("visible = %q, want the partial text and an unavailable notice", got)
	}
	calls := p.Calls()
	if end := calls[len(calls)-1].Time.Sub(start); end < pause+idle || end > pause+idle+5*time.Second {
		t.Errorf("gave up after %s, want about %s+%s (idle, not total)", end, pause, idle)
	}
}

// ctxTimeout returns a context ending after d, cancelled at the test's end.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// askedSlowly is a harness asked "hi" in chat c1 whose answer, 100
// words, streams 5 bytes a second (100 s in all).
func askedSlowly(t *testing.T) *harness {
	steps := bridgestest.Answer(strings.Repeat("word ", 100), 5, time.Second, "c")
	h := newHarness(t, testLimits, &bridgestest.Backend{Steps: steps}, bridges.Route{})
	h.send(msg("c1", "hi"))
	return h
}

func TestRelayStopKeepsPartial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := askedSlowly(t)
		time.Sleep(5500 * time.Millisecond)
		h.send(msg("c1", "/stop"))
		h.settle()
		msgs := h.p.Messages()
		if len(msgs) != 2 {
			t.Fatalf("messages = %q, want the stopped answer and a confirmation", msgs)
		}
		if !strings.HasPrefix(msgs[0], "word word") || !strings.HasSuffix(msgs[0], "_(stopped)_") {
			t.Errorf("stopped answer = %q", msgs[0])
		}
		if msgs[1] != "Stopped." {
			t.Errorf("confirmation = %q", msgs[1])
		}
	})
}

func TestRelayOrderPerConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
			return bridgestest.Answer("answer to "+req.Question, 100, time.Second, "conv")
		}}
		h := newHarness(t, testLimits, be, bridges.Route{})
		h.send(msg("c1", "first"))
		h.send(msg("c1", "second"))
		h.send(msg("c2", "other"))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		// c1's second question waits for the first; c2 runs alongside.
		if got := h.p.Messages(); len(got) != 2 {
			t.Errorf("after 1.5s messages = %q, want c1's first and c2's answers only", got)
		}
		h.settle()
		reqs := be.Requests()
		var c1 []string
		for _, r := range reqs {
			if r.Question != "other" {
				c1 = append(c1, r.Question)
			}
		}
		if strings.Join(c1, ",") != "first,second" {
			t.Errorf("c1 questions in order %v", c1)
		}
		if reqs[len(reqs)-1].ConversationID != "conv" {
			t.Errorf("second question did not continue the conversation: %+v", reqs[len(reqs)-1])
		}
	})
}

type panicBackend struct{}

func (panicBackend) Ask(context.Context, backend.Request) *backend.Stream { panic("boom") }

func TestRelayRecoversPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := bridgestest.NewStore()
		r, _ := bridges.NewRelay(bridges.Config{Store: st})
		p := bridgestest.NewPlatform(testLimits)
		h := r.Bind(p, bridges.Route{Backend: panicBackend{}})
		_ = h.Handle(context.Background(), msg("c1", "hi"))
		_ = h.Handle(context.Background(), msg("c1", "again"))
		time.Sleep(time.Hour)
		synctest.Wait()
		msgs := p.Messages()
		if len(msgs) != 2 || !strings.HasPrefix(msgs[0], "Sorry, something went wrong") {
			t.Errorf("messages = %q, want an apology for each message (the relay survives)", msgs)
		}
	})
}

func TestRelayCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
			return bridgestest.Answer("ok", 10, 0, "conv-"+req.Question)
		}}
		lim := testLimits
		lim.MaxLen = 1000
		h := newHarness(t, lim, be, bridges.Route{})
		h.send(msg("c1", "one"))
		h.send(msg("c1", "/reset@mybot"))
		h.send(msg("c1", "two"))
		h.send(msg("c1", "/help"))
		h.send(msg("c1", "/ask three"))
		h.settle()
		reqs := be.Requests()
		if len(reqs) != 3 {
			t.Fatalf("backend requests = %d, want 3 (commands are never forwarded)", len(reqs))
		}
		if reqs[1].ConversationID != "" {
			t.Errorf("after /reset the conversation ID = %q, want a new conversation", reqs[1].ConversationID)
		}
		if reqs[2].Question != "three" || reqs[2].ConversationID != "conv-two" {
			t.Errorf("/ask request = %+v", reqs[2])
		}
		msgs := h.p.Messages()
		if msgs[1] != "Started a new conversation." || msgs[3] != bridges.HelpText {
			t.Errorf("confirmations = %q", msgs)
		}
	})
}

func TestRelayIgnoresUnaddressedWhenMentionOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: answer("ok")}
		h := newHarness(t, testLimits, be, bridges.Route{Respond: "mention"})
		m := msg("g1", "chatter")
		m.Private = false
		h.send(m)
		h.settle()
		if n := len(be.Requests()); n != 0 {
			t.Errorf("backend requests for an unaddressed group message = %d, want 0", n)
		}
	})
}

func TestRelayHealsExpiredConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
			if req.ConversationID == "old" {
				return []bridgestest.Step{{Err: &backend.Error{Kind: backend.KindConversationExpired}}}
			}
			return bridgestest.Answer("fresh answer", 20, 0, "new")
		}}
		h := newHarness(t, testLimits, be, bridges.Route{})
		m := msg("c1", "hi")
		_ = h.store.Put(m.Key, storeRecord("fake", "old"))
		h.send(m)
		h.settle()
		got := h.p.Visible()
		if !strings.Contains(got, "expired") || !strings.HasSuffix(got, "fresh answer") {
			t.Errorf("visible = %q, want one restart note and the answer", got)
		}
		if rec, _, _ := h.store.Get(m.Key); rec.ConversationID != "new" {
			t.Errorf("stored conversation = %q, want new", rec.ConversationID)
		}
	})
}

func TestRelayShutdownInterruptsAfterGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := askedSlowly(t)
		time.Sleep(3 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.relay.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		got := h.p.Visible()
		if !strings.HasPrefix(got, "word") || !strings.Contains(got, "interrupted") {
			t.Errorf("visible after shutdown = %q, want the partial answer with an interrupted note", got)
		}
		if err := h.h.Handle(context.Background(), msg("c1", "late")); !errors.Is(err, bridges.ErrClosed) {
			t.Errorf("Handle after shutdown = %v, want ErrClosed", err)
		}
	})
}

// TestReplyFinalNotQueuedBehindLiveEdits: in a scope whose budget is
// saturated by other live replies, a final text still lands promptly:
// intermediate edits never book slots far ahead of it.
func TestReplyFinalNotQueuedBehindLiveEdits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := testLimits
		lim.MaxLen = 10000
		lim.Budgets = []bridges.Budget{{Key: "bot", Every: 500 * time.Millisecond}}
		be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
			if req.Question == "short" {
				return bridgestest.Answer("short answer", 100, 0, "c")
			}
			return bridgestest.Answer(strings.Repeat("word ", 600), 1, 100*time.Millisecond, "c")
		}}
		h := newHarness(t, lim, be, bridges.Route{})
		for i := range 20 {
			h.send(msg(fmt.Sprintf("long%d", i), "long"))
		}
		time.Sleep(20 * time.Second) // the budget is saturated by now
		asked := time.Now()
		h.send(msg("quick", "short"))
		var landed time.Time
		for time.Since(asked) < time.Minute && landed.IsZero() {
			time.Sleep(100 * time.Millisecond)
			for _, c := range h.p.Calls() {
				if c.Out.Final && c.Out.Text == "short answer" {
					landed = c.Time
				}
			}
		}
		if landed.IsZero() || landed.Sub(asked) > 3*time.Second {
			t.Errorf("final text of a short answer landed %s after the question, want within 3s despite 20 live replies", landed.Sub(asked))
		}
		h.settle()
	})
}

// TestReplySendsNewestText: every request carries the text as it is when
// the request leaves (latest text wins), never the text of when the
// request was first due.
func TestReplySendsNewestText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := testLimits
		lim.MaxLen = 1000
		be := &bridgestest.Backend{Steps: bridgestest.Answer(strings.Repeat("ab", 50), 2, 100*time.Millisecond, "c")}
		h := newHarness(t, lim, be, bridges.Route{})
		start := time.Now()
		h.send(msg("c1", "hi"))
		h.settle()
		calls := h.edits()
		if len(calls) < 4 {
			t.Fatalf("requests = %d", len(calls))
		}
		for _, c := range calls[:len(calls)-1] {
			// A chunk due at the very instant of the request may come
			// just before or just after it.
			chunks := int(c.Time.Sub(start) / (100 * time.Millisecond))
			if got, want := len(c.Out.Text), 2*min(chunks, 50); got != want && got != want-2 {
				t.Errorf("request at +%s carries %d bytes, want the %d that had arrived", c.Time.Sub(start), got, want)
			}
		}
	})
}

// TestReplySendBudgets: where posts and edits have separate limits (Slack),
// new messages draw from SendBudgets, so first messages never queue behind
// the workspace's edit budget.
func TestReplySendBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := testLimits
		lim.Budgets = []bridges.Budget{{Key: "workspace-updates", Every: 10 * time.Second}}
		lim.SendBudgets = []bridges.Budget{{Key: "workspace-posts", Every: 100 * time.Millisecond}}
		be := &bridgestest.Backend{Steps: bridgestest.Answer("hello there friend", 3, 200*time.Millisecond, "c")}
		h := newHarness(t, lim, be, bridges.Route{})
		start := time.Now()
		for i := range 5 {
			h.send(msg(fmt.Sprintf("chan%d", i), "hi"))
		}
		h.settle()
		sends := 0
		for _, c := range h.edits() {
			if c.Op == "send" {
				sends++
				if d := c.Time.Sub(start); d > 2*time.Second {
					t.Errorf("a first message went out %s after the question, want within 2s (posts do not wait for the edit budget)", d)
				}
			}
		}
		if sends != 5 {
			t.Errorf("sends = %d, want 5", sends)
		}
		for _, m := range h.p.Messages() {
			if m != "hello there friend" {
				t.Errorf("message = %q", m)
			}
		}
	})
}

// TestReplyPostsLaterWhenEditsAreScarce: where posts and edits have
// separate limits and the edit budget is scarce (a busy Slack workspace),
// replies post their text later, in one message each, instead of posting
// early and waiting minutes for edit slots.
func TestReplyPostsLaterWhenEditsAreScarce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := testLimits
		lim.Budgets = []bridges.Budget{{Key: "updates", Every: time.Minute}}
		lim.SendBudgets = []bridges.Budget{{Key: "posts", Every: 100 * time.Millisecond}}
		be := &bridgestest.Backend{Steps: bridgestest.Answer("a streamed answer here", 4, 500*time.Millisecond, "c")}
		h := newHarness(t, lim, be, bridges.Route{})
		asked := time.Now()
		h.send(msg("one", "first"))
		h.send(msg("two", "second"))
		h.settle()
		calls := h.edits()
		if len(calls) != 2 {
			t.Fatalf("requests = %+v, want one final post per reply", calls)
		}
		for _, c := range calls {
			if c.Op != "send" || !c.Out.Final || c.Out.Text != "a streamed answer here" {
				t.Errorf("request %+v, want a final post", c)
			}
			if d := c.Time.Sub(asked); d > 5*time.Second {
				t.Errorf("final posted %s after the question, want as soon as the answer is done (~3s)", d)
			}
		}
	})
}

// TestReplyPlainTextLastResort: when the platform keeps refusing a
// formatted message for a reason it does not name as formatting, the text
// still goes out, as plain text, rather than being lost.
func TestReplyPlainTextLastResort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testLimits, &bridgestest.Backend{Steps: answer("**answer**")}, bridges.Route{})
		h.p.Fail = func(c bridgestest.Call) error {
			if !c.Out.Plain {
				return errors.New("invalid_blocks")
			}
			return nil
		}
		h.send(msg("c1", "hi"))
		h.settle()
		if got := h.p.Visible(); got != "**answer**" {
			t.Errorf("visible = %q, want the answer as plain text", got)
		}
	})
}
