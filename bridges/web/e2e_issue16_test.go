package web

// Issue 16's acceptance on the web chat, end to end through the HTTP/SSE
// API with the real relay: status lines from a ChatbotIQ stream (the real
// backend/chatbotiq client against a loopback server speaking the seed
// protocol) and notices in the browser's language.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/chatbotiq"
	"github.com/chat-bridge/chat-bridge/bridges"
)

// iqServer is a loopback ChatbotIQ (../shared/seeds/chatbotiq-chat-api.txt):
// its stream sends the status events, each after the test has seen the
// one before reach the browser (proceed), then the answer in two content
// events and done. Lock-step, so no timing decides what the page saw.
type iqServer struct {
	srv     *httptest.Server
	proceed chan struct{}
}

func newIQServer(t *testing.T, stages []string, answer []string) *iqServer {
	t.Helper()
	s := &iqServer{proceed: make(chan struct{}, len(stages))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /iq/v1/public/chat/stream", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for _, st := range stages {
			fmt.Fprintf(w, "data: {\"type\":\"status\",\"stage\":%q}\n\n", st)
			_ = rc.Flush()
			select {
			case <-s.proceed:
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				t.Errorf("status %q never reached the browser", st)
				return
			}
		}
		for _, c := range answer {
			fmt.Fprintf(w, "data: {\"type\":\"content\",\"content\":%q}\n\n", c)
			_ = rc.Flush()
		}
		fmt.Fprint(w, "data: {\"type\":\"done\",\"conversation_id\":\"6f1c2d3e-0000-4000-8000-000000000001\",\"assistant_message_id\":\"a-1\"}\n\n")
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *iqServer) client(t *testing.T) backend.Backend {
	t.Helper()
	iq, err := chatbotiq.New(chatbotiq.Config{BaseURL: s.srv.URL + "/iq", BotID: "00000000-0000-0000-0000-000000000001"}, backend.Deps{HTTPClient: s.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return iq
}

// TestE2EStatusLineBeforeAnswer: ChatbotIQ's status events show as the
// page's status line ("status" events, each before the first text,
// replying to the question), localized by Accept-Language; the answer's
// first text clears it, and no message, final or not, carries it.
func TestE2EStatusLineBeforeAnswer(t *testing.T) {
	tests := []struct {
		lang string
		want []string
	}{
		{"", []string{"Searching the knowledge base…", "Writing the answer…"}},
		{"de-DE,de;q=0.9", []string{germanSearching, germanWriting}},
	}
	for _, tt := range tests {
		t.Run("lang="+tt.lang, func(t *testing.T) {
			const answer = "To get started, open the Playground."
			iq := newIQServer(t, []string{"retrieving", "generating"}, []string{"To get started, ", "open the Playground."})
			h := newHarnessWith(t, iq.client(t))
			c := h.browser(t)
			c.lang = tt.lang
			c.listen()
			_, qid := c.send("how do I embed?")
			var shown []string
			for len(shown) < 2 {
				select {
				case st := <-c.status:
					if st.ReplyTo != qid {
						t.Errorf("status %+v, want it in the place of the answer to %s", st, qid)
					}
					if st.Text == "" {
						t.Fatalf("status cleared before the answer's text (shown so far %q)", shown)
					}
					shown = append(shown, st.Text)
				case it := <-c.events:
					if it.Role == "bot" {
						t.Fatalf("answer text %+v before the status lines (shown %q)", it, shown)
					}
					continue // the question
				case <-time.After(10 * time.Second):
					t.Fatalf("status lines shown %q, want 2 within 10s", shown)
				}
				// Whatever the browser saw so far holds no answer text.
				for len(c.events) > 0 {
					if it := <-c.events; it.Role == "bot" {
						t.Fatalf("answer text %+v before the status lines", it)
					}
				}
				iq.proceed <- struct{}{}
			}
			if strings.Join(shown, "|") != strings.Join(tt.want, "|") {
				t.Errorf("status lines = %q, want %q", shown, tt.want)
			}
			final := c.next(func(it item) bool {
				for _, s := range shown {
					if it.Role == "bot" && strings.Contains(it.Text, s) {
						t.Errorf("message %+v carries the status line %q", it, s)
					}
				}
				return it.Role == "bot" && it.Final
			})
			if final.Text != answer {
				t.Errorf("final = %q, want %q", final.Text, answer)
			}
			// The status line went with the first text.
			select {
			case st := <-c.status:
				if st.Text != "" {
					t.Errorf("status after the answer = %+v, want it cleared", st)
				}
			case <-time.After(10 * time.Second):
				t.Error("the status line was never cleared")
			}
			// A page opened now shows no status line, only the answer.
			c2 := &browserClient{t: t, h: h, http: c.http, events: make(chan item, 100), typing: make(chan bool, 100), status: make(chan statusLine, 100)}
			c2.listen()
			c2.next(func(it item) bool { return it.Role == "bot" && it.Final && it.Text == answer })
			if len(c2.status) > 0 {
				t.Errorf("a page opened after the answer got status %+v", <-c2.status)
			}
		})
	}
}

// The German lines of the notices catalog (bridges/notices_lang.go).
const (
	germanReset     = "Neue Unterhaltung begonnen."
	germanSearching = "Durchsuche die Wissensdatenbank…"
	germanWriting   = "Schreibe die Antwort…"
)

// TestE2ELocaleFromAcceptLanguage: the browser's first language picks
// the notices' language: /reset is confirmed in German for
// "de-DE,de;q=0.9", in English without the header.
func TestE2ELocaleFromAcceptLanguage(t *testing.T) {
	h := newHarness(t, nil)
	de, en := h.browser(t), h.browser(t)
	de.lang = "de-DE,de;q=0.9"
	de.listen()
	en.listen()
	de.send("/reset")
	got := de.next(func(it item) bool { return it.Role == "bot" && it.Final })
	en.send("/reset")
	gotEn := en.next(func(it item) bool { return it.Role == "bot" && it.Final })
	if gotEn.Text != "Started a new conversation." {
		t.Errorf("/reset without Accept-Language = %q, want English", gotEn.Text)
	}
	if got.Text == gotEn.Text || got.Text != germanReset {
		t.Errorf("/reset with Accept-Language de-DE = %q, want %q", got.Text, germanReset)
	}
}

func TestFirstLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"de-DE,de;q=0.9,en;q=0.8": "de-DE",
		" pt-BR ; q=1":            "pt-BR",
		"zh-Hant-TW":              "zh-Hant-TW",
		"":                        "",
		"*":                       "",
		"<script>":                "",
		strings.Repeat("a-", 40):  "",
	} {
		if got := firstLanguage(h); got != want {
			t.Errorf("firstLanguage(%q) = %q, want %q", h, got, want)
		}
	}
	if got := bridges.LanguageOf(firstLanguage("de-DE,en")); got != "de" {
		t.Errorf("LanguageOf(firstLanguage(de-DE,en)) = %q, want de", got)
	}
}
