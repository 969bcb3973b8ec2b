// End-to-end tests of issue 16 through the Slack fake: thread context
// (conversations.replies) and status lines (assistant.threads.setStatus)
// with the real adapter, the real relay and a backend.

package slack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/chatbotiq"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// threadWith fills a thread of C1 with 5 earlier messages (the root, three
// replies by people, one by the bot through the adapter) and records the
// mention that follows them; it returns the thread's root and the
// mention's ts. Timestamps come from the fake's one sequence, so the
// bot's answers come after the mention, as on Slack.
func threadWith(t *testing.T, e *env, mentionText string) (root, mention string) {
	t.Helper()
	root = e.fake.NewTS()
	e.fake.AddUser(slacktest.User{ID: "U2", DisplayName: "Bo"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: root, User: "U2", Text: "our deploy is failing"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U3", Text: "which step?"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U2", Text: "the CI one"})
	if _, err := e.a.Send(context.Background(), &bridges.Message{ChatID: "C1", ThreadID: root}, bridges.Out{Text: "I can help with CI", Final: true}); err != nil {
		t.Fatal(err)
	}
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U3", Text: "anyone?"})
	mention = e.fake.NewTS()
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: mention, ThreadTS: root, User: "U2", Text: "<@UBOT> " + mentionText})
	return root, mention
}

// The 5 earlier messages as the backend gets them: labelled with their
// authors (a person whose name the adapter does not know as "user", the
// bot's as the assistant's), oldest first.
var threadLinesWant = []string{
	"[Bo] our deploy is failing",
	"[user] which step?",
	"[Bo] the CI one",
	"[assistant] I can help with CI",
	"[user] anyone?",
}

// questionBackend answers every question with a short text, continuing
// conversation "c".
func questionBackend() *bridgestest.Backend {
	return &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("Answer "+fmt.Sprint(len(req.Question)), 100, 0, "c")
	}}
}

// TestE2EThreadContext: a mention inside an existing thread with 5
// earlier messages sends those 5 to the backend ahead of the question, in
// order and labelled; the second question of that conversation sends
// none; a top-level mention sends none and reads nothing.
func TestE2EThreadContext(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: questionBackend(), route: func(r *bridges.Route) { r.ThreadContext = 20 }})
	root, mention := threadWith(t, e, "why does it fail?")
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> why does it fail?", mention, root))
	bridgestest.WaitFor(t, "the thread's answer stored", 10*time.Second, func() bool {
		rec, ok := e.store.Records()["slack/main/C1/"+root]
		return ok && rec.ConversationID == "c" && len(e.fake.Visible("C1", root)) == 2
	})
	reqs := e.backend.Requests()
	if len(reqs) != 1 {
		t.Fatalf("backend requests = %d, want 1", len(reqs))
	}
	q := reqs[0].Question
	last := -1
	for i, line := range threadLinesWant {
		at := strings.Index(q, line+"\n")
		if at <= last {
			t.Fatalf("question %q lacks earlier message %d %q in order, labelled", q, i, line)
		}
		last = at
	}
	if !strings.HasSuffix(q, "\nQuestion: why does it fail?") || strings.Count(q, "why does it fail?") != 1 {
		t.Errorf("question %q: want the thread ahead of the question, the mention once", q)
	}
	if len(reqs[0].History) != 0 {
		t.Errorf("history = %+v, want the thread in the preface only (the backend keeps its memory)", reqs[0].History)
	}
	calls := e.fake.Requests("conversations.replies")
	if len(calls) != 1 || calls[0].Form.Get("channel") != "C1" || calls[0].Form.Get("ts") != root || calls[0].Form.Get("latest") != mention {
		t.Errorf("conversations.replies calls = %+v, want one for C1/%s up to %s", calls, root, mention)
	}

	// The second question of the same conversation: the backend's memory
	// holds the thread; nothing is read or sent again.
	second := e.fake.NewTS()
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: second, ThreadTS: root, User: "U2", Text: "<@UBOT> and now?"})
	e.envelope("Ev2", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> and now?", second, root))
	bridgestest.WaitFor(t, "the second answer", 10*time.Second, func() bool { return len(e.fake.Visible("C1", root)) == 3 })
	reqs = e.backend.Requests()
	if len(reqs) != 2 || reqs[1].Question != "and now?" || reqs[1].ConversationID != "c" {
		t.Errorf("second request = %+v, want the question alone in conversation c", reqs[len(reqs)-1])
	}
	if n := e.fake.Count("conversations.replies"); n != 1 {
		t.Errorf("conversations.replies calls = %d after the second question, want 1", n)
	}

	// A top-level mention: no thread, nothing read, the question alone.
	top := e.fake.NewTS()
	e.envelope("Ev3", 0, slacktest.MentionEvent("C2", "U2", "<@UBOT> plain question", top, ""))
	bridgestest.WaitFor(t, "the top-level answer", 10*time.Second, func() bool { return len(e.fake.Visible("C2", top)) == 1 })
	reqs = e.backend.Requests()
	if len(reqs) != 3 || reqs[2].Question != "plain question" || reqs[2].ConversationID != "" {
		t.Errorf("top-level request = %+v, want the question alone in a new conversation", reqs[len(reqs)-1])
	}
	if n := e.fake.Count("conversations.replies"); n != 1 {
		t.Errorf("conversations.replies calls = %d after a top-level mention, want 1", n)
	}
}

// TestE2EThreadContextBounded: thread_context = 2 sends only the 2
// messages just before the mention.
func TestE2EThreadContextBounded(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: questionBackend(), route: func(r *bridges.Route) { r.ThreadContext = 2 }})
	root, mention := threadWith(t, e, "summarise")
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> summarise", mention, root))
	bridgestest.WaitFor(t, "the thread's answer", 10*time.Second, func() bool { return len(e.backend.Requests()) == 1 })
	q := e.backend.Requests()[0].Question
	want := "Earlier messages in this thread:\n" + threadLinesWant[3] + "\n" + threadLinesWant[4] + "\n\nQuestion: summarise"
	if q != want {
		t.Errorf("question = %q, want %q", q, want)
	}
}

// iqServer is a loopback ChatbotIQ (../shared/seeds/chatbotiq-chat-api.txt):
// POST /v1/public/chat/stream answers an SSE stream of two status events,
// then the content in three events, then done. Each event is flushed on
// its own, a little apart, as the service sends them.
func iqServer(t *testing.T) *chatbotiq.Client {
	t.Helper()
	events := []string{
		`{"type":"status","stage":"retrieving"}`,
		`{"type":"status","stage":"generating"}`,
		`{"type":"content","content":"To get started, "}`,
		`{"type":"content","content":"open the Playground "}`,
		`{"type":"content","content":"and click Embed."}`,
		`{"type":"done","conversation_id":"6f1c2d3e-0000-4000-8000-000000000001","assistant_message_id":"a-1","citations":[]}`,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /iq/v1/public/chat/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl, _ := w.(http.Flusher)
		for _, ev := range events {
			if _, err := fmt.Fprintf(w, "data: %s\n\n", ev); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iq, err := chatbotiq.New(chatbotiq.Config{BaseURL: srv.URL + "/iq", BotID: "00000000-0000-0000-0000-000000000001"}, backend.Deps{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return iq
}

// TestE2EStatusLine: a ChatbotIQ stream with status events then content
// shows the status lines in the reply's thread (assistant.threads.setStatus)
// before the answer's first text, and no version of the answer's message
// ever holds them; the final is the answer alone.
func TestE2EStatusLine(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("streaming=%v", native), func(t *testing.T) {
			iq := iqServer(t)
			e := start(t, envOpts{socket: true, route: func(r *bridges.Route) { r.BackendName, r.Backend = "iq", iq },
				cfg: func(c *Config) { c.NoStreaming = !native }})
			root := e.fake.NewTS()
			e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> how do I embed?", root, ""))
			const ans = "To get started, open the Playground and click Embed."
			msgs := e.waitText("C1", root, ans)
			var lines []string
			for _, s := range e.fake.Statuses() {
				if s.Channel != "C1" || s.ThreadTS != root {
					t.Errorf("status %+v, want it in C1's thread %s", s, root)
				}
				if s.Status != thinking {
					lines = append(lines, s.Status)
				}
			}
			want := []string{"Searching the knowledge base…", "Writing the answer…"}
			if strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Fatalf("status lines = %q, want %q", lines, want)
			}
			// Every status line was set before the first request that showed
			// the answer's text, and the typing status did not overwrite
			// them in between.
			if order := statusOrder(e, msgs[0].TS); !progressFirst(order) {
				t.Errorf("requests = %q, want the two status lines just before the answer's text", order)
			}
			for _, v := range msgs[0].Versions {
				for _, l := range want {
					if strings.Contains(v, l) || strings.Contains(v, strings.TrimSuffix(l, "…")) {
						t.Errorf("message version %q holds the status line %q", v, l)
					}
				}
			}
			if len(msgs) != 1 {
				t.Errorf("bot messages = %d, want the answer alone", len(msgs))
			}
		})
	}
}

// TestE2EThreadContextAsHistory: to a backend that keeps no memory of its
// own (OpenAI-compatible), the 5 earlier messages of the thread go as
// history turns, the bot's as the assistant's answer, and the question
// alone.
func TestE2EThreadContextAsHistory(t *testing.T) {
	hb := &bridgestest.HistoryBackend{Backend: *questionBackend(), Turns: 10}
	e := start(t, envOpts{socket: true, route: func(r *bridges.Route) { r.BackendName, r.Backend, r.ThreadContext = "oa", hb, 20 }})
	root, mention := threadWith(t, e, "why does it fail?")
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> why does it fail?", mention, root))
	bridgestest.WaitFor(t, "the thread's question", 10*time.Second, func() bool { return len(hb.Requests()) == 1 })
	req := hb.Requests()[0]
	want := []backend.Turn{
		{Question: strings.Join(threadLinesWant[:3], "\n"), Answer: "I can help with CI"},
		{Question: threadLinesWant[4]},
	}
	if req.Question != "why does it fail?" || !slices.Equal(req.History, want) {
		t.Errorf("request = %q with history %q,\nwant the question alone with history %q", req.Question, req.History, want)
	}
}

// statusOrder lists the fake's requests that set a thread status
// ("thinking" for the typing status, "status" for a progress line) or
// showed the text of the bot message ts ("text"), in arrival order.
func statusOrder(e *env, ts string) []string {
	var order []string
	for _, c := range e.fake.Requests("") {
		switch {
		case c.Method == "assistant.threads.setStatus" && c.Form.Get("status") == thinking:
			order = append(order, "thinking")
		case c.Method == "assistant.threads.setStatus":
			order = append(order, "status")
		case c.Message != nil && c.Message.TS == ts && c.Error == "":
			order = append(order, "text")
		}
	}
	return order
}

// progressFirst reports whether order has the two progress lines one
// after the other, then the answer's text.
func progressFirst(order []string) bool {
	first := slices.Index(order, "status")
	return first >= 0 && first+2 < len(order) && order[first+1] == "status" && order[first+2] == "text"
}

// TestE2EStatusLineNotOverwritten: the typing status runs on its own
// goroutine; one whose request is still on its way when the first
// progress line is set must not land over it. The fake is mounted
// behind a handler that holds the first "is thinking…" request until the
// progress line has landed (or 500 ms passed).
func TestE2EStatusLineNotOverwritten(t *testing.T) {
	f := slacktest.New(slacktest.Options{})
	t.Cleanup(f.Close)
	var held atomic.Bool
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/assistant.threads.setStatus") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			if form.Get("status") == thinking && !held.Swap(true) {
				deadline := time.Now().Add(500 * time.Millisecond)
				for len(f.Statuses()) == 0 && time.Now().Before(deadline) {
					time.Sleep(2 * time.Millisecond)
				}
			}
		}
		f.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(slow)
	t.Cleanup(srv.Close)
	iq := iqServer(t)
	e := start(t, envOpts{socket: true, fake: f, route: func(r *bridges.Route) { r.BackendName, r.Backend = "iq", iq },
		cfg: func(c *Config) { c.APIURL = f.APIURLAt(srv.URL) }})
	root := e.fake.NewTS()
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> how do I embed?", root, ""))
	msgs := e.waitText("C1", root, "To get started, open the Playground and click Embed.")
	if order := statusOrder(e, msgs[0].TS); !progressFirst(order) {
		t.Errorf("requests = %q, want the two status lines just before the answer's text (no typing status between)", order)
	}
}
