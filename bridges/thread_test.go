package bridges_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
)

var fiveEarlier = []bridges.ThreadMessage{
	{Author: "Alice", Text: "Our VPN drops every hour."},
	{FromBot: true, Text: "Which client version do you use?"},
	{Author: "Bob", Text: "4.2, and it drops for me too"},
	{Author: "Alice", Text: "Same on Windows and Mac"},
	{Text: "any news?"},
}

func inThread(user, text string) bridges.Message {
	m := groupMsg(user, text)
	m.InThread, m.ReplyToID = true, "earlier"
	return m
}

// TestThreadContextPreface: the first question of a conversation begun
// inside a thread goes with the thread's 5 earlier messages, in order and
// labelled, ahead of the question (for a backend taking one question
// string); the conversation's second question, and a question outside
// any thread, go alone. Thread text stays out of the logs.
func TestThreadContextPreface(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp := bridgestest.NewThreadPlatform(testLimits, fiveEarlier)
		be := &bridgestest.Backend{Steps: answer("ok")}
		var logs logtest.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		h := bindHarness(t, bridges.Config{Logger: log}, tp, tp.Platform, bridges.Route{Backend: be, ThreadContext: 20})
		h.send(inThread("u1", "why does it drop?"))
		h.send(inThread("u1", "and on Linux?"))
		outside := msg("dm", "a question alone")
		h.send(outside)
		h.settle()

		want := "Earlier messages in this thread:\n" +
			"[Alice] Our VPN drops every hour.\n" +
			"[assistant] Which client version do you use?\n" +
			"[Bob] 4.2, and it drops for me too\n" +
			"[Alice] Same on Windows and Mac\n" +
			"[user] any news?\n" +
			"\nQuestion: why does it drop?"
		got := questions(be)
		slices.Sort(got) // two conversations: their order is free
		if len(got) != 3 || got[0] != want || got[1] != "a question alone" || got[2] != "and on Linux?" {
			t.Errorf("questions = %q,\nwant\n%q, %q and %q", got, want, "a question alone", "and on Linux?")
		}
		if reads := tp.Reads(); !slices.Equal(reads, []int{20}) {
			t.Errorf("thread read %v times (max), want once with 20", reads)
		}
		if strings.Contains(logs.String(), "VPN") {
			t.Errorf("thread text logged without [log] content:\n%s", logs.String())
		}
	})
}

// TestThreadContextHistory: to a backend keeping no memory of its own
// (OpenAI-compatible) the thread goes as history turns, the bot's
// messages as the assistant's, and stays the conversation's history.
func TestThreadContextHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp := bridgestest.NewThreadPlatform(testLimits, fiveEarlier)
		be := &bridgestest.HistoryBackend{Backend: bridgestest.Backend{Steps: answer("ok")}, Turns: 10}
		h := bindHarness(t, bridges.Config{}, tp, tp.Platform, bridges.Route{Backend: be, ThreadContext: 20})
		h.send(inThread("u1", "why does it drop?"))
		h.send(inThread("u1", "and on Linux?"))
		h.settle()
		reqs := be.Requests()
		if len(reqs) != 2 {
			t.Fatalf("requests = %+v, want 2", reqs)
		}
		thread := []backend.Turn{
			{Question: "[Alice] Our VPN drops every hour.", Answer: "Which client version do you use?"},
			{Question: "[Bob] 4.2, and it drops for me too\n[Alice] Same on Windows and Mac\n[user] any news?"},
		}
		if reqs[0].Question != "why does it drop?" || !slices.Equal(reqs[0].History, thread) {
			t.Errorf("first request = %q with history %q,\nwant the question alone with history %q", reqs[0].Question, reqs[0].History, thread)
		}
		again := append(slices.Clone(thread), backend.Turn{Question: "why does it drop?", Answer: "ok"})
		if reqs[1].Question != "and on Linux?" || !slices.Equal(reqs[1].History, again) {
			t.Errorf("second request = %q with history %q, want %q", reqs[1].Question, reqs[1].History, again)
		}
		if n := len(tp.Reads()); n != 1 {
			t.Errorf("thread read %d times, want once", n)
		}
	})
}

// TestThreadContextBounds: at most thread_context messages and 4,000
// characters go along, the oldest dropped first; 0 turns it off.
func TestThreadContextBounds(t *testing.T) {
	long := func(c string, n int) bridges.ThreadMessage {
		return bridges.ThreadMessage{Author: "A", Text: strings.Repeat(c, n)}
	}
	tests := map[string]struct {
		thread    []bridges.ThreadMessage
		n         int
		wantLines []string // the thread's lines in the preface; nil: no preface
	}{
		"count": {
			thread: fiveEarlier, n: 3,
			wantLines: []string{"[Bob] 4.2, and it drops for me too", "[Alice] Same on Windows and Mac", "[user] any news?"},
		},
		"characters": {
			thread:    []bridges.ThreadMessage{long("a", 1000), long("b", 1501), long("c", 1500), long("d", 1000)},
			n:         20,
			wantLines: []string{"[A] " + strings.Repeat("c", 1500), "[A] " + strings.Repeat("d", 1000)},
		},
		"one too long": {
			thread:    []bridges.ThreadMessage{long("a", 10), long("z", 5000)},
			n:         20,
			wantLines: []string{"[A] " + strings.Repeat("z", 3999) + "…"},
		},
		"off": {thread: fiveEarlier, n: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tp := bridgestest.NewThreadPlatform(testLimits, tt.thread)
				be := &bridgestest.Backend{Steps: answer("ok")}
				h := bindHarness(t, bridges.Config{}, tp, tp.Platform, bridges.Route{Backend: be, ThreadContext: tt.n})
				h.send(inThread("u1", "q?"))
				h.settle()
				got := questions(be)
				if len(got) != 1 {
					t.Fatalf("questions = %q, want 1", got)
				}
				if tt.wantLines == nil {
					if got[0] != "q?" || len(tp.Reads()) != 0 {
						t.Errorf("question = %q after %d reads, want %q alone and no read", got[0], len(tp.Reads()), "q?")
					}
					return
				}
				want := "Earlier messages in this thread:\n" + strings.Join(tt.wantLines, "\n") + "\n\nQuestion: q?"
				if got[0] != want {
					t.Errorf("question =\n%.300q\nwant\n%.300q", got[0], want)
				}
			})
		})
	}
}
