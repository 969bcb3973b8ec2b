package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// newTestAdapter returns an adapter that is "running" with handler h,
// without connecting anywhere.
func newTestAdapter(t testing.TB, cfg Config, h bridges.Handler, mux bridges.Mux) *Adapter {
	t.Helper()
	cfg.Name = "main"
	cfg.BotToken = backend.NewSecret(botToken)
	if !cfg.SigningSecret.IsSet() && !cfg.AppToken.IsSet() {
		cfg.AppToken = backend.NewSecret(appToken)
	}
	a, err := New(cfg, bridges.Deps{KV: bridgestest.NewKV(), Mux: mux})
	if err != nil {
		t.Fatal(err)
	}
	a.self = identity{UserID: botUser, BotID: botID, TeamID: teamID}
	a.handler = h
	a.runCtx = context.Background()
	return a
}

func TestMessage(t *testing.T) {
	a := newTestAdapter(t, Config{}, &bridgestest.Recorder{}, nil)
	a.follow("C1", "100.1")
	tests := map[string]struct {
		in     inbound
		ok     bool
		key    string
		thread string
		text   string
		addr   bool
	}{
		"mention top level": {inbound{Kind: "app_mention", Channel: "C1", User: "U1", Text: "<@UBOT> hi there", TS: "200.1"},
			true, "slack/main/C1/200.1", "200.1", "hi there", true},
		"mention in thread": {inbound{Kind: "app_mention", Channel: "C1", User: "U1", Text: "hey <@UBOT|bot>: x", TS: "200.2", ThreadTS: "150.1"},
			true, "slack/main/C1/150.1", "150.1", "hey x", true},
		"reset": {inbound{Kind: "app_mention", Channel: "C1", User: "U1", Text: "<@UBOT> Reset", TS: "200.3"},
			true, "slack/main/C1/200.3", "200.3", "/reset", true},
		"slash reset": {inbound{Kind: "app_mention", Channel: "C1", User: "U1", Text: "<@UBOT> /new", TS: "200.4"},
			true, "slack/main/C1/200.4", "200.4", "/new", true},
		"dm": {inbound{Kind: "message", Channel: "D1", DM: true, User: "U1", Text: "a &lt; b <https://x.y|site>", TS: "200.5"},
			true, "slack/main/D1", "", "a < b site (https://x.y)", true},
		"dm lone command": {inbound{Kind: "message", Channel: "D1", DM: true, User: "U1", Text: "help", TS: "200.6"},
			true, "slack/main/D1", "", "/help", true},
		"dm sentence": {inbound{Kind: "message", Channel: "D1", DM: true, User: "U1", Text: "help me with X", TS: "200.7"},
			true, "slack/main/D1", "", "help me with X", true},
		"dm thread": {inbound{Kind: "message", Channel: "D1", DM: true, User: "U1", Text: "q", TS: "200.8", ThreadTS: "199.1"},
			true, "slack/main/D1/199.1", "199.1", "q", true},
		"followed thread": {inbound{Kind: "message", Channel: "C1", User: "U2", Text: "more", TS: "200.9", ThreadTS: "100.1"},
			true, "slack/main/C1/100.1", "100.1", "more", true},
		"channel chatter": {inbound{Kind: "message", Channel: "C1", User: "U2", Text: "lunch?", TS: "201.1"},
			true, "slack/main/C1/201.1", "201.1", "lunch?", false},
		"message with mention": {inbound{Kind: "message", Channel: "C1", User: "U2", Text: "<@UBOT> hi", TS: "201.2"},
			true, "slack/main/C1/201.2", "201.2", "hi", true},
		"own": {inbound{Kind: "message", Channel: "C1", User: botUser, Text: "x", TS: "201.3"}, false, "", "", "", false},
		"bot": {inbound{Kind: "message", Channel: "C1", User: "U3", BotID: "B3", Text: "x", TS: "201.4"}, false, "", "", "", false},
		// Issue 16: an edit is delivered (the core decides), under the
		// original ts, with Edited set (checked below).
		"edited": {inbound{Kind: "app_mention", Channel: "C1", User: "U1", Edited: true, EditTS: "202.1", Text: "<@UBOT> x", TS: "201.5"},
			true, "slack/main/C1/201.5", "201.5", "x", true},
		"changed": {inbound{Kind: "message", Channel: "C1", User: "U1", SubType: "message_changed", TS: "201.6"}, false, "", "", "", false},
		"joined":  {inbound{Kind: "message", Channel: "C1", User: "U1", SubType: "channel_join", TS: "201.7"}, false, "", "", "", false},
		"file share": {inbound{Kind: "message", Channel: "D1", DM: true, User: "U1", SubType: "file_share", Text: "see file", TS: "201.8"},
			true, "slack/main/D1", "", "see file", true},
		"command":     {fromCommand(slackCommand("/reset", "", "C1")), true, "slack/main/C1", "", "/reset", true},
		"app command": {fromCommand(slackCommand("/kb", "stop", "C1")), true, "slack/main/C1", "", "/stop", true},
		"ask command": {fromCommand(slackCommand("/ask", "what is x", "D1")), true, "slack/main/D1", "", "/ask what is x", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, ok := a.message(a.self, tc.in)
			if ok != tc.ok {
				t.Fatalf("message(%+v) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if !ok {
				return
			}
			if m.Edited != tc.in.Edited || m.ID != tc.in.TS {
				t.Errorf("message(%+v) = ID %s edited %v, want %s %v", tc.in, m.ID, m.Edited, tc.in.TS, tc.in.Edited)
			}
			if m.Key.String() != tc.key || m.ThreadID != tc.thread || m.Text != tc.text || bridges.Admit(&m, "mention", "").Addressed != tc.addr {
				t.Errorf("message(%+v) = key %s thread %q text %q addressed %v, want %s %q %q %v",
					tc.in, m.Key, m.ThreadID, m.Text, bridges.Admit(&m, "mention", "").Addressed, tc.key, tc.thread, tc.text, tc.addr)
			}
		})
	}
}

func TestScopeUser(t *testing.T) {
	a := newTestAdapter(t, Config{Scope: "user"}, &bridgestest.Recorder{}, nil)
	m, ok := a.message(a.self, inbound{Kind: "app_mention", Channel: "C1", User: "U1", Text: "<@UBOT> x", TS: "1.2"})
	// The adapter reports the chat's key; the core rekeys it by user.
	if !ok || m.Key.String() != "slack/main/C1/1.2" || m.ThreadID != "1.2" {
		t.Errorf("scope user: adapter key %s thread %q, want slack/main/C1/1.2, reply in thread 1.2", m.Key, m.ThreadID)
	}
	if ad := bridges.Admit(&m, "mention", "user"); ad.Key.String() != "slack/main/U1" || !ad.Addressed {
		t.Errorf("Admit(scope user) = key %s addressed %v, want slack/main/U1, addressed", ad.Key, ad.Addressed)
	}
}

func TestAllowedChannels(t *testing.T) {
	a := newTestAdapter(t, Config{AllowedChannels: []string{"C1"}}, &bridgestest.Recorder{}, nil)
	if _, ok := a.message(a.self, inbound{Kind: "app_mention", Channel: "C2", User: "U1", Text: "x", TS: "1.1"}); ok {
		t.Error("message in C2 passed allowed_channels [C1]")
	}
	if _, ok := a.message(a.self, inbound{Kind: "app_mention", Channel: "C1", User: "U1", Text: "x", TS: "1.1"}); !ok {
		t.Error("message in C1 dropped by allowed_channels [C1]")
	}
}

// A message the relay refused (shutdown) is not marked seen: Slack's next
// delivery of the same event goes through.
func TestReceiveRefusedNotDeduped(t *testing.T) {
	rec := &bridgestest.Recorder{}
	rec.SetFail(bridges.ErrClosed)
	a := newTestAdapter(t, Config{}, rec, nil)
	in := inbound{Kind: "message", Channel: "D1", DM: true, User: "U1", Text: "x", TS: "5.1"}
	if err := a.receive(context.Background(), rec, a.self, "Ev1", in); err == nil {
		t.Fatal("receive with a refusing handler = nil, want an error")
	}
	rec.SetFail(nil)
	for i := range 2 {
		if err := a.receive(context.Background(), rec, a.self, "Ev1", in); err != nil {
			t.Fatalf("receive #%d: %v", i, err)
		}
	}
	if n := len(rec.Got()); n != 1 {
		t.Errorf("messages = %d, want 1 (redelivery accepted once)", n)
	}
}

func TestNew(t *testing.T) {
	mux := http.NewServeMux()
	s := backend.NewSecret
	tests := map[string]struct {
		cfg  Config
		mux  bridges.Mux
		want string // substring of the error; "" = ok
	}{
		"socket":         {Config{Name: "m", BotToken: s("b"), AppToken: s("a")}, nil, ""},
		"events":         {Config{Name: "m", BotToken: s("b"), SigningSecret: s("x")}, mux, ""},
		"no bot token":   {Config{Name: "m", AppToken: s("a")}, nil, "bot_token"},
		"no mode":        {Config{Name: "m", BotToken: s("b")}, nil, "app_token"},
		"events no mux":  {Config{Name: "m2", BotToken: s("b"), SigningSecret: s("x")}, nil, "signing_secret"},
		"api_url slash":  {Config{Name: "m", BotToken: s("b"), AppToken: s("a"), APIURL: "http://x/api"}, nil, "api_url"},
		"bad scope":      {Config{Name: "m", BotToken: s("b"), AppToken: s("a"), Scope: "team"}, nil, "scope"},
		"no name":        {Config{BotToken: s("b"), AppToken: s("a")}, nil, "instance name"},
		"secret in errs": {Config{Name: "m", BotToken: s("xoxb-SECRET"), APIURL: "ftp://x/"}, nil, "app_token"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.cfg, bridges.Deps{Mux: tc.mux})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New = %v, want ok", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New = %v, want error naming %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "SECRET"):
				t.Errorf("New error %q reveals the token", err)
			case err != nil && strings.HasPrefix(err.Error(), "slack"):
				// cmd/bridge names the instance: "config: slack.m: bot_token is required".
				t.Errorf("New error %q repeats the platform/instance prefix", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	f := newFake(t, slacktest.Options{})
	a, err := New(Config{Name: "main", BotToken: backend.NewSecret(botToken), AppToken: backend.NewSecret(appToken), APIURL: f.APIURL()}, bridges.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Check(context.Background())
	want := "slack/main: team Test Team (T1), bot @bridgebot, mode socket"
	if err != nil || got != want {
		t.Errorf("Check = %q, %v; want %q", got, err, want)
	}
	bad, _ := New(Config{Name: "main", BotToken: backend.NewSecret("xoxb-wrong"), AppToken: backend.NewSecret(appToken), APIURL: f.APIURL()}, bridges.Deps{})
	if _, err := bad.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), "xoxb-wrong") {
		t.Errorf("Check with a bad token = %v, want invalid_auth without the token", err)
	}
	// Run with a bad token fails at once.
	if err := bad.Run(context.Background(), &bridgestest.Recorder{}); err == nil {
		t.Error("Run with a bad token = nil, want an error")
	}
}

// Handlers called before Run started answer 503; slash commands over HTTP
// become commands.
func TestEventsHandlers(t *testing.T) {
	mux := http.NewServeMux()
	rec := &bridgestest.Recorder{}
	a, err := New(Config{Name: "main", BotToken: backend.NewSecret(botToken), SigningSecret: backend.NewSecret(signingSecret)},
		bridges.Deps{Mux: mux, KV: bridgestest.NewKV()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		slacktest.Sign(req.Header, []byte(body), time.Now(), signingSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ev := `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","channel":"D1","channel_type":"im","user":"U1","text":"hi","ts":"1.1"}}`
	if got := post("/slack/main/events", ev); got != http.StatusServiceUnavailable {
		t.Errorf("event before Run = %d, want 503", got)
	}
	a.mu.Lock()
	a.self, a.handler, a.runCtx = identity{UserID: botUser, TeamID: teamID}, rec, context.Background()
	a.mu.Unlock()
	if got := post("/slack/main/events", ev); got != 200 {
		t.Errorf("event = %d, want 200", got)
	}
	if got := post("/slack/main/commands", "command=%2Freset&text=&channel_id=D1&user_id=U1&team_id=T1"); got != 200 {
		t.Errorf("command = %d, want 200", got)
	}
	if got := post("/slack/main/commands", "garbage"); got != 200 {
		t.Errorf("command without a channel = %d, want 200 (ignored)", got)
	}
	msgs := rec.Got()
	if len(msgs) != 2 || msgs[0].Text != "hi" || msgs[1].Text != "/reset" || msgs[1].Key.String() != "slack/main/D1" {
		t.Errorf("messages = %+v, want \"hi\" then /reset on slack/main/D1", msgs)
	}
}

// FuzzEvents: any signed body is answered without a panic, and a message
// that reaches the handler never carries the bot's own mention.
func FuzzEvents(f *testing.F) {
	for _, s := range []string{
		`{"type":"url_verification","challenge":"c"}`,
		`{"type":"event_callback","event_id":"E","event":{"type":"app_mention","channel":"C1","user":"U1","text":"<@UBOT> x","ts":"1.1"}}`,
		`{"type":"event_callback","event":{"type":"message","subtype":"message_changed","channel":"C1","message":{"text":"x"}}}`,
		`{"type":"event_callback","event":{"type":"message","channel":"D1","channel_type":"im","user":"U1","text":"<@UBOT|b>: <@UBOT","ts":"x"}}`,
		`{"type":"event_callback","event":null}`, `{"type":"app_rate_limited"}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := &bridgestest.Recorder{}
		a := newTestAdapter(t, Config{SigningSecret: backend.NewSecret(signingSecret)}, rec, http.NewServeMux())
		req := httptest.NewRequest(http.MethodPost, "/slack/main/events", bytes.NewReader(body))
		slacktest.Sign(req.Header, body, time.Now(), signingSecret)
		w := httptest.NewRecorder()
		a.serveEvents(w, req)
		if w.Code == http.StatusUnauthorized {
			t.Fatalf("signed body rejected: %s", body)
		}
		for _, m := range rec.Got() {
			if strings.Contains(m.Text, "<@"+botUser+">") {
				t.Fatalf("message text %q keeps the bot mention", m.Text)
			}
		}
	})
}

// FuzzReceiveText: the text helpers never panic and strip every complete
// bot mention.
func FuzzReceiveText(f *testing.F) {
	for _, s := range []string{"<@UBOT> reset", "<@UBOT|bot>: hi <@UBOT>", "<https://a|b> &lt;x&gt;", "<!here|@here>", "<@UBOT", "/ask@x q", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := stripMention(s, botUser)
		if strings.Contains(out, "<@"+botUser+">") {
			t.Fatalf("stripMention(%q) = %q keeps the mention", s, out)
		}
		_ = plainText(normaliseCommand(out, true))
	})
}

func TestReact(t *testing.T) {
	f := newFake(t, slacktest.Options{})
	a, err := New(Config{Name: "main", BotToken: backend.NewSecret(botToken), AppToken: backend.NewSecret(appToken), APIURL: f.APIURL()}, bridges.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	m := &bridges.Message{ChatID: "C1", ID: "1700000000.000100"}
	if err := a.React(context.Background(), m, "⚠️"); err != nil {
		t.Fatalf("React: %v", err)
	}
	got := f.Reactions()
	if len(got) != 1 || got[0] != "C1/1700000000.000100:warning" {
		t.Errorf("reactions = %q, want :warning: on the question", got)
	}
}

// failingKV is a KV whose operations can be made to fail.
type failingKV struct {
	*bridgestest.KV
	seen, get, put, del bool
}

var errStore = errors.New("disk on fire")

func (kv *failingKV) Seen(key string, ttl time.Duration) (bool, error) {
	if kv.seen {
		return false, errStore
	}
	return kv.KV.Seen(key, ttl)
}

func (kv *failingKV) Get(key string) ([]byte, bool, error) {
	if kv.get {
		return nil, false, errStore
	}
	return kv.KV.Get(key)
}

func (kv *failingKV) Put(key string, v []byte) error {
	if kv.put {
		return errStore
	}
	return kv.KV.Put(key, v)
}

func (kv *failingKV) Delete(key string) error {
	if kv.del {
		return errStore
	}
	return kv.KV.Delete(key)
}

// Store failures of the dedupe and followed-thread state are logged and
// counted, and never drop a message: a redelivery after a refused
// hand-over goes through, and a dedupe that cannot read lets the message
// pass.
func TestStateStoreFailures(t *testing.T) {
	in := inbound{Kind: "message", Channel: "D1", DM: true, User: "U1", Text: "x", TS: "6.1"}
	tests := map[string]struct {
		kv   failingKV
		want int // messages handled of: refused delivery, redelivery, redelivery
	}{
		// Before the fix these lost the redelivered question.
		"release read fails":  {failingKV{get: true}, 2},
		"release write fails": {failingKV{put: true}, 1},
		// Nothing can be told: everything passes.
		"seen fails": {failingKV{seen: true}, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			kv := tc.kv
			kv.KV = bridgestest.NewKV()
			rec := &bridgestest.Recorder{}
			a, err := New(Config{Name: "main", BotToken: backend.NewSecret(botToken), AppToken: backend.NewSecret(appToken)}, bridges.Deps{KV: &kv})
			if err != nil {
				t.Fatal(err)
			}
			a.self = identity{UserID: botUser, BotID: botID, TeamID: teamID}
			rec.SetFail(bridges.ErrClosed)
			if err := a.receive(context.Background(), rec, a.self, "Ev1", in); err == nil {
				t.Fatal("receive with a refusing handler = nil, want an error")
			}
			rec.SetFail(nil)
			for range 2 {
				if err := a.receive(context.Background(), rec, a.self, "Ev1", in); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(rec.Got()); got != tc.want {
				t.Errorf("messages handled = %d, want %d", got, tc.want)
			}
			if a.StateErrors() == 0 {
				t.Errorf("StateErrors() = 0, want the failures counted")
			}
		})
	}
}

// A thread the bot answered in is followed in this process even when the
// store cannot keep it.
func TestFollowStoreFailure(t *testing.T) {
	kv := &failingKV{KV: bridgestest.NewKV(), put: true}
	a, err := New(Config{Name: "main", BotToken: backend.NewSecret(botToken), AppToken: backend.NewSecret(appToken)}, bridges.Deps{KV: kv})
	if err != nil {
		t.Fatal(err)
	}
	a.follow("C1", "100.1")
	if !a.following("C1", "100.1") {
		t.Error("following after a failed store write = false, want true")
	}
	kv.put, kv.get = false, true
	if a.following("C1", "200.1") || a.StateErrors() != 2 {
		t.Errorf("following an unknown thread with a failing read = true or errors %d, want false and 2 counted", a.StateErrors())
	}
}

// TestAdmissionTable runs the same-decision table end to end: each case
// is delivered by the fake Slack over Socket Mode as Slack would send
// it, the running adapter translates it, and the core's Admit decides.
//
// How the cases become Slack events: a DM is a message.im event in D1, a
// channel message a message.channels event in C1; a mention is an
// app_mention followed by Slack's message copy of it (the adapter keeps
// the first); a reply to the bot is a message in a thread the bot
// answered in before. Text starting with one of the bridge's commands
// (the slash commands of the app's manifest, bridges.Commands) is a
// slash command, since Slack sends a typed "/reset" to the app that way;
// any other "/…" text ("/usr/bin is slow", "/shrug", "/start") is an
// ordinary message. No case is skipped.
func TestAdmissionTable(t *testing.T) {
	f := newFake(t, slacktest.Options{})
	rec := &bridgestest.Recorder{}
	a, err := New(Config{Name: "main", BotToken: backend.NewSecret(botToken), AppToken: backend.NewSecret(appToken), APIURL: f.APIURL()},
		bridges.Deps{KV: bridgestest.NewKV(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, rec) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
	bridgestest.WaitFor(t, "socket mode connected", 5*time.Second, func() bool { return a.Connected() && f.Connections() > 0 })

	// deliver sends one envelope and waits for its ack: the adapter acks
	// after its handler returned, or at once for what it drops.
	deliver := func(t *testing.T, send func() (string, error)) {
		t.Helper()
		id, err := send()
		if err != nil {
			t.Fatal(err)
		}
		bridgestest.WaitFor(t, "ack of "+id, 5*time.Second, func() bool { _, ok := f.AckedAt(id); return ok })
	}
	seq := 0
	translate := func(t *testing.T, c bridgestest.AdmissionCase) (bridges.Message, bool) {
		seq++
		ts := fmt.Sprintf("1700000100.%06d", seq*10)
		channel, channelType := "C1", "channel"
		if c.Private {
			channel, channelType = "D1", "im"
		}
		var thread string
		if c.ReplyToBot {
			// The bot answered a mention at the thread's root before.
			thread = fmt.Sprintf("1700000100.%06d", seq*10+1)
			deliver(t, func() (string, error) {
				return f.Envelope(fmt.Sprintf("EvRoot%d", seq), 0, slacktest.MentionEvent(channel, "U1", "<@"+botUser+"> first", thread, ""))
			})
		}
		before := len(rec.Got())
		word, rest, _ := strings.Cut(c.Text, " ")
		name := strings.TrimPrefix(word, "/")
		cmd, registered := bridges.LookupCommand(name)
		switch {
		case !c.Mention && strings.HasPrefix(word, "/") && registered && cmd.Name == name:
			deliver(t, func() (string, error) {
				return f.SlashCommand("", slacktest.Command{Command: word, Text: rest, ChannelID: channel, UserID: "U1"})
			})
		case c.Mention:
			text := "<@" + botUser + "> " + c.Text
			deliver(t, func() (string, error) {
				return f.Envelope(fmt.Sprintf("Ev%dm", seq), 0, slacktest.MentionEvent(channel, "U1", text, ts, thread))
			})
			deliver(t, func() (string, error) {
				return f.Envelope(fmt.Sprintf("Ev%d", seq), 0, slacktest.MessageEvent(channelType, channel, "U1", text, ts, thread))
			})
		default:
			deliver(t, func() (string, error) {
				return f.Envelope(fmt.Sprintf("Ev%d", seq), 0, slacktest.MessageEvent(channelType, channel, "U1", c.Text, ts, thread))
			})
		}
		got := rec.Got()[before:]
		switch len(got) {
		case 0:
			return bridges.Message{}, false
		case 1:
			return got[0], true
		}
		t.Fatalf("one case reached the handler %d times: %+v", len(got), got)
		return bridges.Message{}, false
	}
	bridgestest.CheckAdmission(t, translate)

	// "/usr/bin is slow" in a channel reaches the core as what was typed,
	// no command and unaddressed, and the core ignores it.
	t.Run("path reaches the core", func(t *testing.T) {
		m, ok := translate(t, bridgestest.AdmissionCase{Text: "/usr/bin is slow"})
		if !ok || m.Text != "/usr/bin is slow" || m.Command != "" || m.Directed || m.Mentioned {
			t.Fatalf("message = %+v, %v; want the text, no command, not directed or mentioned", m, ok)
		}
		if ad := bridges.Admit(&m, "mention", "chat"); !ad.Ignore || ad.Reason != "not_addressed" {
			t.Errorf("Admit = %+v, want ignored as not_addressed", ad)
		}
	})
}
