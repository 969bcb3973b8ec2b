package telegramtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestFlood checks the flood rules: the private bucket, the group window
// and the bot-wide window, each answering with a retry_after. (Moved from
// cmd/bridge-load, whose fake this package replaced.)
func TestFlood(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := map[string]struct {
		group     bool
		chats     int
		at        []time.Duration // one request per entry, chat i%chats
		wantRetry []int
		wantScope string
	}{
		"private burst of 3 then 1/s": {chats: 1,
			at:        []time.Duration{0, 0, 0, 0, 999 * time.Millisecond, time.Second},
			wantRetry: []int{0, 0, 0, 1, 1, 0}, wantScope: ScopePrivate},
		"group 20 per minute": {group: true, chats: 1,
			at:        append(make([]time.Duration, 20), 59*time.Second, 60*time.Second+1),
			wantRetry: append(make([]int, 20), 1, 0), wantScope: ScopeGroup},
		"bot-wide 30 per second": {chats: 40,
			at:        append(make([]time.Duration, 30), 0, time.Second+1),
			wantRetry: append(make([]int, 30), 1, 0), wantScope: ScopeBot},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			lm := newLimiter(TelegramLimits, true, false)
			for i, d := range tc.at {
				chat := int64(1_000_000 + i%tc.chats)
				if tc.group {
					chat = -chat
				}
				got, scope := lm.take(chat, t0.Add(d), false)
				if got != tc.wantRetry[i] {
					t.Errorf("request %d at %v: retry_after = %d, want %d", i, d, got, tc.wantRetry[i])
				}
				if got != 0 && scope != tc.wantScope {
					t.Errorf("request %d: scope %q, want %q", i, scope, tc.wantScope)
				}
			}
		})
	}
	t.Run("drafts uncounted unless asked", func(t *testing.T) {
		lm := newLimiter(TelegramLimits, true, false)
		for i := range 100 {
			if ra, _ := lm.take(int64(i+1), t0, true); ra != 0 {
				t.Fatalf("draft %d refused with retry_after %d, want drafts free", i, ra)
			}
		}
		lm = newLimiter(TelegramLimits, true, true)
		for i := range 31 {
			ra, scope := lm.take(int64(i+1), t0, true)
			if (i < 30) != (ra == 0) || i == 30 && scope != ScopeBot {
				t.Errorf("counted draft %d: retry_after %d scope %q, want the 31st refused bot-wide", i, ra, scope)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		lm := newLimiter(TelegramLimits, false, false)
		for i := range 100 {
			if ra, _ := lm.take(1, t0, false); ra != 0 {
				t.Fatalf("request %d refused with limits off", i)
			}
		}
	})
}

// TestVisibleHTML: Telegram's HTML becomes the visible text; malformed
// HTML is an error. (The cases of cmd/bridge-load's TestVisibleText.)
func TestVisibleHTML(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"a <b>b</b> &lt;c&gt; &amp; &#33;", "a b <c> & !"},
		{"<pre><code>x &#x41;</code></pre>", "x A"},
		{`<a href="https://x/?a=1&amp;b=2">l</a>`, "l"},
	}
	for _, tc := range tests {
		if got, err := VisibleHTML(tc.raw); err != nil || got != tc.want {
			t.Errorf("VisibleHTML(%q) = %q, %v, want %q", tc.raw, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a <b", "<x>y</x>", "<b>unclosed", "a & b", "<b><i>x</b></i>", "<code><pre>x</pre></code>"} {
		if _, err := VisibleHTML(bad); err == nil {
			t.Errorf("VisibleHTML(%q) = nil error, want one", bad)
		}
	}
	// Without parse_mode the text is shown as it is.
	s := NewServer(Options{})
	defer s.Close()
	if code, _ := call(t, s, "sendMessage", url.Values{"chat_id": {"55"}, "text": {"a <b>b"}}); code != 200 || s.Visible(55) != "a <b>b" {
		t.Errorf("plain sendMessage: %d, visible %q, want 200 and %q", code, s.Visible(55), "a <b>b")
	}
}

type apiReply struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func call(t *testing.T, s *Server, method string, p url.Values) (int, apiReply) {
	t.Helper()
	resp, err := http.PostForm(strings.Replace(strings.Replace(s.Endpoint(), "%s", s.Token(), 1), "%s", method, 1), p)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r apiReply
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v in %s", method, err, b)
	}
	return resp.StatusCode, r
}

// TestWire: the answers as Telegram shapes them.
func TestWire(t *testing.T) {
	var seen []Request
	s := NewServer(Options{OnRequest: func(r Request) { seen = append(seen, r) }})
	defer s.Close()
	for i := range 4 {
		code, r := call(t, s, "sendMessage", url.Values{"chat_id": {"55"}, "text": {"hi " + string(rune('a'+i))}})
		if i < 3 && (code != 200 || !r.OK) {
			t.Fatalf("send %d: %d %+v", i, code, r)
		}
		if i == 3 && (code != 429 || r.ErrorCode != 429 || r.Parameters.RetryAfter != 1 || r.Description != "Too Many Requests: retry after 1") {
			t.Errorf("send over the private bucket: %d %+v, want 429 retry after 1", code, r)
		}
	}
	if st := s.Stats(); st.TooMany[ScopePrivate] != 1 || st.Methods["sendMessage"] != 4 {
		t.Errorf("stats = %+v", st)
	}
	if code, r := call(t, s, "sendMessage", url.Values{"chat_id": {"56"}, "text": {"<b>x"}, "parse_mode": {"HTML"}}); code != 400 || !strings.Contains(r.Description, "can't parse entities") {
		t.Errorf("malformed HTML: %d %+v", code, r)
	}
	if code, r := call(t, s, "editMessageText", url.Values{"chat_id": {"55"}, "message_id": {"1"}, "text": {"hi a"}}); code != 400 || !strings.Contains(r.Description, "message is not modified") {
		t.Errorf("unchanged edit: %d %+v", code, r)
	}
	if code, _ := call(t, s, "deleteMessage", url.Values{"chat_id": {"55"}, "message_id": {"2"}}); code != 200 {
		t.Errorf("delete: %d", code)
	}
	if got := s.Visible(55); got != "hi ahi c" {
		t.Errorf("Visible = %q, want the two messages not deleted", got)
	}
	var kinds []string
	for _, e := range s.Timeline(55) {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "send,send,send,delete" {
		t.Errorf("timeline = %v", kinds)
	}
	if len(seen) != 7 || seen[3].Status != 429 || seen[3].Scope != ScopePrivate || seen[0].MessageID != 1 {
		t.Errorf("OnRequest saw %+v", seen)
	}
	s.FailWith("getMe", 1, Fault{Code: 500, Body: `{"ok":false,"description":"Internal"}`})
	if code, r := call(t, s, "getMe", nil); code != 500 || r.ErrorCode != 0 || r.Description != "Internal" {
		t.Errorf("raw fault: %d %+v", code, r)
	}
	if code, _ := call(t, s, "getMe", nil); code != 200 {
		t.Errorf("getMe after the fault: %d", code)
	}
	s.SetChatMember(-5, 7, "administrator")
	if _, r := call(t, s, "getChatMember", url.Values{"chat_id": {"-5"}, "user_id": {"7"}}); !strings.Contains(string(r.Result), `"administrator"`) {
		t.Errorf("getChatMember = %s", r.Result)
	}
}

// TestLongPoll: a poll blocks until an update comes; the next poll's
// offset confirms it; a second poller ends the first with 409.
func TestLongPoll(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	got := make(chan apiReply, 1)
	go func() {
		_, r := call(t, s, "getUpdates", url.Values{"timeout": {"5"}})
		got <- r
	}()
	<-s.Polled()
	for !s.Polling() {
		time.Sleep(time.Millisecond)
	}
	s.Queue(In{Chat: 55, Text: "hello"})
	r := <-got
	var us []struct {
		UpdateID int `json:"update_id"`
	}
	if err := json.Unmarshal(r.Result, &us); err != nil || len(us) != 1 || us[0].UpdateID != 1001 {
		t.Fatalf("getUpdates = %s, want update 1001", r.Result)
	}
	if s.Pending() != 1 {
		t.Errorf("pending = %d before confirmation, want 1", s.Pending())
	}
	if _, r := call(t, s, "getUpdates", url.Values{"offset": {"1002"}, "timeout": {"0"}}); string(r.Result) != "[]" || s.Pending() != 0 {
		t.Errorf("after confirmation: %s, pending %d", r.Result, s.Pending())
	}
	first := make(chan int, 1)
	go func() {
		code, _ := call(t, s, "getUpdates", url.Values{"timeout": {"5"}})
		first <- code
	}()
	for !s.Polling() {
		time.Sleep(time.Millisecond)
	}
	second := make(chan int, 1)
	go func() {
		code, _ := call(t, s, "getUpdates", url.Values{"timeout": {"0"}})
		second <- code
	}()
	if code := <-first; code != http.StatusConflict {
		t.Errorf("older poll = %d, want 409", code)
	}
	if code := <-second; code != http.StatusOK {
		t.Errorf("newer poll = %d, want 200", code)
	}
}
