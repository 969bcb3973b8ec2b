package discord

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
	"github.com/chat-bridge/chat-bridge/store"
	"github.com/chat-bridge/chat-bridge/store/storetest"
)

// newAdapterClock returns an adapter talking to f with clock now.
func newAdapterClock(t *testing.T, f *fake, now func() time.Time) *Adapter {
	t.Helper()
	a, err := New(Config{Name: "main", Token: newSecret(fakeToken), APIBaseURL: f.apiBase()},
		bridges.Deps{Logger: testLogger(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRefCodecRoundTrip(t *testing.T) {
	a := newAdapter(t, newFake(t), nil)
	created := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	it := &discordgo.Interaction{ID: "500", AppID: fakeAppID, Token: "itok", ChannelID: "C5", GuildID: "G1", Locale: discordgo.German}
	gone := &interactionRef{it: it, created: created}
	gone.gone.Store(true)
	plan := &threadPlan{name: "What is X?", id: "77", started: true}
	tests := []struct {
		name string
		ref  any
	}{
		{"mention", &msgRef{channelID: "C1", guildID: "G1"}},
		{"mention wanting a thread", &msgRef{channelID: "C1", guildID: "G1", thread: &threadPlan{name: "Q"}}},
		{"mention whose thread started", &msgRef{channelID: "C1", guildID: "G1", thread: plan}},
		{"direct message", &msgRef{channelID: "D1"}},
		{"mention in a thread, roles known", &msgRef{channelID: "T1", guildID: "G1", roles: []string{"940"}, inThread: true}},
		{"mention, no roles", &msgRef{channelID: "C1", guildID: "G1", roles: []string{}}},
		{"reply to a user", &msgRef{channelID: "C1", guildID: "G1", replyTo: &refMessage{ID: "5", AuthorID: "7", Author: "Ann", Text: "earlier", Time: created}}},
		{"slash command", &interactionRef{it: it, created: created}},
		{"slash command whose token was refused", gone},
		{"interaction response", &sentRef{ir: &interactionRef{it: it, created: created}, original: true}},
		{"follow-up", &sentRef{ir: &interactionRef{it: it, created: created}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := a.EncodeRef(tt.ref)
			if err != nil {
				t.Fatalf("EncodeRef: %v", err)
			}
			got, err := a.DecodeRef(data)
			if err != nil {
				t.Fatalf("DecodeRef(%s): %v", data, err)
			}
			if diff := cmp.Diff(describeRef(tt.ref), describeRef(got)); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := a.EncodeRef("a string"); err == nil {
		t.Errorf("EncodeRef of a foreign ref succeeded")
	}
	for _, bad := range []string{`{`, `{"kind":"other"}`, `{"kind":"interaction"}`, `{"kind":"sent","interaction":{"id":"1"}}`} {
		if _, err := a.DecodeRef([]byte(bad)); err == nil {
			t.Errorf("DecodeRef(%s) succeeded", bad)
		}
	}
}

// describeRef lists what a ref holds, for comparison.
func describeRef(ref any) map[string]any {
	d := map[string]any{}
	describeIt := func(ir *interactionRef) {
		d["id"], d["app"], d["token"], d["channel"], d["guild"], d["locale"] =
			ir.it.ID, ir.it.AppID, ir.it.Token, ir.it.ChannelID, ir.it.GuildID, string(ir.it.Locale)
		d["created"], d["gone"] = ir.created, ir.gone.Load()
	}
	switch r := ref.(type) {
	case *msgRef:
		d["kind"], d["channel"], d["guild"] = "message", r.channelID, r.guildID
		d["roles"], d["in_thread"], d["reply_to"] = r.roles, r.inThread, r.replyTo
		if r.thread != nil {
			d["thread"] = []any{r.thread.name, r.thread.id, r.thread.started}
		}
	case *interactionRef:
		d["kind"] = "interaction"
		describeIt(r)
	case *sentRef:
		d["kind"], d["original"] = "sent", r.original
		describeIt(r.ir)
	default:
		d["kind"] = "unknown"
	}
	return d
}

// TestLastingRefusals: the fake's real error answers map to
// *bridges.PermanentError with Discord's reason kept, passing ones stay
// passing.
func TestLastingRefusals(t *testing.T) {
	post := func(a *Adapter) error {
		_, err := a.Send(context.Background(), question("1", "C1"), bridges.Out{Text: "x"})
		return err
	}
	edit := func(a *Adapter) error {
		return a.Edit(context.Background(), bridges.Sent{ChatID: "C1", ID: "7"}, bridges.Out{Text: "x"})
	}
	editIt := func(a *Adapter) error {
		it := &discordgo.Interaction{ID: "I1", AppID: fakeAppID, Token: "tok-I1", ChannelID: "C1"}
		return a.Edit(context.Background(), bridges.Sent{ChatID: "C1", ID: "@original", Ref: &sentRef{ir: &interactionRef{it: it}, original: true}}, bridges.Out{Text: "x"})
	}
	const postRoute, editRoute = "POST /channels/{channel}/messages", "PATCH /channels/{channel}/messages/{message}"
	tests := []struct {
		name   string
		do     func(*Adapter) error
		fail   func(f *fake)
		reason string // "" = passing
		text   string // in the error's text
	}{
		{"missing permissions", post, func(f *fake) { f.Fail(postRoute, 1, 403, 50013, "Missing Permissions") }, bridges.ReasonForbidden, "code 50013: Missing Permissions"},
		{"missing access", post, func(f *fake) { f.Fail(postRoute, 1, 403, 50001, "Missing Access") }, bridges.ReasonForbidden, "code 50001: Missing Access"},
		{"unknown channel", post, func(f *fake) { f.Fail(postRoute, 1, 404, 10003, "Unknown Channel") }, bridges.ReasonChatGone, "code 10003: Unknown Channel"},
		{"cannot message the user", post, func(f *fake) { f.Fail(postRoute, 1, 403, 50007, "Cannot send messages to this user") }, bridges.ReasonBlocked, "code 50007"},
		{"edit forbidden", edit, func(f *fake) { f.Fail(editRoute, 1, 403, 50013, "Missing Permissions") }, bridges.ReasonForbidden, "PATCH channels/C1/messages/7"},
		{"edit of a deleted message", edit, func(*fake) {}, bridges.ReasonMessageDeleted, "code 10008: Unknown Message"},
		{"interaction token unknown", editIt, func(*fake) {}, bridges.ReasonMessageDeleted, "code 50027: Invalid Webhook Token"},
		{"server error", post, func(f *fake) { f.Fail(postRoute, 1, 500, 0, "Internal Server Error") }, "", "HTTP 500"},
		{"bad gateway", edit, func(f *fake) { f.Fail(editRoute, -1, 502, 0, "Bad Gateway") }, "", "HTTP 502"},
		{"invalid form body", post, func(f *fake) { f.Fail(postRoute, 1, 400, 50035, "Invalid Form Body") }, "", "code 50035"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			tt.fail(f)
			err := tt.do(newAdapter(t, f, nil))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q lacks %q", err, tt.text)
			}
			var pe *bridges.PermanentError
			switch {
			case tt.reason == "" && errors.As(err, &pe):
				t.Errorf("error %v is a lasting refusal (%s), want a passing one", err, pe.Reason)
			case tt.reason != "" && !errors.As(err, &pe):
				t.Errorf("error %v is not a lasting refusal, want %s", err, tt.reason)
			case tt.reason != "" && pe.Reason != tt.reason:
				t.Errorf("reason = %q, want %q", pe.Reason, tt.reason)
			case tt.reason != "":
				var ae *APIError
				if !errors.As(pe.Err, &ae) {
					t.Errorf("the refusal keeps no *APIError: %v", pe.Err)
				}
			}
		})
	}
}

// TestExpiredInteraction: when the token of a slash command that is being
// answered expires (discordtest expires tokens after 15 minutes of its
// clock) or Discord refuses it, the rest of the answer goes to the
// channel as one normal message, which ends with the whole answer.
func TestExpiredInteraction(t *testing.T) {
	tests := []struct {
		name   string
		expire func(f *fake, c *storetest.Clock)
	}{
		{"by the clock", func(_ *fake, c *storetest.Clock) { c.Advance(discordtest.InteractionTTL + time.Minute) }},
		{"refused by Discord", func(f *fake, _ *storetest.Clock) {
			f.Fail("PATCH /webhooks/{app}/{token}/messages/{message}", -1, 401, 50027, "Invalid Webhook Token")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := storetest.NewClock()
			f := newFakeWith(t, discordtest.Options{NoRateLimits: true, Now: c.Now})
			a := newAdapterClock(t, f, c.Now)
			answer := words(400, "late")
			h, _ := relayed(t, a, map[string][]bridgestest.Step{
				"slow one": bridgestest.Answer(answer, 10, 40*time.Millisecond, "conv"),
			})
			start(t, a, h)
			f.dispatch(t, "INTERACTION_CREATE", commandEvent("700", "itok700", "C7", "G1", "5", "ask", "slow one"))
			f.wait(t, "a first text in the deferred response", func() bool {
				ms := f.InteractionMessages("700")
				return len(ms) == 1 && ms[0].Content != ""
			})
			tt.expire(f, c)
			inChannel := func() []discordtest.Message {
				var out []discordtest.Message
				for _, m := range f.Messages("C7") {
					if m.Interaction == "" {
						out = append(out, m)
					}
				}
				return out
			}
			f.wait(t, "the whole answer in the channel", func() bool {
				ms := inChannel()
				return len(ms) == 1 && ms[0].Content == answer
			})
			ms := f.InteractionMessages("700")
			if len(ms) != 1 || ms[0].Content == answer || !strings.HasPrefix(answer, ms[0].Content) {
				t.Errorf("interaction messages = %+v, want the response with a partial text only", ms)
			}
			if ms[0].ID == inChannel()[0].ID {
				t.Errorf("the channel message is the interaction's response")
			}
			posts := f.requests(func(r discordtest.Request) bool { return r.Method == "POST" && r.Path == "channels/C7/messages" })
			if len(posts) != 1 {
				t.Errorf("%d posts in the channel, want the answer posted once", len(posts))
			}
		})
	}
}

// TestResumeAfterTokenExpiry: an answer to a slash command resumed after
// a restart, when the interaction's token has expired meanwhile (16
// minutes on the fake's clock), finishes in the channel as one normal
// message; the deferred response keeps its partial text and is not
// touched again.
func TestResumeAfterTokenExpiry(t *testing.T) {
	c := storetest.NewClock()
	f := newFakeWith(t, discordtest.Options{NoRateLimits: true, Now: c.Now})
	a := newAdapterClock(t, f, c.Now)
	ctx := context.Background()

	// The previous run: the command arrived, was deferred and got a
	// partial answer.
	f.AddInteraction("900", "itok900", "C9")
	it := &discordgo.Interaction{ID: "900", AppID: fakeAppID, Token: "itok900", ChannelID: "C9", GuildID: "G1", Type: discordgo.InteractionApplicationCommand}
	if err := a.s.InteractionRespond(it, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}); err != nil {
		t.Fatal(err)
	}
	m := bridges.Message{Key: a.key("C9"), ID: "900", ChatID: "C9", UserID: "5", Text: "/ask resume me", Command: "ask", Directed: true,
		Time: c.Now(), Ref: &interactionRef{it: it, created: c.Now()}}
	partial, err := a.Send(ctx, &m, bridges.Out{Text: "The answer so"})
	if err != nil {
		t.Fatal(err)
	}
	mref, err := a.EncodeRef(m.Ref)
	if err != nil {
		t.Fatal(err)
	}
	sref, err := a.EncodeRef(partial.Ref)
	if err != nil {
		t.Fatal(err)
	}
	pm := m
	pm.Ref = nil
	payload, _ := json.Marshal(pm)
	inbox := bridgestest.NewInbox()
	if err := inbox.InboxAdd(store.InboxEntry{ID: m.Key.String() + "#900", Key: "discord/main", Payload: payload, Received: c.Now(),
		Ref: mref, Posted: []store.PostedMessage{{ChatID: partial.ChatID, ID: partial.ID, Ref: sref}}}); err != nil {
		t.Fatal(err)
	}
	c.Advance(16 * time.Minute)
	before := len(f.requests(nil))

	// The next run.
	answer := "The answer so far, and the rest of it."
	r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore(), Inbox: inbox, Logger: testLogger(t), Now: c.Now, PendingMaxAge: time.Hour})
	r.Bind(a, bridges.Route{Name: "discord/main", BackendName: "test", EditInterval: 50 * time.Millisecond,
		Backend: &bridgestest.Backend{Steps: bridgestest.Answer(answer, 100, 0, "conv")}})
	if n, _, err := r.Recover(); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v, want 1 resumed", n, err)
	}
	f.wait(t, "the answer in the channel", func() bool {
		for _, m := range f.Messages("C9") {
			if m.Interaction == "" && m.Content == answer {
				return true
			}
		}
		return false
	})
	var inChannel int
	for _, m := range f.Messages("C9") {
		if m.Interaction == "" {
			inChannel++
		}
	}
	if inChannel != 1 {
		t.Errorf("%d channel messages, want the answer once", inChannel)
	}
	if ms := f.InteractionMessages("900"); len(ms) != 1 || ms[0].Content != "The answer so" {
		t.Errorf("the deferred response = %+v, want its partial text untouched", ms)
	}
	for _, r := range f.requests(nil)[before:] {
		if strings.HasPrefix(r.Path, "webhooks/") {
			t.Errorf("a request with the expired token after the restart: %s %s", r.Method, r.Path)
		}
	}
	bridgestest.WaitFor(t, "the inbox emptied", 10*time.Second, func() bool { n, _ := inbox.InboxPending(); return len(n) == 0 })
}
