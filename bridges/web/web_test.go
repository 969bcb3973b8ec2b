package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/chatbotiq"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// harness runs one web chat instance ("test") on an httptest server, with
// the real relay, an in-memory store and a scripted backend.
type harness struct {
	srv   *httptest.Server
	a     *Adapter
	store *bridgestest.Store
	be    *bridgestest.Backend
}

func newHarness(t *testing.T, script func(req backend.Request) []bridgestest.Step) *harness {
	t.Helper()
	be := &bridgestest.Backend{Script: script}
	h := newHarnessWith(t, be)
	h.be = be
	return h
}

// newHarnessWith is newHarness with any backend (a real client against a
// loopback server); h.be is then nil.
func newHarnessWith(t *testing.T, be backend.Backend) *harness {
	t.Helper()
	mux := http.NewServeMux()
	a, err := New(Config{Name: "test", Title: "Test chat"}, bridges.Deps{Mux: mux, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{srv: httptest.NewServer(mux), a: a, store: bridgestest.NewStore()}
	relay, err := bridges.NewRelay(bridges.Config{Store: h.store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	handler := relay.Bind(a, bridges.Route{Name: "web/test", BackendName: "test", Backend: be, Respond: "mention", Policy: bridges.Policy{MaxQuestionChars: -1}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, handler) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		relay.Shutdown(sctx)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil on a clean stop", err)
		}
		h.srv.CloseClientConnections() // event streams
		h.srv.Close()
	})
	for !a.Connected() {
		time.Sleep(time.Millisecond)
	}
	return h
}

// browserClient is one browser: a cookie jar and an open event stream.
type browserClient struct {
	t      *testing.T
	h      *harness
	http   *http.Client
	events chan item
	typing chan bool
	status chan statusLine
	// lang, when set, is sent as Accept-Language with every question.
	lang string
}

func (h *harness) browser(t *testing.T) *browserClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &browserClient{t: t, h: h, http: &http.Client{Jar: jar}, events: make(chan item, 1000), typing: make(chan bool, 1000), status: make(chan statusLine, 1000)}
	resp, err := c.http.Get(h.srv.URL + "/web/test/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>Test chat</title>") {
		t.Fatalf("GET /web/test/ = %d %q", resp.StatusCode, body)
	}
	return c
}

// listen opens the event stream and decodes its events into c.events.
func (c *browserClient) listen() {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.h.srv.URL+"/web/test/api/events", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		c.t.Fatalf("events = %d %s", resp.StatusCode, ct)
	}
	c.t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data := strings.TrimPrefix(line, "data: ")
				switch event {
				case "msg":
					var it item
					if err := json.Unmarshal([]byte(data), &it); err != nil {
						panic(err)
					}
					c.events <- it
				case "typing":
					var v struct{ On bool }
					_ = json.Unmarshal([]byte(data), &v)
					c.typing <- v.On
				case "status":
					var st statusLine
					if err := json.Unmarshal([]byte(data), &st); err != nil {
						panic(err)
					}
					c.status <- st
				}
			}
		}
	}()
}

func (c *browserClient) send(text string) (code int, id string) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"text": text})
	req, _ := http.NewRequest("POST", c.h.srv.URL+"/web/test/api/send", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r sendResponse
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r.ID
}

// next returns the next message event matching ok, within 10s.
func (c *browserClient) next(ok func(item) bool) item {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case it := <-c.events:
			if ok(it) {
				return it
			}
		case <-timeout:
			c.t.Fatal("no matching event within 10s")
		}
	}
}

func (c *browserClient) browserID() string {
	c.t.Helper()
	for _, ck := range c.http.Jar.Cookies(mustURL(c.h.srv.URL + "/web/test/")) {
		if ck.Name == "chat_bridge_web_test" {
			return ck.Value
		}
	}
	c.t.Fatal("no browser ID cookie")
	return ""
}

func TestAnswerStreamsInPlace(t *testing.T) {
	const answer = "The opening hours are **9 to 5**, Monday to Friday. See [hours](https://example.com/hours)."
	h := newHarness(t, func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(answer, 6, 40*time.Millisecond, "conv-1")
	})
	c := h.browser(t)
	c.listen()
	code, qid := c.send("  When are you open?  ")
	if code != 200 || qid == "" {
		t.Fatalf("send = %d %q", code, qid)
	}
	q := c.next(func(it item) bool { return it.Role == "user" })
	if q.ID != qid || q.Text != "When are you open?" {
		t.Errorf("question event = %+v, want id %s and the trimmed text", q, qid)
	}
	first := c.next(func(it item) bool { return it.Role == "bot" })
	if first.Final || len(first.Text) >= len(answer) || !strings.HasPrefix(answer, first.Text) || first.ReplyTo != qid {
		t.Errorf("first answer event = %+v, want a non-final prefix of the answer replying to %s", first, qid)
	}
	var updates int
	last := c.next(func(it item) bool {
		if it.ID != first.ID {
			t.Errorf("answer continued in message %s, want the same message %s edited in place", it.ID, first.ID)
		}
		updates++
		return it.Final
	})
	if last.Text != answer {
		t.Errorf("final text = %q, want %q", last.Text, answer)
	}
	if updates < 2 {
		t.Errorf("%d edits before the final, want the answer to grow in several steps", updates)
	}
	// The typing indicator was shown while waiting, and is gone.
	var shown, hidden bool
	for timeout := time.After(5 * time.Second); !hidden; {
		select {
		case on := <-c.typing:
			shown = shown || on
			hidden = shown && !on
		case <-timeout:
			t.Fatalf("typing indicator: shown %v, then hidden %v; want both", shown, hidden)
		}
	}
	key := Key("test", c.browserID()).String()
	if rec, ok := h.store.Records()[key]; !ok || rec.ConversationID != "conv-1" {
		t.Errorf("store[%s] = %+v, %v; want conversation conv-1 (records: %v)", key, rec, ok, h.store.Records())
	}
	reqs := h.be.Requests()
	if len(reqs) != 1 || reqs[0].Question != "When are you open?" {
		t.Errorf("backend requests = %+v", reqs)
	}
}

func TestCommandsAndPerBrowserConversations(t *testing.T) {
	h := newHarness(t, func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("answer to "+req.Question, 50, 0, "conv-"+req.Question)
	})
	alice, bob := h.browser(t), h.browser(t)
	alice.listen()
	bob.listen()
	alice.send("one")
	alice.next(func(it item) bool { return it.Final && it.Text == "answer to one" })
	bob.send("two")
	bob.next(func(it item) bool { return it.Final && it.Text == "answer to two" })
	ka, kb := Key("test", alice.browserID()).String(), Key("test", bob.browserID()).String()
	if ka == kb {
		t.Fatalf("two browsers share the key %s", ka)
	}
	recs := h.store.Records()
	if recs[ka].ConversationID != "conv-one" || recs[kb].ConversationID != "conv-two" {
		t.Errorf("records = %v, want one conversation per browser", recs)
	}
	alice.send("/reset")
	conf := alice.next(func(it item) bool { return it.Role == "bot" && it.Final && !strings.HasPrefix(it.Text, "answer") })
	if conf.Text != "Started a new conversation." || !conf.Plain {
		t.Errorf("/reset answered %+v", conf)
	}
	recs = h.store.Records()
	if _, ok := recs[ka]; ok {
		t.Errorf("after /reset the store still has %s", ka)
	}
	if _, ok := recs[kb]; !ok {
		t.Errorf("alice's /reset forgot bob's conversation")
	}
	alice.send("/help")
	help := alice.next(func(it item) bool { return it.Role == "bot" && it.Final && strings.Contains(it.Text, "knowledge base") })
	if help.Text != bridges.HelpText && !strings.HasPrefix(help.Text, "I answer") {
		t.Errorf("/help = %q", help.Text)
	}
	bob.send("/new")
	if conf := bob.next(func(it item) bool { return it.Role == "bot" && it.Final && !strings.HasPrefix(it.Text, "answer") }); conf.Text != "Started a new conversation." {
		t.Errorf("/new answered %+v", conf)
	}
	if _, ok := h.store.Records()[kb]; ok {
		t.Errorf("after /new the store still has %s", kb)
	}
	if n := len(h.be.Requests()); n != 2 {
		t.Errorf("backend got %d questions, want 2 (commands never reach it)", n)
	}
	// Nothing of alice's reached bob's stream.
	for len(bob.events) > 0 {
		if it := <-bob.events; strings.Contains(it.Text, "one") || strings.Contains(it.Text, "knowledge base") {
			t.Errorf("bob saw alice's message %+v", it)
		}
	}
}

func TestStopKeepsWhatArrived(t *testing.T) {
	h := newHarness(t, func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(strings.Repeat("word ", 200), 5, 50*time.Millisecond, "c")
	})
	c := h.browser(t)
	c.listen()
	c.send("long please")
	part := c.next(func(it item) bool { return it.Role == "bot" && len(it.Text) > 20 })
	c.send("/stop")
	c.next(func(it item) bool { return it.Text == "Stopped." })
	final := c.next(func(it item) bool { return it.ID == part.ID && it.Final })
	if !strings.HasPrefix(final.Text, part.Text) || !strings.Contains(final.Text, "stopped") || len(final.Text) > 600 {
		t.Errorf("stopped answer = %q, want what had arrived and the stopped mark", final.Text)
	}
}

func TestTranscriptReplayedOnConnect(t *testing.T) {
	h := newHarness(t, func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("done: "+req.Question, 50, 0, "c")
	})
	c := h.browser(t)
	c.send("before the page listened")
	// Wait for the answer through a second stream of the same browser.
	c.listen()
	c.next(func(it item) bool { return it.Final && it.Text == "done: before the page listened" })
	// A page opened now gets the whole transcript first.
	c2 := &browserClient{t: t, h: h, http: c.http, events: make(chan item, 100), typing: make(chan bool, 100), status: make(chan statusLine, 100)}
	c2.listen()
	q := c2.next(func(item) bool { return true })
	a := c2.next(func(item) bool { return true })
	if q.Role != "user" || q.Text != "before the page listened" || a.Role != "bot" || a.Text != "done: before the page listened" || !a.Final {
		t.Errorf("replay = %+v, %+v", q, a)
	}
}

func TestSendRefusals(t *testing.T) {
	h := newHarness(t, func(req backend.Request) []bridgestest.Step { return bridgestest.Answer("x", 1, 0, "c") })
	c := h.browser(t)
	url := h.srv.URL + "/web/test/api/send"
	tests := map[string]struct {
		ctype, body string
		want        int
	}{
		"form post (cross-site)":  {"application/x-www-form-urlencoded", "text=hi", http.StatusUnsupportedMediaType},
		"text/plain (cross-site)": {"text/plain", `{"text":"hi"}`, http.StatusUnsupportedMediaType},
		"empty":                   {"application/json", `{"text":"   "}`, http.StatusBadRequest},
		"not JSON":                {"application/json", `hi`, http.StatusBadRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := c.http.Post(url, tc.ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("POST %s %q = %d, want %d", tc.ctype, tc.body, resp.StatusCode, tc.want)
			}
		})
	}
	if n := len(h.be.Requests()); n != 0 {
		t.Errorf("backend got %d requests", n)
	}
	resp, err := http.Get(h.srv.URL + "/web/test/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("page CSP = %q", csp)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		cookie = ck
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/web/test/" || !browserIDRE.MatchString(cookie.Value) {
		t.Errorf("browser cookie = %+v", cookie)
	}
}

func TestNewNeedsMux(t *testing.T) {
	if _, err := New(Config{Name: "x"}, bridges.Deps{}); err == nil || !strings.Contains(err.Error(), "[http] listen") {
		t.Errorf("New without Mux = %v, want an error naming [http] listen", err)
	}
	if _, err := New(Config{Name: "a/b"}, bridges.Deps{Mux: http.NewServeMux()}); err == nil {
		t.Error("New accepted an instance name with a slash")
	}
}

func TestLimits(t *testing.T) {
	a, err := New(Config{Name: "x"}, bridges.Deps{Mux: http.NewServeMux()})
	if err != nil {
		t.Fatal(err)
	}
	l := a.Limits(&bridges.Message{})
	if l.EditInterval != 250*time.Millisecond || len(l.Budgets) != 0 || l.MaxLen < 10000 {
		t.Errorf("Limits = %+v, want a 250ms edit interval, no budget and a generous MaxLen", l)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestTranscriptBounds(t *testing.T) {
	a, err := New(Config{Name: "x"}, bridges.Deps{Mux: http.NewServeMux()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { now = now.Add(time.Second); return now }
	m := &bridges.Message{ChatID: "first", ID: "q"}
	for i := 0; i < maxItems+10; i++ {
		a.Send(context.Background(), m, bridges.Out{Text: "t", Final: true})
	}
	a.mu.Lock()
	if n := len(a.browsers["first"].items); n != maxItems {
		t.Errorf("transcript holds %d messages, want at most %d", n, maxItems)
	}
	for i := 0; i < maxBrowsers+5; i++ {
		a.browserLocked(newBrowserID())
	}
	if n := len(a.browsers); n > maxBrowsers {
		t.Errorf("%d transcripts kept, want at most %d", n, maxBrowsers)
	}
	if _, ok := a.browsers["first"]; ok {
		t.Error("the least recently seen transcript was kept")
	}
	a.mu.Unlock()
}

func TestEditAfterRestartShowsMessage(t *testing.T) {
	h := newHarness(t, func(req backend.Request) []bridgestest.Step { return bridgestest.Answer("x", 1, 0, "c") })
	c := h.browser(t)
	c.listen()
	// An answer recovered from the inbox continues a message of the
	// previous process, which this one never sent.
	s := bridges.Sent{ChatID: c.browserID(), ID: "aold-7"}
	if err := h.a.Edit(context.Background(), s, bridges.Out{Text: "the rest of the answer", Final: true}); err != nil {
		t.Fatal(err)
	}
	it := c.next(func(it item) bool { return it.ID == "aold-7" })
	if it.Text != "the rest of the answer" || !it.Final || it.Role != "bot" {
		t.Errorf("recovered message = %+v", it)
	}
	sent, _ := h.a.Send(context.Background(), &bridges.Message{ChatID: c.browserID()}, bridges.Out{Text: "new"})
	if sent.ID == "aold-7" || !strings.HasPrefix(sent.ID, "a"+h.a.epoch+"-") {
		t.Errorf("new message ID %q, want one of this process's", sent.ID)
	}
}

// TestBrowserIDWithoutCookie: the page's script sends its own ID (kept in
// localStorage), which works where no cookie is sent (an iframe of another
// site).
func TestBrowserIDWithoutCookie(t *testing.T) {
	h := newHarness(t, func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("hi "+req.Question, 50, 0, "c")
	})
	id := newBrowserID()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/web/test/api/events?browser="+id, nil)
	ev, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	post, _ := http.NewRequest("POST", h.srv.URL+"/web/test/api/send", strings.NewReader(`{"text":"there"}`))
	post.Header.Set("Content-Type", "application/json")
	post.Header.Set("X-Chat-Browser", id)
	resp, err := http.DefaultClient.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("send = %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(ev.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"text":"hi there","final":true`) {
			break
		}
	}
	if _, ok := h.store.Records()[Key("test", id).String()]; !ok {
		t.Errorf("records = %v, want web/test/%s", h.store.Records(), id)
	}
}

// Status lines from a ChatbotIQ stream (the real backend/chatbotiq client
// against a loopback server speaking the seed protocol) and notices in the
// browser's language, end to end through the HTTP/SSE API with the real
// relay.

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
