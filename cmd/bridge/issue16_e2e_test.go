package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/chatbotiq"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestChatbotIQProgressEndToEnd: the ChatbotIQ seed stream (status
// events, content, a rag_unavailable notice, a replace, done with
// repeated citations) through the real client and the relay shows the
// status lines first, and an answer that carries none of them, notes the
// degraded retrieval once and lists the sources numbered and merged.
func TestChatbotIQProgressEndToEnd(t *testing.T) {
	seed, err := os.ReadFile("../../backend/chatbotiq/testdata/answer.sse")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /iq/v1/public/chat/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(seed)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	iq, err := chatbotiq.New(chatbotiq.Config{BaseURL: srv.URL + "/iq", BotID: "00000000-0000-0000-0000-000000000001"}, backend.Deps{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	relay, err := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore()})
	if err != nil {
		t.Fatal(err)
	}
	sp := bridgestest.NewStatusPlatform(bridges.Limits{MaxLen: 2000, Unit: bridges.Runes, EditInterval: 10 * time.Millisecond})
	h := relay.Bind(sp, bridges.Route{BackendName: "iq", Backend: iq, Citations: true})
	m := bridges.Message{Key: bridges.Key{Platform: "fake", Instance: "x", Chat: "1"}, ChatID: "1", ID: "1", UserID: "u", Text: "how do I embed?", Private: true}
	if err := h.Handle(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := relay.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := sp.Statuses(), []string{"Searching the knowledge base…", "Writing the answer…"}; !slices.Equal(got, want) {
		t.Errorf("status lines = %q, want %q", got, want)
	}
	var ops []string
	for _, c := range sp.Calls() {
		if c.Op != "typing" {
			ops = append(ops, c.Op)
		}
	}
	if len(ops) < 3 || ops[0] != "status" || ops[1] != "status" || ops[2] != "send" {
		t.Errorf("requests = %q, want the two status lines before the first text", ops)
	}
	want := "To get started, open the Playground and click Embed." +
		"\n\n_(The knowledge base could not be searched for this answer.)_" +
		"\n\n**Sources:**\n1. [Getting Started](https://docs.example.com/start)\n2. [Embedding](https://docs.example.com/embed)"
	if got := sp.Visible(); got != want {
		t.Errorf("final = %q, want %q", got, want)
	}
}
