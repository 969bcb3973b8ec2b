package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/chatbotiq"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// vendorFake speaks each backend's documented wire protocol just enough
// for `bridge console` and `bridge check --ask` end to end; the byte-level
// protocol tests live in each backend package.
type vendorFake struct {
	mu    sync.Mutex
	conv  []string // conversation IDs the client sent, per request
	srv   *httptest.Server
	asked int
}

func (v *vendorFake) saw(conv string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.conv = append(v.conv, conv)
	v.asked++
}

func newVendorFake(t *testing.T) *vendorFake {
	v := &vendorFake{}
	mux := http.NewServeMux()
	// chatof.ai: JSON header, magic separator, raw text.
	mux.HandleFunc("POST /cof/api/v1/backend/chatbot/bot1/chat", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Q    string `json:"q"`
			Conv string `json:"conversation_uid"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		v.saw(req.Conv)
		fmt.Fprintf(w, `{"answer": "", "question": %q, "related_docs": [], "conversation_uid": "cof-conv", "is_qa_mode": true, "system_message": ""}`+"\n", req.Q)
		io.WriteString(w, "645130146e8d07b175fd8b1d5682d520")
		for _, p := range []string{"chatofai ", "says ", "hi"} {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("GET /cof/api/v1/backend", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"code":0,"message":"Success"}`)
	})
	// NewOaks: session, then JSON lines with a final Answer.
	mux.HandleFunc("POST /no/chat/Chatbot/GetSession", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"Data":{"SessionID":4711},"Version":"1.0.0","Success":true,"Code":200,"Message":""}`)
	})
	mux.HandleFunc("POST /no/chat/Chat/ClientAsk", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			SessionID int `json:"sessionID"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		v.saw(fmt.Sprint(req.SessionID))
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `{"content":"newoaks "}`+"\n")
		io.WriteString(w, `{"content":"says hi"}`+"\n")
		io.WriteString(w, `{"QuestionID":1,"AnswerID":2,"Answer":"newoaks says hi","TotalToken":9}`+"\n")
	})
	mux.HandleFunc("GET /no/chat/Chatbot/ModelList", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"Data":[],"Version":"1.0.0","Success":true,"Code":200,"Message":""}`)
	})
	// ChatbotIQ: SSE events.
	mux.HandleFunc("POST /iq/v1/public/chat/stream", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Conv string `json:"conversation_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		v.saw(req.Conv)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"type\":\"status\",\"stage\":\"retrieving\"}\n\n")
		io.WriteString(w, "data: {\"type\":\"content\",\"content\":\"chatbotiq \"}\n\n")
		io.WriteString(w, "data: {\"type\":\"content\",\"content\":\"says hi\"}\n\n")
		io.WriteString(w, "data: {\"type\":\"done\",\"conversation_id\":\"iq-conv\",\"citations\":[{\"page_title\":\"Opening hours\",\"source_url\":\"https://example.com/hours\"}]}\n\n")
	})
	mux.HandleFunc("GET /iq/", func(w http.ResponseWriter, r *http.Request) {})
	v.srv = httptest.NewServer(mux)
	t.Cleanup(v.srv.Close)
	return v
}

// backends is the configuration of the backends "cof" (chatofai) and
// "no" (newoaks) answered by v.
func (v *vendorFake) backends() string {
	return fmt.Sprintf(`[backends.cof]
kind = "chatofai"
base_url = %q
bot_id = "bot1"
api_key = "k1"
[backends.no]
kind = "newoaks"
base_url = %q
bot_id = "serial"
api_key = "k2"
`, v.srv.URL+"/cof", v.srv.URL+"/no")
}

// TestConsoleEveryKind: `bridge console --backend NAME` works with every
// backend kind, and the second question continues the conversation.
func TestConsoleEveryKind(t *testing.T) {
	v := newVendorFake(t)
	llm := newFakeLLM(t, 0)
	dir := t.TempDir()
	cfg := writeFile(t, "config.toml", fmt.Sprintf(`
[store]
path = %q
%s[backends.iq]
kind = "chatbotiq"
base_url = %q
bot_id = "00000000-0000-0000-0000-000000000001"
[backends.llm]
kind = "openai"
base_url = %q
bot_id = "m"
`, filepath.Join(dir, "b.db"), v.backends(), v.srv.URL+"/iq", llm.srv.URL+"/llm/v1"))

	tests := []struct {
		backend, answer, secondConv string
	}{
		{"cof", "chatofai says hi", "cof-conv"},
		{"no", "newoaks says hi", "4711"},
		{"iq", "chatbotiq says hi\n\n**Sources:** [Opening hours](https://example.com/hours)", "iq-conv"},
		{"llm", answerFor("hello"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.backend, func(t *testing.T) {
			code, out, stderr := runMain(t, "hello\nhello\n", nil, "console", "--config", cfg, "--backend", tt.backend)
			if code != exitOK {
				t.Fatalf("console = %d, stderr %q", code, stderr)
			}
			if want := tt.answer + "\n\n" + tt.answer + "\n\n"; out != want {
				t.Errorf("console output = %q, want %q", out, want)
			}
		})
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	// Each vendor saw a fresh conversation, then the one it handed back.
	want := []string{"", "cof-conv", "4711", "4711", "", "iq-conv"}
	if strings.Join(v.conv, ",") != strings.Join(want, ",") {
		t.Errorf("conversation IDs sent = %q, want %q", v.conv, want)
	}
	if msgs := llm.lastMessages(); len(msgs) != 3 {
		t.Errorf("openai second request has %d messages, want the first turn as history plus the question", len(msgs))
	}
}

// TestCheckAsk: `bridge check` verifies every backend cheaply, and --ask
// sends one real question and shows the streamed answer.
func TestCheckAsk(t *testing.T) {
	v := newVendorFake(t)
	cfg := writeFile(t, "config.toml", fmt.Sprintf(`
[store]
path = %q
%s[backends.demo]
kind = "demo"
pace = "-1ns"
`, filepath.Join(t.TempDir(), "b.db"), v.backends()))
	code, out, stderr := runMain(t, "", nil, "check", "--config", cfg)
	if code != exitOK {
		t.Fatalf("check = %d, %q %q", code, out, stderr)
	}
	for _, want := range []string{"backend cof (chatofai): ok", "backend no (newoaks): ok", "backend demo (demo): ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output %q lacks %q", out, want)
		}
	}
	if v.asked != 0 {
		t.Errorf("check without --ask asked %d questions, want 0 (no credits spent)", v.asked)
	}
	code, out, _ = runMain(t, "", nil, "check", "--config", cfg, "--backend", "cof", "--ask", "hi?")
	if code != exitOK || !strings.Contains(out, "A: chatofai says hi") {
		t.Errorf("check --ask = %d, %q", code, out)
	}

	// A backend that refuses the key fails the check with exit 1.
	bad := writeFile(t, "bad.toml", fmt.Sprintf("[backends.x]\nkind = \"openai\"\nbase_url = %q\nbot_id = \"m\"\n", v.srv.URL+"/nothing"))
	if code, out, _ := runMain(t, "", nil, "check", "--config", bad); code != exitRuntime || !strings.Contains(out, "FAILED") {
		t.Errorf("check of an unreachable backend = %d, %q; want exit 1 and FAILED", code, out)
	}
}

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
