package bridges_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/store"
)

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

// TestRoutesPickTheBackend: the first route matching the chat (or its
// guild) picks the backend; elsewhere the instance's backend answers, and
// each conversation records its backend.
func TestRoutesPickTheBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &bridgestest.Backend{Steps: answer("from A")}
		b := &bridgestest.Backend{Steps: answer("from B")}
		p := bridgestest.NewPlatform(testLimits)
		h := bindHarness(t, bridges.Config{}, p, p, routedRoute(a, b))
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
		a := &bridgestest.Backend{Steps: answer("from A")}
		b := &bridgestest.Backend{Steps: answer("from B")}
		p := bridgestest.NewPlatform(testLimits)
		h := bindHarness(t, bridges.Config{}, p, p, routedRoute(a, b))
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
