package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

func TestSplitSources(t *testing.T) {
	tests := []struct {
		in, main, sources string
		ok                bool
	}{
		{"The answer.\n\n**Sources:** [Doc A](https://kb/a)", "The answer.", "**Sources:** [Doc A](https://kb/a)", true},
		{"The answer.\n\n**Quellen:**\n1. [Doc A](https://kb/a)\n2. Handbook", "The answer.", "**Quellen:**\n1. [Doc A](https://kb/a)\n2. Handbook", true},
		{"Two\n\nparagraphs.\n\n**Sources:** [A](https://a) · [B](https://b)", "Two\n\nparagraphs.", "**Sources:** [A](https://a) · [B](https://b)", true},
		{"No sources here.", "No sources here.", "", false},
		{"**Note:** bold first, then text after.\n\nMore text.", "**Note:** bold first, then text after.\n\nMore text.", "", false},
		{"\n\n**Sources:** [A](https://a)", "\n\n**Sources:** [A](https://a)", "", false},
		{"Answer.\n\n**Sources:** [A](https://a)\n\nTrailing text.", "Answer.\n\n**Sources:** [A](https://a)\n\nTrailing text.", "", false},
	}
	for _, tc := range tests {
		main, src, ok := splitSources(tc.in)
		if main != tc.main || src != tc.sources || ok != tc.ok {
			t.Errorf("splitSources(%q) = %q, %q, %v; want %q, %q, %v", tc.in, main, src, ok, tc.main, tc.sources, tc.ok)
		}
	}
}

// cited scripts a backend answering text with sources.
func cited(text string, cs ...backend.Citation) *bridgestest.Backend {
	return &bridgestest.Backend{Script: func(backend.Request) []bridgestest.Step {
		steps := bridgestest.Answer(text, 8, 30*time.Millisecond, "c")
		steps[len(steps)-1] = bridgestest.Step{Event: backend.Done{ConversationID: "c", Citations: cs}}
		return steps
	}}
}

// blockTypes returns the types of a message's blocks and the text of its
// context block.
func blockTypes(t *testing.T, raw string) (types []string, context string) {
	t.Helper()
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		t.Fatalf("blocks %q: %v", raw, err)
	}
	for _, b := range blocks {
		types = append(types, b.Type)
		if b.Type == "context" && len(b.Elements) > 0 {
			context = b.Elements[0].Text
		}
	}
	return types, context
}

// Posted and edited replies (a top-level DM) show the sources in a
// context block under a section with the answer; `text` keeps both.
func TestCitationsContextBlock(t *testing.T) {
	const ans = "The retention period is thirty days for every plan."
	e := start(t, envOpts{socket: true, citations: true, backend: cited(ans, backend.Citation{Title: "Doc A", URL: "https://kb.example/a"})})
	e.envelope("Ev1", 0, slacktest.MessageEvent("im", "D1", "U1", "retention?", "1700000700.000100", ""))
	var msg slacktest.Message
	bridgestest.WaitFor(t, "the final answer with its sources", 10*time.Second, func() bool {
		ms := e.fake.Messages("D1", "")
		if len(ms) == 1 && ms[0].Blocks != "" {
			msg = ms[0]
			return true
		}
		return false
	})
	types, small := blockTypes(t, msg.Blocks)
	if strings.Join(types, ",") != "section,context" || !strings.Contains(small, "<https://kb.example/a|Doc A>") {
		t.Errorf("blocks = %s, want a section and a context block with the source", msg.Blocks)
	}
	if !strings.HasPrefix(msg.Text, ans) || !strings.Contains(msg.Text, "<https://kb.example/a|Doc A>") {
		t.Errorf("text = %q, want the answer and its sources as the fallback", msg.Text)
	}
}

// A natively streamed reply ends with the sources in a context block
// added by chat.stopStream; the streamed markdown is the answer alone.
func TestCitationsStreamed(t *testing.T) {
	const ans = "Streamed answer, in a thread, with a source under it."
	e := start(t, envOpts{socket: true, citations: true, backend: cited(ans, backend.Citation{Title: "Guide", URL: "https://kb.example/g"})})
	root := "1700000701.000100"
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> q", root, ""))
	var msg slacktest.Message
	bridgestest.WaitFor(t, "the stream stopped", 10*time.Second, func() bool {
		ms := e.fake.Messages("C1", root)
		if len(ms) == 1 && ms[0].Stopped {
			msg = ms[0]
			return true
		}
		return false
	})
	if msg.Markdown != ans {
		t.Errorf("streamed markdown = %q, want the answer alone %q", msg.Markdown, ans)
	}
	types, small := blockTypes(t, msg.Blocks)
	if strings.Join(types, ",") != "context" || !strings.Contains(small, "<https://kb.example/g|Guide>") {
		t.Errorf("stopStream blocks = %s, want a context block with the source", msg.Blocks)
	}
}
