package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// checkNoPings fails unless r carries allowed_mentions with an empty
// (not missing, not null) parse list and no replied_user ping.
func checkNoPings(t *testing.T, r discordtest.Request) {
	t.Helper()
	am, ok := reqJSON(t, r)["allowed_mentions"].(map[string]any)
	if !ok {
		t.Errorf("%s %s: no allowed_mentions in %s", r.Method, r.Path, r.Body)
		return
	}
	parse, ok := am["parse"].([]any)
	if !ok || len(parse) != 0 || am["replied_user"] == true {
		t.Errorf("%s %s: allowed_mentions = %v, want parse [] and no replied_user", r.Method, r.Path, am)
	}
}

func question(id, channel string) *bridges.Message {
	return &bridges.Message{ID: id, ChatID: channel, Ref: &msgRef{channelID: channel, guildID: "G1"}}
}

func TestSendAndEdit(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, nil)
	ctx := context.Background()
	m := question("42", "C1")

	s0, err := a.Send(ctx, m, bridges.Out{Text: "@everyone see https://x.example", Part: 0})
	if err != nil {
		t.Fatalf("Send part 0: %v", err)
	}
	s1, err := a.Send(ctx, m, bridges.Out{Text: "part two", Part: 1})
	if err != nil {
		t.Fatalf("Send part 1: %v", err)
	}
	if err := a.Edit(ctx, s0, bridges.Out{Text: "@here edited", Final: true}); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if err := a.Typing(ctx, m); err != nil {
		t.Fatalf("Typing: %v", err)
	}
	if err := a.Delete(ctx, s1); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	reqs := f.requests(nil)
	var got []string
	for _, r := range reqs {
		got = append(got, r.Method+" "+r.Path)
	}
	want := []string{
		"POST channels/C1/messages", "POST channels/C1/messages",
		"PATCH channels/C1/messages/" + s0.ID, "POST channels/C1/typing",
		"DELETE channels/C1/messages/" + s1.ID,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	for _, r := range reqs[:3] {
		checkNoPings(t, r)
		if flags, _ := reqJSON(t, r)["flags"].(float64); int(flags)&int(discordgo.MessageFlagsSuppressEmbeds) == 0 {
			t.Errorf("%s %s: flags = %v, want SUPPRESS_EMBEDS", r.Method, r.Path, flags)
		}
	}
	ref, _ := reqJSON(t, reqs[0])["message_reference"].(map[string]any)
	if ref["message_id"] != "42" || ref["fail_if_not_exists"] != false {
		t.Errorf("part 0 message_reference = %v, want message 42, fail_if_not_exists false", ref)
	}
	if _, ok := reqJSON(t, reqs[1])["message_reference"]; ok {
		t.Errorf("part 1 has a message_reference; later parts continue, they do not reply")
	}
	if c := reqs[0].Content(); c != "@everyone see <https://x.example>" {
		t.Errorf("part 0 content = %q", c)
	}
}

func TestSendInThreadHasNoReference(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, nil)
	m := &bridges.Message{ID: "42", ChatID: "T5", Ref: &msgRef{channelID: "C1", guildID: "G1"}}
	if _, err := a.Send(context.Background(), m, bridges.Out{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	r := f.requests(nil)[0]
	if r.Path != "channels/T5/messages" {
		t.Errorf("sent to %s, want the thread T5", r.Path)
	}
	if _, ok := reqJSON(t, r)["message_reference"]; ok {
		t.Errorf("answer in a thread started from the question replies across channels")
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter time.Duration // 0: not a rate limit
		global     bool
		code       int
	}{
		{"429", 429, `{"message":"You are being rate limited.","retry_after":0.25,"global":false}`, 250 * time.Millisecond, false, 0},
		{"global 429", 429, `{"message":"You are being rate limited.","retry_after":1.5,"global":true}`, 1500 * time.Millisecond, true, 0},
		{"proxy 429 without JSON", 429, `<html>slow down</html>`, time.Second, false, 0},
		{"too long", 400, `{"code":50035,"message":"Invalid Form Body"}`, 0, false, 50035},
		{"unknown message", 404, `{"code":10008,"message":"Unknown Message"}`, 0, false, 10008},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.Intercept(func(discordtest.Request) (int, string, bool) { return tt.status, tt.body, true })
			a := newAdapter(t, f, nil)
			err := a.Edit(context.Background(), bridges.Sent{ChatID: "C1", ID: "7"}, bridges.Out{Text: "x"})
			var rl *bridges.RateLimitError
			if tt.retryAfter > 0 {
				if !errors.As(err, &rl) || rl.RetryAfter != tt.retryAfter || rl.Global != tt.global {
					t.Fatalf("Edit() = %v, want *RateLimitError{%v, global %v}", err, tt.retryAfter, tt.global)
				}
			} else {
				var ae *APIError
				if errors.As(err, &rl) || !errors.As(err, &ae) || ae.Code != tt.code {
					t.Fatalf("Edit() = %v, want *APIError code %d", err, tt.code)
				}
			}
			if n := len(f.requests(nil)); n != 1 {
				t.Errorf("%d requests, want 1 (discordgo must not retry)", n)
			}
		})
	}
}

func TestInteractionTokenNotInErrors(t *testing.T) {
	f := newFake(t)
	f.Intercept(func(discordtest.Request) (int, string, bool) { return 429, `{"retry_after":0.1,"global":false}`, true })
	a := newAdapter(t, f, nil)
	it := &discordgo.Interaction{ID: "1", AppID: fakeAppID, Token: "itok-SECRET", ChannelID: "C1"}
	m := &bridges.Message{ID: "1", ChatID: "C1", Ref: &interactionRef{it: it}}
	_, err := a.Send(context.Background(), m, bridges.Out{Text: "x"})
	var rl *bridges.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("Send() = %v, want *RateLimitError", err)
	}
	f.Close()
	_, err2 := a.Send(context.Background(), m, bridges.Out{Text: "x", Part: 1})
	for _, e := range []error{err, err2} {
		if e == nil || strings.Contains(e.Error(), "itok-SECRET") {
			t.Errorf("error %q reveals the interaction token", e)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		flags int64
		want  string
	}{
		{appFlagGatewayMessageContent, "bot bridgebot (900) in 2 guild(s); message content intent: enabled"},
		{appFlagGatewayMessageContentLimited, "bot bridgebot (900) in 2 guild(s); message content intent: enabled"},
		{0, "bot bridgebot (900) in 2 guild(s); message content intent: NOT enabled (the bot can't read messages that don't mention it"},
	}
	for _, tt := range tests {
		f := newFake(t)
		f.SetAppFlags(tt.flags)
		got, err := newAdapter(t, f, nil).Check(context.Background())
		if err != nil || !strings.HasPrefix(got, tt.want) {
			t.Errorf("Check() with flags %#x = %q, %v; want %q...", tt.flags, got, err, tt.want)
		}
	}
	f := newFake(t)
	a, err := New(Config{Name: "main", Token: bridges.Secret{}, APIBaseURL: f.apiBase()}, bridges.Deps{})
	if err == nil || a != nil {
		t.Errorf("New without a token = %v, %v; want an error", a, err)
	}
}

func TestNewValidates(t *testing.T) {
	tok := newSecret("tok-XYZ")
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{"valid", Config{Name: "main", Token: tok}, ""},
		{"no name", Config{Token: tok}, "name"},
		{"no token", Config{Name: "main"}, "token"},
		{"bad scope", Config{Name: "main", Token: tok, Scope: "guild"}, "scope"},
		{"bad base url", Config{Name: "main", Token: tok, APIBaseURL: "ftp://x"}, "api_base_url"},
		{"negative shards", Config{Name: "main", Token: tok, Shards: -1}, "shards"},
		{"shards", Config{Name: "main", Token: tok, Shards: 4}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, bridges.Deps{})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("New() = %v, want error containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "tok-XYZ") {
				t.Errorf("New() error reveals the token: %v", err)
			}
			// cmd/bridge puts "discord.NAME: " in front: one prefix.
			if err != nil && (strings.HasPrefix(err.Error(), "discord") || strings.Contains(err.Error(), "main:")) {
				t.Errorf("New() = %q, want no platform or instance prefix", err)
			}
		})
	}
}

func TestTransportRewritesPerInstance(t *testing.T) {
	f1, f2 := newFake(t), newFake(t)
	a1, a2 := newAdapter(t, f1, nil), newAdapter(t, f2, nil)
	ctx := context.Background()
	if err := a1.Typing(ctx, question("1", "C1")); err != nil {
		t.Fatal(err)
	}
	if err := a2.Typing(ctx, question("1", "C2")); err != nil {
		t.Fatal(err)
	}
	if got := f1.requests(nil); len(got) != 1 || got[0].Path != "channels/C1/typing" {
		t.Errorf("instance 1's server got %v", got)
	}
	if got := f2.requests(nil); len(got) != 1 || got[0].Path != "channels/C2/typing" {
		t.Errorf("instance 2's server got %v", got)
	}
	if discordgo.EndpointAPI != "https://discord.com/api/v9/" {
		t.Errorf("discordgo.EndpointAPI = %q: a package global was changed", discordgo.EndpointAPI)
	}
}

func TestReact(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, nil)
	m := question("42", "C1")
	if err := a.React(context.Background(), m, "⚠️"); err != nil {
		t.Fatalf("React: %v", err)
	}
	got := f.Reactions()
	if len(got) != 1 || got[0] != "C1/"+m.ID+":⚠️" {
		t.Errorf("reactions = %q, want ⚠️ on the question", got)
	}
	m.Ref = &interactionRef{}
	if err := a.React(context.Background(), m, "⚠️"); err == nil {
		t.Error("React on a slash command = nil, want an error (no message to react to)")
	}
}

// TestFakeRateLimits: the fake's own limits (not an injected 429) reach
// the core as *bridges.RateLimitError, global or per route.
func TestFakeRateLimits(t *testing.T) {
	t.Run("global", func(t *testing.T) {
		f := newFakeWith(t, discordtest.Options{Limits: discordtest.Limits{Global: 2, GlobalWindow: time.Minute}})
		a := newAdapter(t, f, nil)
		var err error
		for i := range 3 {
			err = a.Typing(context.Background(), question("1", fmt.Sprint("C", i)))
		}
		var rl *bridges.RateLimitError
		if !errors.As(err, &rl) || !rl.Global || rl.RetryAfter < 50*time.Second {
			t.Fatalf("third request = %v, want a global *RateLimitError of about a minute", err)
		}
		if got := f.TooMany(); got["global"] != 1 {
			t.Errorf("TooMany() = %v, want one global 429", got)
		}
	})
	t.Run("route bucket", func(t *testing.T) {
		f := newFakeWith(t, discordtest.Options{})
		// Two processes of one bot: the second knows nothing of the
		// bucket the first used up.
		a1, a2 := newAdapter(t, f, nil), newAdapter(t, f, nil)
		for i := range discordtest.MessageLimit {
			if _, err := a1.Send(context.Background(), question("1", "C1"), bridges.Out{Text: fmt.Sprint("part ", i)}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		_, err := a2.Send(context.Background(), question("1", "C1"), bridges.Out{Text: "one more"})
		var rl *bridges.RateLimitError
		if !errors.As(err, &rl) || rl.Global || rl.RetryAfter < 4*time.Second || rl.RetryAfter > discordtest.MessageWindow {
			t.Fatalf("sixth send in 5 s = %v, want a per-channel *RateLimitError of up to 5 s", err)
		}
		if got := f.TooMany(); got["user"] != 1 {
			t.Errorf("TooMany() = %v, want one 429 of scope user", got)
		}
		if n := len(f.Messages("C1")); n != discordtest.MessageLimit {
			t.Errorf("%d messages, want %d", n, discordtest.MessageLimit)
		}
	})
}

// TestLimitsOnEndToEnd: an answer streamed with Discord's limits on
// lands exactly, without a 429: the core's budgets keep under them.
func TestLimitsOnEndToEnd(t *testing.T) {
	f := newFakeWith(t, discordtest.Options{})
	a := newAdapter(t, f, func(c *Config) { c.SkipCommands = true })
	answer := words(600, "limits")
	h, _ := relayed(t, a, map[string][]bridgestest.Step{"go": bridgestest.Answer(answer, 30, 20*time.Millisecond, "")})
	start(t, a, h)
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("1", "C1", "G1", "5", "<@"+fakeBotID+"> go"))
	f.wait(t, "the final answer", func() bool {
		ms := f.Messages("C1")
		return len(ms) == 1 && ms[0].Content == answer
	})
	if got := f.TooMany(); len(got) != 0 {
		t.Errorf("429s = %v, want none", got)
	}
	if ms := f.Messages("C1"); ms[0].Edits() < 1 {
		t.Errorf("%d edits, want the answer streamed", ms[0].Edits())
	}
}

// TestAPIErrorText: an error answer keeps its facts in the log (the
// request, the status, Discord's code and description, or the body of a
// proxy's page), with interaction tokens redacted.
func TestAPIErrorText(t *testing.T) {
	tests := []struct {
		name string
		send func(a *Adapter) error
		fail func(f *fake)
		want string
	}{
		{"missing permissions", func(a *Adapter) error {
			_, err := a.Send(context.Background(), question("1", "C1"), bridges.Out{Text: "x"})
			return err
		}, func(f *fake) { f.Fail("POST /channels/{channel}/messages", 1, 403, 50013, "Missing Permissions") },
			"send message: discord: POST channels/C1/messages: HTTP 403, code 50013: Missing Permissions"},
		{"proxy page", func(a *Adapter) error {
			return a.Edit(context.Background(), bridges.Sent{ChatID: "C1", ID: "7"}, bridges.Out{Text: "x"})
		}, func(f *fake) {
			f.Intercept(func(discordtest.Request) (int, string, bool) {
				return 503, "<html>\n<h1>503 Service Unavailable</h1>\n</html>", true
			})
		}, "edit message: discord: PATCH channels/C1/messages/7: HTTP 503: <html> <h1>503 Service Unavailable</h1> </html>"},
		{"interaction token", func(a *Adapter) error {
			it := &discordgo.Interaction{ID: "1", AppID: fakeAppID, Token: "itok-SECRET", ChannelID: "C1"}
			_, err := a.Send(context.Background(), &bridges.Message{ID: "1", ChatID: "C1", Ref: &interactionRef{it: it}}, bridges.Out{Text: "x"})
			return err
		}, func(*fake) {}, "edit interaction response: discord: PATCH webhooks/" + fakeAppID + "/[redacted]/messages/@original: HTTP 401, code 50027: Invalid Webhook Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			tt.fail(f)
			err := tt.send(newAdapter(t, f, nil))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
