package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
)

// testTiming scales the adapter's pacing down for tests; the fake's
// limits are scaled alike in the tests that check budgets.
func testTiming() timing {
	return timing{
		privateEdit: 100 * time.Millisecond, groupEdit: 150 * time.Millisecond, draftEdit: 50 * time.Millisecond,
		privateEvery: 100 * time.Millisecond, privateBurst: 2,
		groupEvery: 320 * time.Millisecond, groupBurst: 0,
		botEvery: 2 * time.Millisecond, botBurst: 20,
		backoff: 20 * time.Millisecond, maxBackoff: 200 * time.Millisecond,
		callTimeout: 10 * time.Second, leaderEvery: 20 * time.Millisecond,
	}
}

type harness struct {
	f    *telegramtest.Server
	a    *Adapter
	kv   *bridgestest.KV
	logs *logtest.Buffer
}

// newHarness returns an adapter pointed at a fresh fake (or f).
func newHarness(t *testing.T, f *telegramtest.Server, mod func(*Config, *bridges.Deps)) *harness {
	t.Helper()
	if f == nil {
		f = newFake(t, telegramtest.Options{})
	}
	logs := &logtest.Buffer{}
	kv := bridgestest.NewKV()
	cfg := Config{Token: bridges.Secret(backendSecret(f.Token())), APIEndpoint: f.Endpoint(), PollTimeout: time.Second}
	deps := bridges.Deps{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), KV: kv}
	if mod != nil {
		mod(&cfg, &deps)
	}
	a, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.timing = testTiming()
	if k, ok := deps.KV.(*bridgestest.KV); ok {
		kv = k
	}
	return &harness{f: f, a: a, kv: kv, logs: logs}
}

// run starts a.Run in the background; the returned func stops it and
// returns Run's error.
func run(t *testing.T, a *Adapter, h bridges.Handler) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, h) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestNew(t *testing.T) {
	mux := http.NewServeMux()
	tests := map[string]struct {
		cfg     Config
		mux     bool
		wantErr string
	}{
		"ok":                {cfg: Config{Token: secret("1:a")}},
		"no token":          {cfg: Config{}, wantErr: "token is required"},
		"endpoint one %s":   {cfg: Config{Token: secret("1:a"), APIEndpoint: "http://x/bot%s"}, wantErr: "api_endpoint"},
		"endpoint not http": {cfg: Config{Token: secret("1:a"), APIEndpoint: "ftp://x/bot%s/%s"}, wantErr: "api_endpoint"},
		"bad scope":         {cfg: Config{Token: secret("1:a"), Scope: "guild"}, wantErr: "scope"},
		"webhook no mux":    {cfg: Config{Token: secret("1:a"), WebhookURL: "https://example.org/tg"}, wantErr: "webhook_url"},
		"webhook bad url":   {cfg: Config{Token: secret("1:a"), WebhookURL: "example.org/tg"}, mux: true, wantErr: "webhook_url"},
		"webhook bad secret": {cfg: Config{Token: secret("1:a"), WebhookURL: "https://example.org/tg", WebhookSecret: secret("a b")},
			mux: true, wantErr: "webhook_secret"},
		"webhook ok": {cfg: Config{Token: secret("1:a"), WebhookURL: "https://example.org/tg/main"}, mux: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			deps := bridges.Deps{}
			if tt.mux {
				deps.Mux = mux
			}
			_, err := New(tt.cfg, deps)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("New() error = %v, want containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "1:a") {
				t.Errorf("New() error %q reveals the token", err)
			}
			if err != nil && strings.HasPrefix(err.Error(), "telegram") {
				t.Errorf("New() error %q repeats the platform (cmd/bridge names the table)", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	if !c.drafts() || c.name() != "main" || c.endpoint() != DefaultAPIEndpoint || c.pollTimeout() != 30*time.Second || c.Scope != "" {
		t.Errorf("zero Config defaults wrong: drafts=%v name=%q endpoint=%q poll=%s scope=%q",
			c.drafts(), c.name(), c.endpoint(), c.pollTimeout(), c.Scope)
	}
	off := false
	c.Drafts = &off
	if c.drafts() {
		t.Errorf("drafts = false not honoured")
	}
}

// TestTranslate covers who is answered and how Text and Key are formed.
func TestTranslate(t *testing.T) {
	h := newHarness(t, nil, nil)
	me := botUser(h.f)
	h.a.me.Store(&me)
	const group = -100123
	tests := map[string]struct {
		msg    map[string]any
		x      extra
		edited bool             // an edited_message update
		want   *bridges.Message // nil: ignored
		reply  *repliedMsg      // the replied-to message in Ref, if any
	}{
		"private text": {
			msg:  msgJSON(55, "private", 7, "hello"),
			want: &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Text: "hello", Private: true},
		},
		"group plain": {
			msg:  msgJSON(group, "supergroup", 7, "hello all"),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "hello all"},
		},
		"group mention entity": {
			msg:  with(msgJSON(group, "supergroup", 7, "@test_bot what is up?"), "entities", []tgbotapi.MessageEntity{{Type: "mention", Offset: 0, Length: 9}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "what is up?", Mentioned: true},
		},
		"group mention middle, emoji before": {
			msg:  with(msgJSON(group, "supergroup", 7, "😀 hey @Test_Bot, tell me"), "entities", []tgbotapi.MessageEntity{{Type: "mention", Offset: 7, Length: 9}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "😀 hey, tell me", Mentioned: true},
		},
		"substring is not a mention": {
			msg:  msgJSON(group, "supergroup", 7, "email test_bot@example.org or @test_bot"),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "email test_bot@example.org or @test_bot"},
		},
		"mention of another user": {
			msg:  with(msgJSON(group, "supergroup", 7, "@other_bot hi"), "entities", []tgbotapi.MessageEntity{{Type: "mention", Offset: 0, Length: 10}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "@other_bot hi"},
		},
		"text_mention": {
			msg:  with(msgJSON(group, "supergroup", 7, "Test Bot explain"), "entities", []map[string]any{{"type": "text_mention", "offset": 0, "length": 8, "user": map[string]any{"id": 4242, "is_bot": true, "first_name": "Test Bot"}}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "explain", Mentioned: true},
		},
		"reply to bot": {
			msg:  with(msgJSON(group, "supergroup", 7, "and then?"), "reply_to_message", map[string]any{"message_id": 3, "date": 1, "chat": map[string]any{"id": group, "type": "supergroup"}, "from": map[string]any{"id": 4242, "is_bot": true, "first_name": "Test Bot"}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "and then?", ReplyToBot: true, ReplyToID: "3"},
		},
		"topic root is not a reply": {
			msg:  with(msgJSON(group, "supergroup", 7, "in topic"), "reply_to_message", map[string]any{"message_id": 9, "date": 1, "chat": map[string]any{"id": group, "type": "supergroup"}, "from": map[string]any{"id": 4242, "is_bot": true, "first_name": "Test Bot"}}),
			x:    extra{MessageThreadID: 9, IsTopicMessage: true},
			want: &bridges.Message{Key: key("-100123", "9"), ChatID: "-100123", ThreadID: "9", UserID: "7", Text: "in topic", InThread: true},
		},
		"command with bot name": {
			msg:  with(msgJSON(group, "supergroup", 7, "/reset@test_bot"), "entities", []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: 15}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "/reset", Command: "reset", Directed: true},
		},
		"command for another bot": {
			msg: with(msgJSON(group, "supergroup", 7, "/reset@otherbot"), "entities", []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: 15}}),
		},
		"ask command": {
			msg:  with(msgJSON(group, "supergroup", 7, "/ask what is 2+2?"), "entities", []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: 4}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "/ask what is 2+2?", Command: "ask"},
		},
		"ask command with name and mention inside": {
			msg: with(msgJSON(group, "supergroup", 7, "/ask@test_bot hi @test_bot now"), "entities", []tgbotapi.MessageEntity{
				{Type: "bot_command", Offset: 0, Length: 13}, {Type: "mention", Offset: 17, Length: 9}}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "/ask hi now", Command: "ask", Directed: true, Mentioned: true},
		},
		"start is help": {
			msg:  with(msgJSON(55, "private", 7, "/start payload"), "entities", []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: 6}}),
			want: &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Text: "/start payload", Private: true, Command: "start"},
		},
		"from a bot": {
			msg: with(msgJSON(group, "supergroup", 7, "@test_bot hi"), "from", map[string]any{"id": 99, "is_bot": true, "first_name": "B"}),
		},
		"anonymous admin": {
			msg: with(with(msgJSON(group, "supergroup", 7, "/ask x"), "entities", []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: 4}}),
				"sender_chat", map[string]any{"id": group, "type": "supergroup", "title": "G"}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "-100123", UserName: "G", Text: "/ask x", Command: "ask"},
		},
		"only a mention": {
			msg: with(msgJSON(group, "supergroup", 7, "@test_bot"), "entities", []tgbotapi.MessageEntity{{Type: "mention", Offset: 0, Length: 9}}),
		},
		"caption": {
			msg:  with(with(msgJSON(55, "private", 7, ""), "caption", "what is this?"), "photo", []map[string]any{{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}}),
			want: &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Text: "what is this?", Private: true},
		},
		"sticker": {msg: msgJSON(55, "private", 7, "")},
		// Issue 16's facts.
		"reply to a user": {
			msg: with(msgJSON(group, "supergroup", 7, "@test_bot is that right?"), "reply_to_message", map[string]any{"message_id": 4, "date": 1, "chat": map[string]any{"id": group, "type": "supergroup"},
				"from": map[string]any{"id": 8, "is_bot": false, "first_name": "Bo"}, "text": "@test_bot the sky is green", "entities": []tgbotapi.MessageEntity{{Type: "mention", Offset: 0, Length: 9}}}),
			want:  &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", Text: "@test_bot is that right?", InThread: true, ReplyToID: "4"},
			reply: &repliedMsg{ID: 4, Author: "Bo", Text: "the sky is green", Date: 1},
		},
		"language_code": {
			msg:  with(msgJSON(55, "private", 7, "hallo"), "from", map[string]any{"id": 7, "is_bot": false, "first_name": "U", "language_code": "de"}),
			want: &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Text: "hallo", Private: true, Locale: "de"},
		},
		"photo without caption": {
			msg:  with(msgJSON(55, "private", 7, ""), "photo", []map[string]any{{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}}),
			want: &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Private: true, NonText: true},
		},
		"a real sticker": {
			msg:  with(msgJSON(group, "supergroup", 7, ""), "sticker", map[string]any{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1, "is_animated": false}),
			want: &bridges.Message{Key: key("-100123", ""), ChatID: "-100123", UserID: "7", NonText: true},
		},
		"document": {
			msg:  with(msgJSON(55, "private", 7, ""), "document", map[string]any{"file_id": "x", "file_unique_id": "y"}),
			want: &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Private: true, NonText: true},
		},
		"voice": {
			msg:  with(msgJSON(55, "private", 7, ""), "voice", map[string]any{"file_id": "x", "file_unique_id": "y", "duration": 2}),
			want: &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Private: true, NonText: true},
		},
		"edited": {
			msg:    with(msgJSON(55, "private", 7, "new text"), "edit_date", 5),
			edited: true,
			want:   &bridges.Message{Key: key("55", ""), ChatID: "55", UserID: "7", Text: "new text", Private: true, Edited: true},
		},
		"edited to a bare photo": {
			msg:    with(msgJSON(55, "private", 7, ""), "photo", []map[string]any{{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}}),
			edited: true,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			kind := "message"
			if tt.edited {
				kind = "edited_message"
			}
			raw := mustJSON(t, map[string]any{"update_id": 1, kind: tt.msg})
			u, err := decodeUpdate(raw)
			if err != nil {
				t.Fatal(err)
			}
			if tt.x != (extra{}) {
				u.extra = tt.x
			}
			got, ok := h.a.translate(u)
			if tt.want == nil {
				if ok {
					t.Fatalf("translate() = %+v, want ignored", got)
				}
				return
			}
			if !ok {
				t.Fatalf("translate() ignored the message, want %+v", *tt.want)
			}
			if diff := cmp.Diff(*tt.want, got, cmpopts.IgnoreFields(bridges.Message{}, "ID", "Time", "UserName", "Ref")); diff != "" {
				t.Errorf("translate() mismatch (-want +got):\n%s", diff)
			}
			// Ref carries the replied-to message (for ThreadHistory).
			if r := refOf(&got); (r != nil && r.Reply != nil) != (got.ReplyToID != "") {
				t.Errorf("Ref = %+v, want the replied-to message exactly for a reply (ReplyToID %q)", got.Ref, got.ReplyToID)
			} else if tt.reply != nil {
				if diff := cmp.Diff(tt.reply, r.Reply); diff != "" {
					t.Errorf("the replied-to message (-want +got):\n%s", diff)
				}
			}
			if tt.want.UserName != "" && got.UserName != tt.want.UserName {
				t.Errorf("UserName = %q, want %q", got.UserName, tt.want.UserName)
			}
		})
	}
}

func TestTranslateScopeAndAllowed(t *testing.T) {
	h := newHarness(t, nil, func(c *Config, _ *bridges.Deps) {
		c.Scope = "user"
		c.AllowedChats = []int64{-100123, 55}
	})
	me := botUser(h.f)
	h.a.me.Store(&me)
	u := func(chat int64, typ string) update {
		x, err := decodeUpdate(mustJSON(t, map[string]any{"update_id": 1, "message": msgJSON(chat, typ, 7, "hi")}))
		if err != nil {
			t.Fatal(err)
		}
		x.extra = extra{MessageThreadID: 5, IsTopicMessage: true}
		return x
	}
	m, ok := h.a.translate(u(-100123, "supergroup"))
	// The adapter reports the chat's key; the core keys by user.
	if !ok || m.Key != (bridges.Key{Platform: "telegram", Instance: "main", Chat: "-100123", Thread: "5"}) || m.ThreadID != "5" {
		t.Errorf("scope=user: translate() = %+v, %v; want the topic's key, reply in topic 5", m, ok)
	}
	if got := bridges.Admit(&m, "mention", "user").Key; got != (bridges.Key{Platform: "telegram", Instance: "main", Chat: "7"}) {
		t.Errorf("scope=user: Admit key = %v, want key by user 7", got)
	}
	if _, ok := h.a.translate(u(-100999, "supergroup")); ok {
		t.Errorf("a chat not in allowed_chats was not ignored")
	}
}

// TestPollDelivers runs the real poll loop against the fake: messages are
// delivered in order, the offset is confirmed and persisted, commands are
// registered.
func TestPollDelivers(t *testing.T) {
	h := newHarness(t, nil, nil)
	rec := &bridgestest.Recorder{}
	stop := run(t, h.a, rec)
	h.f.Queue(in{Chat: 55, Text: "one"})
	h.f.Queue(in{Chat: 55, Text: "two"})
	bridgestest.WaitFor(t, "two messages", 5*time.Second, func() bool { return len(rec.Got()) == 2 })
	got := rec.Got()
	if got[0].Text != "one" || got[1].Text != "two" {
		t.Errorf("delivered %q, %q; want one, two", got[0].Text, got[1].Text)
	}
	bridgestest.WaitFor(t, "offset confirmed", 5*time.Second, func() bool { return h.f.Pending() == 0 })
	if err := stop(); err != nil {
		t.Errorf("Run() = %v, want nil after cancel", err)
	}
	if b, ok, _ := h.kv.Get(offsetKey); !ok || string(b) != "1003" {
		t.Errorf("persisted offset = %q, %v; want 1003", b, ok)
	}
	// One default menu (no language_code), and one per language.
	defaults := 0
	for _, p := range h.f.Calls("setMyCommands") {
		if p.Get("language_code") == "" {
			defaults++
		}
	}
	if defaults != 1 {
		t.Errorf("setMyCommands without language_code called %d times, want 1", defaults)
	}
	for _, c := range []string{"help", "reset", "new", "stop", "ask"} {
		if !strings.Contains(h.f.Commands(), `"`+c+`"`) {
			t.Errorf("setMyCommands lacks /%s: %s", c, h.f.Commands())
		}
	}
	// The menu is the core's one command table, in its order.
	var menu []struct{ Command, Description string }
	if err := json.Unmarshal([]byte(h.f.Commands()), &menu); err != nil || len(menu) != len(bridges.Commands) {
		t.Fatalf("setMyCommands = %s (%v), want %d commands", h.f.Commands(), err, len(bridges.Commands))
	}
	for i, c := range bridges.Commands {
		if menu[i].Command != c.Name || !strings.HasPrefix(menu[i].Description, c.Help) {
			t.Errorf("menu[%d] = %+v, want /%s %q", i, menu[i], c.Name, c.Help)
		}
	}
	if p := h.f.Calls("getUpdates"); p[0].Get("allowed_updates") != `["message","edited_message"]` || p[0].Get("timeout") != "1" {
		t.Errorf("getUpdates params = %v", p[0])
	}
}

// TestPollCorruptOffset: a stored offset that is no number is logged and
// replaced, not read silently as 0.
func TestPollCorruptOffset(t *testing.T) {
	h := newHarness(t, nil, nil)
	if err := h.kv.Put(offsetKey, []byte("12x\x00")); err != nil {
		t.Fatal(err)
	}
	rec := &bridgestest.Recorder{}
	run(t, h.a, rec)
	h.f.Queue(in{Chat: 55, Text: "after the corruption"})
	bridgestest.WaitFor(t, "the message", 5*time.Second, func() bool { return len(rec.Got()) == 1 })
	if !strings.Contains(h.logs.String(), "level=ERROR") || !strings.Contains(h.logs.String(), "offset is corrupt") {
		t.Errorf("the corrupt offset was not logged as an error:\n%s", h.logs)
	}
	if p := h.f.Calls("getUpdates")[0]; p.Has("offset") {
		t.Errorf("first getUpdates offset = %q, want none (Telegram's oldest)", p.Get("offset"))
	}
	bridgestest.WaitFor(t, "a good offset stored", 5*time.Second, func() bool {
		b, ok, _ := h.kv.Get(offsetKey)
		return ok && string(b) == "1002"
	})
}

// TestPollNotAcceptedIsRedelivered: an update the handler refuses is not
// confirmed; it is delivered again once the handler accepts.
func TestPollNotAcceptedIsRedelivered(t *testing.T) {
	h := newHarness(t, nil, nil)
	rec := &bridgestest.Recorder{}
	rec.SetFail(errors.New("shutting down"))
	run(t, h.a, rec)
	h.f.Queue(in{Chat: 55, Text: "keep me"})
	bridgestest.WaitFor(t, "a refused attempt", 5*time.Second, func() bool { return len(h.f.Calls("getUpdates")) >= 3 })
	if b, ok, _ := h.kv.Get(offsetKey); ok {
		t.Fatalf("offset %s persisted although the update was refused", b)
	}
	rec.SetFail(nil)
	bridgestest.WaitFor(t, "redelivery", 5*time.Second, func() bool { return len(rec.Got()) == 1 })
	if rec.Got()[0].Text != "keep me" {
		t.Errorf("redelivered %q", rec.Got()[0].Text)
	}
}

func TestRunErrors(t *testing.T) {
	t.Run("bad token", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		h.f.SetToken("other:token")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := h.a.Run(ctx, &bridgestest.Recorder{})
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Run() = %v, want ErrUnauthorized", err)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("error reveals the token: %v", err)
		}
	})
	// getUpdates failing n times with code: the adapter keeps polling
	// and delivers what comes after; check looks at the harness and at
	// when Run started.
	failures := []struct {
		name       string
		n, code    int
		desc       string
		retryAfter int
		check      func(t *testing.T, h *harness, start time.Time)
	}{
		{"conflict is logged and retried", 2, 409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", 0,
			func(t *testing.T, h *harness, _ time.Time) {
				if !strings.Contains(h.logs.String(), "another instance is polling") {
					t.Errorf("409 not logged clearly; logs:\n%s", h.logs)
				}
			}},
		{"429 honours retry_after", 1, 429, "Too Many Requests: retry after 1", 1,
			func(t *testing.T, _ *harness, start time.Time) {
				if d := time.Since(start); d < time.Second {
					t.Errorf("delivered after %s, want ≥ retry_after 1s", d)
				}
			}},
		{"5xx without JSON", 1, 502, "Bad Gateway", 0, nil},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			h.f.Fail("getUpdates", tt.n, tt.code, tt.desc, tt.retryAfter)
			rec := &bridgestest.Recorder{}
			start := time.Now()
			run(t, h.a, rec)
			h.f.Queue(in{Chat: 55, Text: "after the failure"})
			bridgestest.WaitFor(t, "message after "+tt.name, 10*time.Second, func() bool { return len(rec.Got()) == 1 })
			if tt.check != nil {
				tt.check(t, h, start)
			}
		})
	}
}

// TestWebhook: setWebhook with the secret, a wrong secret answered 401 and
// not handled, the right one handled; polling again deletes the webhook.
func TestWebhook(t *testing.T) {
	f := newFake(t, telegramtest.Options{})
	mux := http.NewServeMux()
	hook := httptest.NewServer(mux)
	t.Cleanup(hook.Close)
	h := newHarness(t, f, func(c *Config, d *bridges.Deps) {
		c.WebhookURL = hook.URL + "/hook/telegram/main"
		d.Mux = mux
	})
	post := func(secret string) int {
		return postUpdate(t, hook.URL+"/hook/telegram/main", secret, map[string]any{"update_id": 77, "message": msgJSON(55, "private", 55, "via hook")})
	}
	if code := post(h.a.secret); code != http.StatusServiceUnavailable {
		t.Errorf("before Run: status %d, want 503", code)
	}
	rec := &bridgestest.Recorder{}
	stop := run(t, h.a, rec)
	bridgestest.WaitFor(t, "setWebhook", 5*time.Second, func() bool { return len(f.Calls("setWebhook")) == 1 })
	sw := f.Calls("setWebhook")[0]
	if sw.Get("url") != hook.URL+"/hook/telegram/main" || sw.Get("secret_token") == "" || sw.Get("secret_token") != h.a.secret {
		t.Errorf("setWebhook params = %v", sw)
	}
	bridgestest.WaitFor(t, "running", 5*time.Second, func() bool { return h.a.running.Load() != nil })
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: status %d, want 401", code)
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Errorf("no secret: status %d, want 401", code)
	}
	if len(rec.Got()) != 0 {
		t.Fatalf("rejected webhook requests were handled: %+v", rec.Got())
	}
	if code := post(h.a.secret); code != http.StatusOK {
		t.Errorf("right secret: status %d, want 200", code)
	}
	if code := post(h.a.secret); code != http.StatusOK {
		t.Errorf("redelivery: status %d, want 200", code)
	}
	if got := rec.Got(); len(got) != 1 || got[0].Text != "via hook" {
		t.Errorf("handled %+v, want the one update once", got)
	}
	if len(f.Calls("getUpdates")) != 0 {
		t.Errorf("webhook mode polled getUpdates")
	}
	stop()

	// Back to polling: the webhook is deleted first.
	h2 := newHarness(t, f, nil)
	rec2 := &bridgestest.Recorder{}
	run(t, h2.a, rec2)
	bridgestest.WaitFor(t, "deleteWebhook", 5*time.Second, func() bool { return len(f.Calls("deleteWebhook")) == 1 })
	f.Queue(in{Chat: 55, Text: "polled"})
	bridgestest.WaitFor(t, "polled message", 5*time.Second, func() bool { return len(rec2.Got()) == 1 })
}

func TestCheck(t *testing.T) {
	h := newHarness(t, nil, func(c *Config, _ *bridges.Deps) { c.Name = "support" })
	got, err := h.a.Check(context.Background())
	want := "telegram/support: @test_bot (id 4242), privacy mode: on — the bot only sees commands, mentions and replies in groups"
	if err != nil || got != want {
		t.Errorf("Check() = %q, %v; want %q", got, err, want)
	}
	bot := h.f.Bot()
	bot.CanReadAllGroupMessages = true
	h.f.SetBot(bot)
	if got, _ := h.a.Check(context.Background()); !strings.Contains(got, "privacy mode: off") {
		t.Errorf("Check() = %q, want privacy mode: off", got)
	}
}

// --- helpers ---

func secret(s string) bridges.Secret { return backendSecret(s) }

func key(chat, thread string) bridges.Key {
	return bridges.Key{Platform: "telegram", Instance: "main", Chat: chat, Thread: thread}
}

func msgJSON(chat int64, typ string, from int64, text string) map[string]any {
	m := map[string]any{
		"message_id": 10, "date": 1700000000,
		"chat": map[string]any{"id": chat, "type": typ, "title": "G"},
		"from": map[string]any{"id": from, "is_bot": false, "first_name": "U"},
	}
	if text != "" {
		m["text"] = text
	}
	return m
}

func with(m map[string]any, k string, v any) map[string]any {
	c := make(map[string]any, len(m)+1)
	for kk, vv := range m {
		c[kk] = vv
	}
	c[k] = v
	return c
}

// TestConnected: Connected is true once getMe proved the token and the
// poll loop runs — a long poll in flight counts — not only when a
// getUpdates returns; a failing getUpdates makes it false until polling
// works again.
func TestConnected(t *testing.T) {
	t.Run("quiet chat, 30 s poll", func(t *testing.T) {
		h := newHarness(t, nil, func(c *Config, _ *bridges.Deps) { c.PollTimeout = 30 * time.Second })
		if h.a.Connected() {
			t.Fatal("Connected() before Run")
		}
		start := time.Now()
		run(t, h.a, &bridgestest.Recorder{})
		bridgestest.WaitFor(t, "Connected()", 2*time.Second, h.a.Connected)
		if !h.f.Polling() {
			t.Errorf("connected without a long poll in flight")
		}
		t.Logf("connected %s after Run, with the first long poll in flight", time.Since(start).Round(time.Millisecond))
	})
	t.Run("getMe failing", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		h.f.Fail("getMe", -1, 502, "Bad Gateway", 0)
		run(t, h.a, &bridgestest.Recorder{})
		bridgestest.WaitFor(t, "getMe retried", 5*time.Second, func() bool { return len(h.f.Calls("getMe")) >= 3 })
		if h.a.Connected() {
			t.Errorf("Connected() while getMe fails")
		}
	})
	t.Run("getUpdates failing, then healed", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		run(t, h.a, &bridgestest.Recorder{})
		bridgestest.WaitFor(t, "Connected()", 2*time.Second, h.a.Connected)
		h.f.Fail("getUpdates", -1, 502, "Bad Gateway", 0)
		bridgestest.WaitFor(t, "disconnected", 5*time.Second, func() bool { return !h.a.Connected() })
		h.f.Heal("getUpdates")
		bridgestest.WaitFor(t, "connected again", 5*time.Second, h.a.Connected)
	})
}

// TestWebhookDedupePersisted: the webhook's dedupe marks live in the KV,
// so an update redelivered after a restart (another adapter on the same
// KV) is not handled twice, while an update the handler refused is
// handled when Telegram delivers it again.
func TestWebhookDedupePersisted(t *testing.T) {
	f := newFake(t, telegramtest.Options{})
	kv := bridgestest.NewKV()
	start := func(hd bridges.Handler) func() error {
		mux := http.NewServeMux()
		hook := httptest.NewServer(mux)
		t.Cleanup(hook.Close)
		h := newHarness(t, f, func(c *Config, d *bridges.Deps) {
			c.WebhookURL = hook.URL + "/hook/telegram/main"
			c.WebhookSecret = secret("same_secret")
			d.Mux = mux
			d.KV = kv
		})
		stop := run(t, h.a, hd)
		bridgestest.WaitFor(t, "webhook running", 5*time.Second, func() bool {
			return h.a.running.Load() != nil && f.WebhookURL() == hook.URL+"/hook/telegram/main"
		})
		return stop
	}
	rec1 := &bridgestest.Recorder{}
	stop1 := start(rec1)
	f.Queue(in{Chat: 55, Text: "before the restart"})
	bridgestest.WaitFor(t, "the first update", 5*time.Second, func() bool { return len(rec1.Got()) == 1 })
	first := f.LastUpdateID()
	stop1()

	rec2 := &bridgestest.Recorder{}
	var refused atomic.Int32
	start(bridges.HandlerFunc(func(ctx context.Context, m bridges.Message) error {
		if refused.Add(1) == 1 {
			return errors.New("busy")
		}
		return rec2.Handle(ctx, m)
	}))
	if code, err := f.Redeliver(first); err != nil || code != http.StatusOK {
		t.Fatalf("redelivery after the restart: %d, %v; want 200", code, err)
	}
	f.Queue(in{Chat: 55, Text: "refused once"})
	bridgestest.WaitFor(t, "the refused update handled on redelivery", 5*time.Second, func() bool { return len(rec2.Got()) == 1 })
	if code, err := f.Redeliver(f.LastUpdateID()); err != nil || code != http.StatusOK {
		t.Fatalf("second redelivery: %d, %v; want 200", code, err)
	}
	if got := rec2.Got(); len(got) != 1 || got[0].Text != "refused once" || refused.Load() != 2 {
		t.Errorf("after the restart the handler got %+v in %d calls, want only the update refused once, in 2", got, refused.Load())
	}
}

// TestCheckWebhook: in webhook mode, Check reports the configured webhook
// and whether Telegram has it set (getWebhookInfo).
func TestCheckWebhook(t *testing.T) {
	h := newHarness(t, nil, func(c *Config, d *bridges.Deps) {
		c.WebhookURL = "https://bot.example.org/tg/hook"
		d.Mux = http.NewServeMux()
	})
	got, err := h.a.Check(context.Background())
	if err != nil || !strings.Contains(got, "webhook https://bot.example.org/tg/hook served at /tg/hook, not set at Telegram yet") {
		t.Errorf("Check() = %q, %v; want the webhook, not set yet", got, err)
	}
	if _, err := h.a.call(context.Background(), "setWebhook", map[string]string{"url": "https://bot.example.org/tg/hook"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.a.Check(context.Background()); !strings.Contains(got, ", set at Telegram") {
		t.Errorf("Check() = %q, want set at Telegram", got)
	}
}

// TestCommandMenusPerLanguage: setMyCommands goes out once without
// language_code and once per language of bridges.Languages that has an
// ISO 639-1 code (jp as ja, one zh), each with the command table's
// descriptions in that language.
func TestCommandMenusPerLanguage(t *testing.T) {
	h := newHarness(t, nil, nil)
	stop := run(t, h.a, &bridgestest.Recorder{})
	defer stop()
	want := []string{"", "ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "ru", "uk", "zh"}
	bridgestest.WaitFor(t, "every menu", 5*time.Second, func() bool { return len(h.f.Calls("setMyCommands")) >= len(want) })
	if got := h.f.CommandLanguages(); !slices.Equal(got, want) {
		t.Errorf("menus for language_codes %q, want %q", got, want)
	}
	if n := len(h.f.Calls("setMyCommands")); n != len(want) {
		t.Errorf("setMyCommands called %d times, want %d (once per menu)", n, len(want))
	}
	langOf := map[string]string{"ja": "jp", "zh": "zh-Hans"}
	for _, code := range want[1:] {
		var menu []struct{ Command, Description string }
		if err := json.Unmarshal([]byte(h.f.CommandsIn(code)), &menu); err != nil || len(menu) != len(bridges.Commands) {
			t.Fatalf("menu %q = %s (%v), want %d commands", code, h.f.CommandsIn(code), err, len(bridges.Commands))
		}
		lang := code
		if l, ok := langOf[code]; ok {
			lang = l
		}
		for i, c := range bridges.Commands {
			if menu[i].Command != c.Name || !strings.HasPrefix(menu[i].Description, c.HelpIn(lang)) {
				t.Errorf("menu %q [%d] = %+v, want /%s %q", code, i, menu[i], c.Name, c.HelpIn(lang))
			}
		}
	}
	for _, l := range bridges.Languages {
		if _, ok := menuLanguages()[strings.ToLower(l)]; ok && (len(l) != 2 || l == "jp") {
			t.Errorf("menuLanguages has %q, which Telegram does not take", l)
		}
	}
}

// TestFactsThroughPolling: the facts on bridges.Message (language, thread,
// reply) as the poll loop delivers them.
func TestFactsThroughPolling(t *testing.T) {
	h := newHarness(t, nil, nil)
	rec := &bridgestest.Recorder{}
	stop := run(t, h.a, rec)
	defer stop()
	const group = -100123
	h.f.Queue(in{Chat: 55, Lang: "de", Text: "hallo"})
	orig := h.f.Queue(in{Chat: group, From: 8, Name: "Bo", Text: "the sky is green"})
	at, ents := mention("test_bot", "is that right?")
	h.f.Queue(in{Chat: group, From: 7, Text: at, Entities: ents, ReplyTo: orig})
	h.f.Queue(in{Chat: 55, Raw: map[string]any{"photo": []map[string]any{{"file_id": "p", "file_unique_id": "q", "width": 1, "height": 1}}}})
	h.f.Queue(in{Chat: 55, Raw: map[string]any{"caption": "what is this?", "photo": []map[string]any{{"file_id": "p", "file_unique_id": "q", "width": 1, "height": 1}}}})
	q := h.f.Queue(in{Chat: 55, Text: "what is 2+2?"})
	h.f.EditUser(55, q, "what is 3+3?")
	h.f.Queue(in{Chat: group, Thread: 9, Topic: true, From: 7, Text: at, Entities: ents})
	gq := h.f.Queue(in{Chat: group, From: 7, Text: at, Entities: ents})
	at2, ents2 := mention("test_bot", "is it blue?")
	h.f.EditUser(group, gq, at2, ents2...)
	bridgestest.WaitFor(t, "every message", 5*time.Second, func() bool { return len(rec.Got()) == 10 })
	got := rec.Got()
	if got[0].Locale != "de" {
		t.Errorf("Locale = %q, want de", got[0].Locale)
	}
	if m := got[2]; !m.InThread || m.ReplyToID != itoa(orig) || m.ReplyToBot || !m.Mentioned {
		t.Errorf("a reply to a user's message: %+v, want InThread, ReplyToID %d", m, orig)
	}
	if m := got[3]; !m.NonText || m.Text != "" {
		t.Errorf("a photo without caption: NonText %v, Text %q; want NonText and no text", m.NonText, m.Text)
	}
	if m := got[4]; m.NonText || m.Text != "what is this?" {
		t.Errorf("a photo with a caption: NonText %v, Text %q; want the caption as text", m.NonText, m.Text)
	}
	if m := got[6]; !m.Edited || m.ID != got[5].ID || m.Text != "what is 3+3?" || got[5].Edited {
		t.Errorf("the edit: %+v (the original %+v), want the same ID, Edited and the new text", m, got[5])
	}
	if m := got[7]; !m.InThread || m.ThreadID != "9" {
		t.Errorf("a forum topic message: InThread %v, ThreadID %q; want in thread 9", m.InThread, m.ThreadID)
	}
	if m := got[9]; !m.Edited || m.ID != got[8].ID || m.Text != "is it blue?" || !m.Mentioned {
		t.Errorf("an edited mention in a group: %+v, want Edited, Mentioned, the new text without the mention", m)
	}
	for _, i := range []int{0, 1, 5} {
		if got[i].InThread || got[i].NonText || got[i].Edited {
			t.Errorf("message %d %+v: want no thread, text, not edited", i, got[i])
		}
	}
}
