package slack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	slackapi "github.com/slack-go/slack"
)

// fakeSlack is a loopback Slack: the Web API under /api/ and a Socket Mode
// WebSocket under /ws/. It keeps the messages the bot posted, as Slack
// shows them, and every request it got.
type fakeSlack struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	reactions []string
	seq       int
	msgs      []*fakeMsg
	reqs      []fakeReq
	fail      map[string][]fakeFail // method → queued failures
	opens     int
	conns     []*websocket.Conn
	acks      map[string]time.Time // envelope ID → when the ack arrived
	envSeq    int
	pongs     int
	writeMu   sync.Mutex
	stopPing  chan struct{}
	wg        sync.WaitGroup
}

// fakeMsg is one message the bot made.
type fakeMsg struct {
	Channel, TS, ThreadTS string
	Text                  string // mrkdwn text (chat.postMessage, chat.update)
	Markdown              string // streamed markdown (chat.*Stream), shown while blocks remain
	Streaming             bool
	Stopped               bool
}

// Visible is what a user sees: the streamed markdown while the message's
// blocks hold it, else the text.
func (m fakeMsg) Visible() string {
	if m.Markdown != "" {
		return m.Markdown
	}
	return m.Text
}

type fakeReq struct {
	Method string
	Form   url.Values
	At     time.Time
}

// fakeFail is a scripted answer to the next call of a method.
type fakeFail struct {
	Status     int    // HTTP status; 0 = 200
	Error      string // ok:false error code
	RetryAfter string // Retry-After header
}

const (
	botToken = "xoxb-test-token"
	appToken = "xapp-test-token"
	botUser  = "UBOT"
	botID    = "BBOT"
	teamID   = "T1"
)

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{t: t, fail: map[string][]fakeFail{}, acks: map[string]time.Time{}, stopPing: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.api)
	mux.HandleFunc("/ws/", f.ws)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.close)
	return f
}

func (f *fakeSlack) apiURL() string { return f.srv.URL + "/api/" }

func (f *fakeSlack) close() {
	close(f.stopPing)
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.srv.Close()
	f.wg.Wait()
}

// failNext makes the next call of method answer ff.
func (f *fakeSlack) failNext(method string, ff fakeFail) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], ff)
}

func (f *fakeSlack) requests(method string) []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeReq
	for _, r := range f.reqs {
		if method == "" || r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// messages returns copies of the bot's messages in channel (and thread,
// when not empty), in posting order.
func (f *fakeSlack) messages(channel, thread string) []fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMsg
	for _, m := range f.msgs {
		if m.Channel == channel && (thread == "" || m.ThreadTS == thread) {
			out = append(out, *m)
		}
	}
	return out
}

func (f *fakeSlack) newTS() string {
	f.seq++
	return fmt.Sprintf("1800000000.%06d", f.seq)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) api(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, fakeReq{Method: method, Form: r.PostForm, At: time.Now()})
	// Authentication: apps.connections.open takes the app token as a
	// bearer token, every other method the bot token in the form.
	if method == "apps.connections.open" {
		if r.Header.Get("Authorization") != "Bearer "+appToken {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
	} else if r.PostForm.Get("token") != botToken && r.Header.Get("Authorization") != "Bearer "+botToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if q := f.fail[method]; len(q) > 0 {
		ff := q[0]
		f.fail[method] = q[1:]
		if ff.RetryAfter != "" {
			w.Header().Set("Retry-After", ff.RetryAfter)
		}
		if ff.Status != 0 && ff.Status != http.StatusOK {
			w.WriteHeader(ff.Status)
			_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
			return
		}
		writeJSON(w, map[string]any{"ok": false, "error": ff.Error})
		return
	}
	form := r.PostForm
	if (method == "chat.postMessage" || method == "chat.update") && utf8.RuneCountInString(form.Get("text")) > 4000 {
		writeJSON(w, map[string]any{"ok": false, "error": "msg_too_long"})
		return
	}
	switch method {
	case "auth.test":
		writeJSON(w, map[string]any{"ok": true, "url": "https://test.slack.com/", "team": "Test Team",
			"user": "bridgebot", "team_id": teamID, "user_id": botUser, "bot_id": botID})
	case "apps.connections.open":
		f.opens++
		u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + fmt.Sprintf("/ws/?ticket=%d", f.opens)
		writeJSON(w, map[string]any{"ok": true, "url": u})
	case "chat.postMessage":
		m := &fakeMsg{Channel: form.Get("channel"), TS: f.newTS(), ThreadTS: form.Get("thread_ts"), Text: form.Get("text")}
		if m.Text == "" {
			writeJSON(w, map[string]any{"ok": false, "error": "no_text"})
			return
		}
		f.msgs = append(f.msgs, m)
		writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": map[string]any{"text": m.Text}})
	case "chat.update":
		m := f.find(form.Get("channel"), form.Get("ts"))
		if m == nil {
			writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		if m.Streaming && !m.Stopped {
			writeJSON(w, map[string]any{"ok": false, "error": "message_is_streaming"})
			return
		}
		m.Text = form.Get("text")
		if form.Get("blocks") == "[]" {
			m.Markdown = ""
		}
		writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
	case "chat.startStream":
		if form.Get("thread_ts") == "" {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
			return
		}
		ch := form.Get("channel")
		if !strings.HasPrefix(ch, "D") && (form.Get("recipient_user_id") == "" || form.Get("recipient_team_id") == "") {
			writeJSON(w, map[string]any{"ok": false, "error": "missing_recipient"})
			return
		}
		m := &fakeMsg{Channel: ch, TS: f.newTS(), ThreadTS: form.Get("thread_ts"), Markdown: form.Get("markdown_text"), Streaming: true}
		f.msgs = append(f.msgs, m)
		writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS})
	case "chat.appendStream", "chat.stopStream":
		m := f.find(form.Get("channel"), form.Get("ts"))
		if m == nil || !m.Streaming || m.Stopped {
			writeJSON(w, map[string]any{"ok": false, "error": "message_not_in_streaming_state"})
			return
		}
		m.Markdown += form.Get("markdown_text")
		if method == "chat.stopStream" {
			m.Stopped = true
		}
		writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS})
	case "reactions.add":
		if f.find(form.Get("channel"), form.Get("timestamp")) == nil && form.Get("timestamp") == "" {
			writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		f.reactions = append(f.reactions, form.Get("channel")+"/"+form.Get("timestamp")+":"+form.Get("name"))
		writeJSON(w, map[string]any{"ok": true})
	case "assistant.threads.setStatus":
		if form.Get("thread_ts") == "" || form.Get("channel_id") == "" {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeSlack) find(channel, ts string) *fakeMsg {
	for _, m := range f.msgs {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// ws is the Socket Mode endpoint: hello, then envelopes the test sends;
// it pings every 100ms and records every ack.
func (f *fakeSlack) ws(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c.SetPongHandler(func(string) error {
		f.mu.Lock()
		f.pongs++
		f.mu.Unlock()
		return nil
	})
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	f.write(c, map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A1"}, "debug_info": map[string]any{"host": "fake"}})
	done := make(chan struct{})
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-f.stopPing:
				return
			case <-tk.C:
				f.writeMu.Lock()
				err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
				f.writeMu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	defer close(done)
	for {
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := c.ReadJSON(&ack); err != nil {
			return
		}
		f.mu.Lock()
		if _, dup := f.acks[ack.EnvelopeID]; !dup {
			f.acks[ack.EnvelopeID] = time.Now()
		}
		f.mu.Unlock()
	}
}

func (f *fakeSlack) write(c *websocket.Conn, v any) error {
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	return c.WriteJSON(v)
}

// conn returns the latest Socket Mode connection.
func (f *fakeSlack) conn() *websocket.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.conns) == 0 {
		return nil
	}
	return f.conns[len(f.conns)-1]
}

func (f *fakeSlack) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// envelope sends an events_api envelope wrapping an event_callback with
// event ev and returns its envelope ID.
func (f *fakeSlack) envelope(t *testing.T, eventID string, retry int, ev map[string]any) string {
	t.Helper()
	f.mu.Lock()
	f.envSeq++
	id := fmt.Sprintf("env-%d", f.envSeq)
	f.mu.Unlock()
	c := f.conn()
	if c == nil {
		t.Fatal("no socket mode connection")
	}
	err := f.write(c, map[string]any{
		"envelope_id": id, "type": "events_api", "accepts_response_payload": false,
		"retry_attempt": retry, "retry_reason": "",
		"payload": callback(eventID, ev),
	})
	if err != nil {
		t.Fatalf("write envelope: %v", err)
	}
	return id
}

// raw sends any frame on the Socket Mode connection.
func (f *fakeSlack) raw(t *testing.T, v any) {
	t.Helper()
	if err := f.write(f.conn(), v); err != nil {
		t.Fatalf("write frame: %v", err)
	}
}

func (f *fakeSlack) ackedAt(envelope string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.acks[envelope]
	return at, ok
}

func (f *fakeSlack) pongCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pongs
}

func (f *fakeSlack) openCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}

// callback wraps an inner event as Slack's event_callback payload.
func callback(eventID string, ev map[string]any) map[string]any {
	return map[string]any{
		"token": "verif", "team_id": teamID, "api_app_id": "A1", "type": "event_callback",
		"event_id": eventID, "event_time": 1800000000, "event": ev,
	}
}

// mention is an app_mention event.
func mention(channel, user, text, ts, thread string) map[string]any {
	ev := map[string]any{"type": "app_mention", "channel": channel, "user": user, "text": text,
		"ts": ts, "event_ts": ts}
	if thread != "" {
		ev["thread_ts"] = thread
	}
	return ev
}

// message is a message event.
func message(channelType, channel, user, text, ts, thread string) map[string]any {
	ev := map[string]any{"type": "message", "channel": channel, "user": user, "text": text,
		"ts": ts, "event_ts": ts, "channel_type": channelType}
	if thread != "" {
		ev["thread_ts"] = thread
	}
	return ev
}

func slackCommand(cmd, text, channel string) slackapi.SlashCommand {
	return slackapi.SlashCommand{Command: cmd, Text: text, ChannelID: channel, UserID: "U1", TeamID: teamID}
}
