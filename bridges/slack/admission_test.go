package slack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

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
