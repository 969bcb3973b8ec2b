package slacktest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, s *Server, method string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	if form.Get("token") == "" {
		form.Set("token", s.Options().BotToken)
	}
	req := httptest.NewRequest("POST", s.Options().Prefix+"/api/"+method, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

// TestRateLimits checks the fake's rate limits over HTTP: 50 chat.update
// per minute for the whole workspace, chat.postMessage 1/s per channel
// with a burst of 3, each answered 429 with an integer Retry-After and
// {"ok":false,"error":"ratelimited"}. (Moved from cmd/bridge-load's
// TestSlackLimits with the fake.)
func TestRateLimits(t *testing.T) {
	tests := map[string]struct {
		method  string
		convs   int
		n       int // requests, conversation i%convs
		allowed int
		scope   string
	}{
		"chat.update 50 per minute per workspace":  {method: "chat.update", convs: 7, n: 55, allowed: DefaultLimits.UpdatePerMinute, scope: "workspace"},
		"chat.postMessage burst of 3 per channel":  {method: "chat.postMessage", convs: 1, n: 5, allowed: DefaultLimits.PostBurst, scope: "channel"},
		"chat.postMessage per channel, not shared": {method: "chat.postMessage", convs: 20, n: 20, allowed: 20},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := time.Unix(1800000000, 0)
			s := New(Options{RateLimits: true, Now: func() time.Time { return now }})
			ts := make([]string, tc.convs)
			for i := range tc.convs {
				// A message to update, posted before the limits apply.
				s.opts.RateLimits = false
				w := call(t, s, "chat.postMessage", url.Values{"channel": {"C" + strconv.Itoa(i)}, "text": {"first"}})
				s.opts.RateLimits = true
				var got struct{ TS string }
				_ = json.Unmarshal(w.Body.Bytes(), &got)
				ts[i] = got.TS
			}
			s.lim.init(s.opts.Limits)
			got := 0
			for k := range tc.n {
				i := k % tc.convs
				w := call(t, s, tc.method, url.Values{"channel": {"C" + strconv.Itoa(i)}, "text": {"hello"}, "ts": {ts[i]}})
				switch w.Code {
				case 200:
					if !strings.Contains(w.Body.String(), `"ok":true`) {
						t.Fatalf("request %d: %s", k, w.Body)
					}
					got++
				case 429:
					ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
					if err != nil || ra < 1 || ra > 60 {
						t.Errorf("request %d: Retry-After %q, want whole seconds 1..60", k, w.Header().Get("Retry-After"))
					}
					if b := strings.TrimSpace(w.Body.String()); b != `{"ok":false,"error":"ratelimited"}` {
						t.Errorf("request %d: body %s", k, b)
					}
				default:
					t.Fatalf("request %d: status %d %s", k, w.Code, w.Body)
				}
			}
			if got != tc.allowed || s.TooMany() != tc.n-tc.allowed {
				t.Errorf("allowed %d, 429s %d; want %d and %d", got, s.TooMany(), tc.allowed, tc.n-tc.allowed)
			}
			if tc.scope != "" && s.Limited()[tc.method+" "+tc.scope] != tc.n-tc.allowed {
				t.Errorf("Limited() = %v, want %d under %q", s.Limited(), tc.n-tc.allowed, tc.method+" "+tc.scope)
			}
			// A minute later the limits have room again.
			now = now.Add(Window)
			if d := s.WouldLimit(tc.method, "C0", now); d != 0 {
				t.Errorf("WouldLimit a minute later = %v, want 0", d)
			}
		})
	}
}

// Retry-After is the time until the limit has room, rounded up.
func TestRetryAfter(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := New(Options{RateLimits: true, Now: func() time.Time { return now }})
	for range 3 {
		if w := call(t, s, "chat.postMessage", url.Values{"channel": {"C1"}, "text": {"x"}}); w.Code != 200 {
			t.Fatalf("post = %d", w.Code)
		}
	}
	now = now.Add(300 * time.Millisecond)
	if d := s.WouldLimit("chat.postMessage", "C1", now); d != 700*time.Millisecond {
		t.Errorf("WouldLimit = %v, want 700ms", d)
	}
	w := call(t, s, "chat.postMessage", url.Values{"channel": {"C1"}, "text": {"x"}})
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("4th post = %d Retry-After %q, want 429, 1", w.Code, w.Header().Get("Retry-After"))
	}
	now = now.Add(700 * time.Millisecond)
	if w := call(t, s, "chat.postMessage", url.Values{"channel": {"C1"}, "text": {"x"}}); w.Code != 200 {
		t.Errorf("post after Retry-After = %d, want 200", w.Code)
	}
}

// The timeline shows each version of a message; streams show their
// markdown until an update clears the blocks; checks refuse what Slack
// refuses.
func TestTimeline(t *testing.T) {
	s := New(Options{})
	var got struct {
		OK    bool
		TS    string
		Error string
	}
	decode := func(w *httptest.ResponseRecorder) {
		got.OK, got.TS, got.Error = false, "", ""
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
	}
	decode(call(t, s, "chat.postMessage", url.Values{"channel": {"C1"}, "thread_ts": {"1.1"}, "text": {"Hel"}}))
	ts := got.TS
	decode(call(t, s, "chat.update", url.Values{"channel": {"C1"}, "ts": {ts}, "text": {"Hello"}}))
	decode(call(t, s, "chat.update", url.Values{"channel": {"C1"}, "ts": {"9.9"}, "text": {"x"}}))
	if got.Error != "message_not_found" {
		t.Errorf("update of an unknown ts: %+v, want message_not_found", got)
	}
	decode(call(t, s, "chat.postMessage", url.Values{"channel": {"C1"}, "text": {strings.Repeat("a", MaxText+1)}}))
	if got.Error != "msg_too_long" {
		t.Errorf("post of %d characters: %+v, want msg_too_long", MaxText+1, got)
	}
	decode(call(t, s, "chat.startStream", url.Values{"channel": {"C1"}, "thread_ts": {"1.1"}, "markdown_text": {"a"}}))
	if got.Error != "invalid_arguments" {
		t.Errorf("startStream in a channel without recipient: %+v, want invalid_arguments", got)
	}
	decode(call(t, s, "chat.startStream", url.Values{"channel": {"D1"}, "thread_ts": {"2.1"}, "markdown_text": {"a"}}))
	st := got.TS
	decode(call(t, s, "chat.update", url.Values{"channel": {"D1"}, "ts": {st}, "text": {"x"}}))
	if got.Error != "message_is_streaming" {
		t.Errorf("update of a live stream: %+v, want message_is_streaming", got)
	}
	call(t, s, "chat.appendStream", url.Values{"channel": {"D1"}, "ts": {st}, "markdown_text": {"b"}})
	call(t, s, "chat.stopStream", url.Values{"channel": {"D1"}, "ts": {st}, "markdown_text": {"c"}})
	if v := s.Visible("D1", ""); len(v) != 1 || v[0] != "abc" {
		t.Errorf("stream visible = %q, want abc", v)
	}
	call(t, s, "chat.update", url.Values{"channel": {"D1"}, "ts": {st}, "text": {"final"}, "blocks": {"[]"}})
	msgs := s.Messages("D1", "")
	if len(msgs) != 1 || msgs[0].Visible() != "final" || strings.Join(msgs[0].Versions, "|") != "a|ab|abc|final" {
		t.Errorf("stream message = %+v, want versions a|ab|abc|final", msgs)
	}
	m := s.Messages("C1", "1.1")
	if len(m) != 1 || strings.Join(m[0].Versions, "|") != "Hel|Hello" {
		t.Errorf("C1 messages = %+v, want one with versions Hel|Hello", m)
	}
	if !s.DeleteMessage("C1", ts) {
		t.Fatal("DeleteMessage = false")
	}
	decode(call(t, s, "chat.update", url.Values{"channel": {"C1"}, "ts": {ts}, "text": {"again"}}))
	if got.Error != "message_not_found" || len(s.Visible("C1", "")) != 0 {
		t.Errorf("update of a deleted message: %+v, visible %q; want message_not_found and nothing", got, s.Visible("C1", ""))
	}
	if tl := s.Timeline("C1"); len(tl) != 3 || tl[2].Method != "user.delete" {
		t.Errorf("C1 timeline = %+v, want post, update, delete", tl)
	}
	if n := s.Errors()["chat.update message_not_found"]; n != 2 {
		t.Errorf("Errors() = %v, want 2 chat.update message_not_found", s.Errors())
	}
}

// Faults: scripted refusals, 429s with Retry-After and hang-ups.
func TestFail(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.Fail("auth.test", 2, Fault{Status: 503})
	s.Fail("auth.test", 1, Fault{Status: 429, RetryAfter: 2 * time.Second})
	s.Fail("auth.test", 1, Fault{Hangup: true})
	post := func() (*http.Response, error) {
		return http.PostForm(s.APIURL()+"auth.test", url.Values{"token": {DefaultBotToken}})
	}
	for i, want := range []int{503, 503, 429} {
		resp, err := post()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || (want == 429 && resp.Header.Get("Retry-After") != "2") {
			t.Errorf("call %d = %d (Retry-After %q), want %d", i, resp.StatusCode, resp.Header.Get("Retry-After"), want)
		}
	}
	if resp, err := post(); err == nil {
		resp.Body.Close()
		t.Errorf("hang-up answered %d, want a network error", resp.StatusCode)
	}
	resp, err := post()
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		OK     bool
		UserID string `json:"user_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&b)
	resp.Body.Close()
	if !b.OK || b.UserID != DefaultBotUser {
		t.Errorf("auth.test after the faults = %+v, want ok for %s", b, DefaultBotUser)
	}
	if n := s.Count("auth.test"); n != 5 {
		t.Errorf("Count(auth.test) = %d, want 5", n)
	}
}
