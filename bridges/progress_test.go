package bridges_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// chatbotiqSteps is a ChatbotIQ-like stream: status events, then content
// with notices among it.
func chatbotiqSteps() []bridgestest.Step {
	return []bridgestest.Step{
		{Event: backend.Status{Stage: "retrieving"}},
		{Wait: 500 * time.Millisecond, Event: backend.Status{Stage: "generating"}},
		{Wait: 100 * time.Millisecond, Event: backend.Status{Stage: "generating"}},
		{Wait: 500 * time.Millisecond, Event: backend.Delta{Text: "Open the "}},
		{Event: backend.Notice{Code: "rag_unavailable", Message: "Knowledge retrieval temporarily degraded"}},
		{Event: backend.Notice{Code: "system_message", Message: "Your plan renews tomorrow."}},
		{Wait: 100 * time.Millisecond, Event: backend.Status{Stage: "generating"}},
		{Event: backend.Notice{Code: "rag_unavailable", Message: "Knowledge retrieval temporarily degraded"}},
		{Wait: 100 * time.Millisecond, Event: backend.Delta{Text: "Playground."}},
		{Event: backend.Done{ConversationID: "c"}},
	}
}

// TestProgressStatusLines: before the first text, status events show a
// short localized line (each once) on a StatusShower; the answer's text
// follows it and never contains it. rag_unavailable is noted once in
// small print; other notices are only logged.
func TestProgressStatusLines(t *testing.T) {
	tests := map[string]struct {
		locale string
		want   []string
		note   string
	}{
		"English": {want: []string{"Searching the knowledge base…", "Writing the answer…"},
			note: "\n\n_(The knowledge base could not be searched for this answer.)_"},
		"German": {locale: "de", want: []string{"Durchsuche die Wissensdatenbank…", "Schreibe die Antwort…"},
			note: "\n\n_(Die Wissensdatenbank konnte für diese Antwort nicht durchsucht werden.)_"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sp := bridgestest.NewStatusPlatform(testLimits)
				sp.Lim.MaxLen = 500
				var logs bridgestest.LogBuffer
				be := &bridgestest.Backend{Steps: chatbotiqSteps()}
				h := bindHarness(t, bridges.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, sp, sp.Platform, bridges.Route{Backend: be})
				m := msg("c1", "how do I start?")
				m.Locale = tt.locale
				h.send(m)
				h.settle()
				if got := sp.Statuses(); !slices.Equal(got, tt.want) {
					t.Errorf("status lines = %q, want %q", got, tt.want)
				}
				calls := sp.Calls()
				firstText := slices.IndexFunc(calls, func(c bridgestest.Call) bool { return c.Op == "send" })
				lastStatus := -1
				for i, c := range calls {
					if c.Op == "status" {
						lastStatus = i
					}
					if (c.Op == "send" || c.Op == "edit") && slices.Contains(tt.want, c.Out.Text) {
						t.Errorf("a %s carried the status line %q", c.Op, c.Out.Text)
					}
				}
				if firstText < 0 || lastStatus > firstText {
					t.Errorf("calls = %+v, want every status line before the first text", calls)
				}
				if got, want := sp.Visible(), "Open the Playground."+tt.note; got != want {
					t.Errorf("final = %q, want %q", got, want)
				}
				if !strings.Contains(logs.String(), "system_message") || !strings.Contains(logs.String(), "rag_unavailable") {
					t.Errorf("notices not logged:\n%s", logs.String())
				}
			})
		})
	}
}

// TestProgressWithoutStatusShower: elsewhere the typing indicator stays
// until the first text and no status line is shown anywhere.
func TestProgressWithoutStatusShower(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: chatbotiqSteps()}
		h := newHarness(t, testLimits, be, bridges.Route{})
		h.send(msg("c1", "how do I start?"))
		h.settle()
		typing := 0
		for _, c := range h.p.Calls() {
			if c.Op == "typing" {
				typing++
			}
			if strings.Contains(c.Out.Text, "Searching") || strings.Contains(c.Out.Text, "Writing") {
				t.Errorf("%s showed a status line: %q", c.Op, c.Out.Text)
			}
		}
		if typing == 0 {
			t.Error("no typing indicator while waiting for the first text")
		}
	})
}
