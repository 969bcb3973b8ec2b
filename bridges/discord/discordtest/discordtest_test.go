package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func do(t *testing.T, s *Server, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, s.APIPath()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bot "+s.Token())
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

type limited struct {
	Message    string  `json:"message"`
	RetryAfter float64 `json:"retry_after"`
	Global     bool    `json:"global"`
}

func TestRouteBucket(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := New(Options{Now: c.now})
	for i := range 5 {
		w := do(t, s, "POST", "channels/C1/messages", `{"content":"hi"}`)
		if w.Code != 200 {
			t.Fatalf("post %d: %d %s", i, w.Code, w.Body)
		}
		h := w.Header()
		if h.Get("X-RateLimit-Limit") != "5" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(4-i) ||
			h.Get("X-RateLimit-Reset-After") != "5.000" || h.Get("X-RateLimit-Bucket") == "" || h.Get("X-RateLimit-Reset") == "" {
			t.Errorf("post %d: headers %v", i, h)
		}
	}
	// Another channel and the edits of C1 have buckets of their own.
	if w := do(t, s, "POST", "channels/C2/messages", `{"content":"hi"}`); w.Code != 200 {
		t.Errorf("post in C2 = %d, want 200 (a bucket per channel)", w.Code)
	}
	id := s.Messages("C1")[0].ID
	if w := do(t, s, "PATCH", "channels/C1/messages/"+id, `{"content":"edited"}`); w.Code != 200 {
		t.Errorf("edit in C1 = %d, want 200 (edits are a bucket of their own)", w.Code)
	}
	c.add(2 * time.Second)
	w := do(t, s, "POST", "channels/C1/messages", `{"content":"sixth"}`)
	var b limited
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || w.Code != 429 || b.Message != "You are being rate limited." ||
		b.RetryAfter != 3 || b.Global || w.Header().Get("Retry-After") != "3" || w.Header().Get("X-RateLimit-Scope") != "user" ||
		w.Header().Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("sixth post = %d %s %v, want Discord's 429 with retry_after 3", w.Code, w.Body, w.Header())
	}
	if n := len(s.Messages("C1")); n != 5 {
		t.Errorf("%d messages in C1, want 5: a limited request has no effect", n)
	}
	c.add(3 * time.Second)
	if w := do(t, s, "POST", "channels/C1/messages", `{"content":"later"}`); w.Code != 200 {
		t.Errorf("post after the window = %d, want 200", w.Code)
	}
	if got := s.TooMany(); got["user"] != 1 || got["global"] != 0 {
		t.Errorf("TooMany() = %v, want 1 user", got)
	}
}

func TestGlobalLimit(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := New(Options{Now: c.now})
	ok := 0
	for i := range 60 {
		w := do(t, s, "POST", fmt.Sprintf("channels/C%d/typing", i), "")
		switch w.Code {
		case 204:
			ok++
		case 429:
			var b limited
			_ = json.Unmarshal(w.Body.Bytes(), &b)
			if !b.Global || w.Header().Get("X-RateLimit-Global") != "true" || w.Header().Get("X-RateLimit-Scope") != "global" ||
				w.Header().Get("Retry-After") != "1" || w.Header().Get("X-RateLimit-Reset-After") != "" {
				t.Errorf("request %d: 429 %s %v, want a global 429", i, w.Body, w.Header())
			}
		default:
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	if ok != GlobalLimit {
		t.Errorf("%d of 60 requests in one second allowed, want %d", ok, GlobalLimit)
	}
	// Interaction responses do not count.
	s.AddInteraction("1", "tok", "C1")
	if w := do(t, s, "POST", "interactions/1/tok/callback", `{"type":5}`); w.Code != 204 {
		t.Errorf("interaction callback = %d, want 204 (exempt from the global limit)", w.Code)
	}
	c.add(time.Second)
	if w := do(t, s, "GET", "users/@me", ""); w.Code != 200 {
		t.Errorf("a second later = %d, want 200", w.Code)
	}
}

func TestNoRateLimits(t *testing.T) {
	s := New(Options{NoRateLimits: true})
	for i := range 100 {
		w := do(t, s, "POST", "channels/C1/messages", `{"content":"hi"}`)
		if w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("post %d = %d %v, want 200 without rate-limit headers", i, w.Code, w.Header())
		}
	}
}

func TestFaultsAndTimeline(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := New(Options{NoRateLimits: true, Now: c.now})
	s.Fail("POST /channels/{channel}/messages", 1, 403, 50013, "Missing Permissions")
	if w := do(t, s, "POST", "channels/C1/messages", `{"content":"a"}`); w.Code != 403 || !strings.Contains(w.Body.String(), "50013") {
		t.Errorf("first post = %d %s, want the injected 403", w.Code, w.Body)
	}
	s.RateLimit("", 1, 1500*time.Millisecond, "shared")
	if w := do(t, s, "POST", "channels/C1/messages", `{"content":"a"}`); w.Code != 429 || w.Header().Get("X-RateLimit-Scope") != "shared" || w.Header().Get("Retry-After") != "2" {
		t.Errorf("second post = %d %v, want the injected shared 429", w.Code, w.Header())
	}
	w := do(t, s, "POST", "channels/C1/messages", `{"content":"a","message_reference":{"message_id":"42"}}`)
	if w.Code != 200 {
		t.Fatalf("third post = %d", w.Code)
	}
	m := s.Messages("C1")[0]
	do(t, s, "PATCH", "channels/C1/messages/"+m.ID, `{"content":"ab"}`)
	if w := do(t, s, "PATCH", "channels/C1/messages/"+m.ID, `{"content":"`+strings.Repeat("x", 2001)+`"}`); w.Code != 400 || !strings.Contains(w.Body.String(), "50035") {
		t.Errorf("edit over 2000 = %d %s, want 50035", w.Code, w.Body)
	}
	if w := do(t, s, "POST", "channels/C1/messages/42/threads", `{"name":"q"}`); w.Code != 201 || !strings.Contains(w.Body.String(), `"id":"42"`) {
		t.Errorf("thread start = %d %s, want thread 42 (the message's ID)", w.Code, w.Body)
	}
	do(t, s, "DELETE", "channels/C1/messages/"+m.ID, "")
	var kinds []string
	for _, e := range s.Timeline("C1") {
		kinds = append(kinds, e.Kind+":"+e.Content)
	}
	if got, want := strings.Join(kinds, " "), "post:a edit:ab thread:q delete:"; got != want {
		t.Errorf("timeline = %q, want %q", got, want)
	}
	if got, _ := s.Message(m.ID); got.ReplyTo != "42" || got.Edits() != 1 || !got.Deleted || len(s.Messages("C1")) != 0 {
		t.Errorf("message = %+v, want a deleted reply to 42 edited once", got)
	}
	// An interaction token expires after 15 minutes.
	s.AddInteraction("7", "tok7", "C2")
	c.add(InteractionTTL + time.Second)
	if w := do(t, s, "POST", "interactions/7/tok7/callback", `{"type":5}`); w.Code != 401 {
		t.Errorf("callback after 15 min = %d, want 401", w.Code)
	}
	if got := s.Counts()["POST /channels/{channel}/messages"]; got != 3 {
		t.Errorf("Counts()[POST messages] = %d, want 3", got)
	}
}

func TestUnauthorised(t *testing.T) {
	s := New(Options{})
	req := httptest.NewRequest("GET", s.APIPath()+"users/@me", nil)
	req.Header.Set("Authorization", "Bot wrong")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("wrong token = %d, want 401", w.Code)
	}
}

// TestPermissionsIn: member.permissions as Discord computes them, and an
// INTERACTION_CREATE's member filled in with them.
func TestPermissionsIn(t *testing.T) {
	s := New(Options{Token: "t", Prefix: "/p", NoRateLimits: true})
	s.SetGuild(Guild{ID: "G", OwnerID: "1", Roles: []Role{
		{ID: "G", Permissions: 1 << 10},
		{ID: "M", Permissions: PermManageMessages},
		{ID: "A", Permissions: PermAdministrator},
	}})
	s.AddChannel(Channel{ID: "C", GuildID: "G", PermissionOverwrites: []Overwrite{
		{ID: "G", Type: 0, Deny: 1 << 10},
		{ID: "M", Type: 0, Deny: PermManageMessages},
		{ID: "9", Type: 1, Allow: PermManageMessages},
	}})
	s.AddChannel(Channel{ID: "T", Type: 11, ParentID: "C", GuildID: "G"})
	for _, tt := range []struct {
		channel, user string
		roles         []string
		want          int64
	}{
		{"X", "5", nil, 1 << 10},
		{"X", "5", []string{"M"}, 1<<10 | PermManageMessages},
		{"C", "5", []string{"M"}, 0},
		{"T", "5", []string{"M"}, 0},
		{"C", "9", []string{"M"}, PermManageMessages},
		{"C", "5", []string{"M", "A"}, permAll},
		{"C", "1", nil, permAll},
	} {
		if got := s.PermissionsIn("G", tt.channel, tt.user, tt.roles); got != tt.want {
			t.Errorf("PermissionsIn(%s, %s, %v) = %d, want %d", tt.channel, tt.user, tt.roles, got, tt.want)
		}
	}
	s.SetMember("G", "7", "M")
	b, _ := json.Marshal(Command("1", "tok", "X", "G", "7", "reset", ""))
	s.mu.Lock()
	out := s.fillMemberLocked(b)
	s.mu.Unlock()
	var ev struct {
		Member struct {
			Roles       []string `json:"roles"`
			Permissions string   `json:"permissions"`
		} `json:"member"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(1<<10 | PermManageMessages); len(ev.Member.Roles) != 1 || ev.Member.Permissions != want {
		t.Errorf("filled member = %+v, want roles [M] and permissions %s", ev.Member, want)
	}
}
