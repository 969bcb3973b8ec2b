package bridges_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
	"github.com/chat-bridge/chat-bridge/store"
)

func edited(m bridges.Message, text string) bridges.Message {
	m.Text, m.Edited = text, true
	return m
}

// TestEditWhileStreamingRestarts: an edit of the question whose answer
// still streams cancels that stream and answers the new text in the same
// reply; an edit after the answer landed is left alone.
func TestEditWhileStreamingRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
			if req.Question == "old question" {
				return bridgestest.Answer("the answer to the old question, slowly", 3, 100*time.Millisecond, "c")
			}
			return answer("new answer")
		}}
		lim := testLimits
		lim.MaxLen = 500
		h := newHarness(t, lim, be, bridges.Route{})
		m := msg("c1", "old question")
		h.send(m)
		time.Sleep(350 * time.Millisecond) // the old answer has begun to show
		synctest.Wait()
		if h.p.Sends() != 1 {
			t.Fatalf("sends before the edit = %d, want the reply begun", h.p.Sends())
		}
		h.send(edited(m, "new question"))
		h.settle()
		if got, want := questions(be), []string{"old question", "new question"}; !slices.Equal(got, want) {
			t.Errorf("questions = %q, want %q", got, want)
		}
		if got := h.p.Messages(); h.p.Sends() != 1 || len(got) != 1 || got[0] != "new answer" {
			t.Errorf("messages = %q after %d sends, want one reply edited to %q", got, h.p.Sends(), "new answer")
		}
		if rec := h.store.Records()[m.Key.String()]; rec.Turns != 1 {
			t.Errorf("stored turns = %d, want 1 (the restarted answer is one turn)", rec.Turns)
		}

		h.send(edited(m, "even newer question"))
		h.settle()
		if got := questions(be); len(got) != 2 {
			t.Errorf("an edit after the answer landed asked again: %q", got)
		}
		if got := h.p.Messages(); len(got) != 1 || got[0] != "new answer" {
			t.Errorf("messages = %q, want the landed answer left alone", got)
		}
	})
}

// TestEditOfQueuedQuestion: an edit of a question still waiting its turn
// replaces its text.
func TestEditOfQueuedQuestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: answer("ok")}
		h := newHarness(t, testLimits, be, bridges.Route{})
		first, second := msg("c1", "first"), msg("c1", "second")
		h.send(first)
		h.send(second)
		h.send(edited(second, "second, corrected"))
		h.settle()
		if got, want := questions(be), []string{"first", "second, corrected"}; !slices.Equal(got, want) {
			t.Errorf("questions = %q, want %q", got, want)
		}
	})
}

// TestNonTextGetsTextOnlyNotice: a picture without text gets a short
// localized "I can read text only", at most once a minute per chat; an
// empty text that is no picture is ignored as before, and a picture in a
// group that does not address the bot gets nothing.
func TestNonTextGetsTextOnlyNotice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: answer("ok")}
		h := newHarness(t, testLimits, be, bridges.Route{})
		photo := msg("c1", "")
		photo.NonText = true
		// settle would let an hour pass: these waits keep to seconds.
		brief := func() {
			time.Sleep(5 * time.Second)
			synctest.Wait()
		}
		h.send(photo)
		brief()
		const want = "I can read text only. Please write your question as a message."
		if got := h.p.Messages(); len(got) != 1 || got[0] != want {
			t.Fatalf("messages = %q, want %q", got, want)
		}
		h.send(photo)
		h.send(msg("c1", "")) // empty, no picture
		group := groupMsg("u2", "")
		group.NonText, group.Mentioned = true, false
		h.send(group)
		brief()
		if n := len(h.p.Messages()); n != 1 {
			t.Errorf("messages = %q, want still one (once a minute; empty and unaddressed ignored)", h.p.Messages())
		}
		time.Sleep(time.Minute)
		photo.Locale = "it"
		h.send(photo)
		brief()
		if got := h.p.Messages(); len(got) != 2 || !strings.HasPrefix(got[1], "Posso leggere solo testo.") {
			t.Errorf("messages = %q, want the Italian notice a minute later", got)
		}
		if n := len(be.Requests()); n != 0 {
			t.Errorf("backend asked %d times for pictures", n)
		}
	})
}

func questions(be *bridgestest.Backend) []string {
	var out []string
	for _, r := range be.Requests() {
		out = append(out, r.Question)
	}
	return out
}

// routedRoute answers chat "sales" and guild "g9" with b, the rest with a.
func routedRoute(a, b *bridgestest.Backend) bridges.Route {
	return bridges.Route{
		BackendName: "a", Backend: a,
		Routes: []bridges.ChatRoute{
			{Chats: []string{"sales"}, BackendName: "b", Backend: b},
			{Spaces: []string{"g9"}, BackendName: "b", Backend: b},
		},
		Backends: map[string]backend.Backend{"a": a, "b": b},
	}
}

// routedHarness binds routedRoute on a fresh platform, a answering
// "from A" and b "from B".
func routedHarness(t *testing.T) (a, b *bridgestest.Backend, h *harness) {
	a = &bridgestest.Backend{Steps: answer("from A")}
	b = &bridgestest.Backend{Steps: answer("from B")}
	p := bridgestest.NewPlatform(testLimits)
	return a, b, bindHarness(t, bridges.Config{}, p, p, routedRoute(a, b))
}

// TestRoutesPickTheBackend: the first route matching the chat (or its
// guild) picks the backend; elsewhere the instance's backend answers, and
// each conversation records its backend.
func TestRoutesPickTheBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, h := routedHarness(t)
		h.send(msg("sales", "q-sales"))
		h.send(msg("support", "q-support"))
		inGuild := msg("general", "q-guild")
		inGuild.Space = "g9"
		h.send(inGuild)
		h.settle()
		if got := questions(a); len(got) != 1 || got[0] != "q-support" {
			t.Errorf("backend A asked %q, want only the support chat's question", got)
		}
		if got := questions(b); len(got) != 2 {
			t.Errorf("backend B asked %q, want the sales chat's and the guild's questions", got)
		}
		recs := h.store.Records()
		for chat, want := range map[string]string{"sales": "b", "support": "a", "general": "b"} {
			k := bridges.Key{Platform: "fake", Instance: "t", Chat: chat}
			if got := recs[k.String()].Backend; got != want {
				t.Errorf("conversation %s recorded backend %q, want %q", chat, got, want)
			}
		}
	})
}

// TestStoredConversationKeepsItsBackend: a conversation begun with
// backend A goes on with A after a route sends its chat to B, until
// /reset; one whose backend is no longer configured starts afresh with
// the route's.
func TestStoredConversationKeepsItsBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, h := routedHarness(t)
		sales, gone := msg("sales", "first"), msg("other", "hello")
		_ = h.store.Put(sales.Key, store.Record{Backend: "a", ConversationID: "conv-a", SessionID: "s"})
		_ = h.store.Put(gone.Key, store.Record{Backend: "removed", ConversationID: "conv-x", SessionID: "s"})
		h.send(sales)
		h.send(msg("sales", "/reset"))
		h.send(msg("sales", "second"))
		h.send(gone)
		h.settle()
		ra, rb := a.Requests(), b.Requests()
		if len(ra) != 2 {
			t.Fatalf("backend A got %+v, want two requests", ra)
		}
		if ra[0].Question != "first" { // two conversations: either may ask first
			ra[0], ra[1] = ra[1], ra[0]
		}
		if ra[0].Question != "first" || ra[0].ConversationID != "conv-a" {
			t.Errorf("backend A got %+v, want the stored conversation's first question in conv-a", ra[0])
		}
		if ra[1].Question != "hello" || ra[1].ConversationID != "" {
			t.Errorf("backend A got %+v for the conversation of a removed backend, want a fresh one", ra[1])
		}
		if len(rb) != 1 || rb[0].Question != "second" || rb[0].ConversationID != "" {
			t.Errorf("backend B got %+v, want the question after /reset, in a new conversation", rb)
		}
	})
}

// TestCitationsPerBackend: each backend's answers show its own sources
// setting: the routed backend's max_citations, the default's citations
// = false.
func TestCitationsPerBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cited := backend.Done{ConversationID: "c", Citations: []backend.Citation{
			{Title: "One", URL: "https://d.example/1"}, {Title: "Two", URL: "https://d.example/2"},
		}}
		a := &bridgestest.Backend{Steps: []bridgestest.Step{{Event: backend.Delta{Text: "A."}}, {Event: cited}}}
		b := &bridgestest.Backend{Steps: []bridgestest.Step{{Event: backend.Delta{Text: "B."}}, {Event: cited}}}
		p := bridgestest.NewPlatform(testLimits)
		p.Lim.MaxLen = 500
		rt := routedRoute(a, b)
		rt.CitationsBy = map[string]bridges.CitationPolicy{"a": {Show: false}, "b": {Show: true, Max: 1}}
		h := bindHarness(t, bridges.Config{}, p, p, rt)
		h.send(msg("support", "q"))
		synctest.Wait()
		time.Sleep(time.Hour)
		h.send(msg("sales", "q"))
		h.settle()
		if got, want := h.p.Messages(), []string{"A.", "B.\n\n**Sources:** [One](https://d.example/1)"}; !slices.Equal(got, want) {
			t.Errorf("messages = %q, want %q", got, want)
		}
	})
}

// TestLogLinesCarryContext: every log line about a message carries the
// platform, instance, conversation key and a request ID; message text
// appears only when content logging is on.
func TestLogLinesCarryContext(t *testing.T) {
	for _, content := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			var buf logtest.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			steps := []bridgestest.Step{
				{Event: backend.Delta{Text: "secret answer text"}},
				{Wait: time.Second, Err: &backend.Error{Kind: backend.KindUnavailable}},
			}
			r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Logger: log, LogContent: content})
			h := r.Bind(bridgestest.NewPlatform(testLimits), bridges.Route{Backend: &bridgestest.Backend{Steps: steps}})
			_ = h.Handle(context.Background(), msg("c1", "private question text"))
			time.Sleep(time.Minute)
			synctest.Wait()
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) < 2 {
				t.Fatalf("log lines = %d", len(lines))
			}
			for _, l := range lines {
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("bad log line %q", l)
				}
				for _, k := range []string{"platform", "instance", "key", "req"} {
					if _, ok := rec[k]; !ok {
						t.Errorf("log line lacks %q: %s", k, l)
					}
				}
			}
			all := buf.String()
			hasContent := strings.Contains(all, "private question text") || strings.Contains(all, "secret answer text")
			if hasContent != content {
				t.Errorf("content logging %v, but message text in logs = %v", content, hasContent)
			}
		})
	}
}
