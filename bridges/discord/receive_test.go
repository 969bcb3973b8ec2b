package discord

import (
	"context"
	"encoding/json"
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

// event decodes a gateway payload the way discordgo does.
func event(t *testing.T, d map[string]any) *discordgo.Message {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m discordgo.Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestTranslate(t *testing.T) {
	f := newFake(t)
	f.AddChannel(discordtest.Channel{ID: "TH1", Type: 11, ParentID: "C9", OwnerID: "77", GuildID: "G1"})
	f.AddChannel(discordtest.Channel{ID: "TB", Type: 11, ParentID: "C1", OwnerID: fakeBotID, GuildID: "G1"})
	mention := "<@" + fakeBotID + ">"
	type want struct {
		ok        bool
		key       string
		chat      string
		text      string
		addressed bool
		private   bool
	}
	tests := []struct {
		name string
		cfg  func(*Config)
		ev   map[string]any
		want want
	}{
		{"mention", nil, msgEvent("1", "C1", "G1", "5", mention+" what is X?"),
			want{true, "discord/main/C1", "C1", "what is X?", true, false}},
		{"nick mention in the middle", nil, msgEvent("1", "C1", "G1", "5", "hey <@!"+fakeBotID+"> what is X?"),
			want{true, "discord/main/C1", "C1", "hey what is X?", true, false}},
		{"plain guild message", nil, msgEvent("1", "C1", "G1", "5", "just chatting"),
			want{true, "discord/main/C1", "C1", "just chatting", false, false}},
		{"direct message", nil, msgEvent("1", "D1", "", "5", "hello"),
			want{true, "discord/main/D1", "D1", "hello", true, true}},
		{"text command", nil, msgEvent("1", "C1", "G1", "5", "/reset"),
			want{true, "discord/main/C1", "C1", "/reset", true, false}},
		{"scope user: the core keys by user", func(c *Config) { c.Scope = "user" }, msgEvent("1", "C1", "G1", "5", mention+" hi"),
			want{true, "discord/main/C1", "C1", "hi", true, false}},
		{"thread is its own conversation", nil, msgEvent("1", "TH1", "G1", "5", mention+" hi"),
			want{true, "discord/main/TH1", "TH1", "hi", true, false}},
		{"allowed guild", func(c *Config) { c.AllowedGuilds = []string{"G1"} }, msgEvent("1", "C1", "G1", "5", mention+" hi"),
			want{true, "discord/main/C1", "C1", "hi", true, false}},
		{"other guild", func(c *Config) { c.AllowedGuilds = []string{"G2"} }, msgEvent("1", "C1", "G1", "5", mention+" hi"),
			want{}},
		{"DM with allowed guilds", func(c *Config) { c.AllowedGuilds = []string{"G2"} }, msgEvent("1", "D1", "", "5", "hi"),
			want{true, "discord/main/D1", "D1", "hi", true, true}},
		{"other channel", func(c *Config) { c.AllowedChannels = []string{"C2"} }, msgEvent("1", "C1", "G1", "5", mention+" hi"),
			want{}},
		{"thread of an allowed channel", func(c *Config) { c.AllowedChannels = []string{"C9"} }, msgEvent("1", "TH1", "G1", "5", mention+" hi"),
			want{true, "discord/main/TH1", "TH1", "hi", true, false}},
		{"reply in thread: keyed by the thread to come", func(c *Config) { c.ReplyInThread = true }, msgEvent("42", "C1", "G1", "5", mention+" what is X?"),
			want{true, "discord/main/42", "C1", "what is X?", true, false}},
		{"reply in thread: no thread for plain messages", func(c *Config) { c.ReplyInThread = true }, msgEvent("42", "C1", "G1", "5", "chatting"),
			want{true, "discord/main/C1", "C1", "chatting", false, false}},
		{"reply in thread: the bot's thread is addressed", func(c *Config) { c.ReplyInThread = true }, msgEvent("42", "TB", "G1", "5", "and Y?"),
			want{true, "discord/main/TB", "TB", "and Y?", true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAdapter(t, f, tt.cfg)
			a.ready(&discordgo.Ready{User: &discordgo.User{ID: fakeBotID, Username: "bridgebot"}})
			m, ok := a.translate(context.Background(), event(t, tt.ev))
			got := want{ok, m.Key.String(), m.ChatID, m.Text, bridges.Admit(&m, "mention", "").Addressed, m.Private}
			if !ok {
				got = want{}
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("translate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTranslateIgnores(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, nil)
	a.ready(&discordgo.Ready{User: &discordgo.User{ID: fakeBotID, Username: "bridgebot"}})
	mention := "<@" + fakeBotID + "> hi"
	bot := msgEvent("1", "C1", "G1", "5", mention)
	bot["author"] = map[string]any{"id": "5", "username": "otherbot", "bot": true}
	self := msgEvent("1", "C1", "G1", fakeBotID, mention)
	hook := msgEvent("1", "C1", "G1", "5", mention)
	hook["webhook_id"] = "77"
	system := msgEvent("1", "C1", "G1", "5", mention)
	system["type"] = 7 // member join
	noAuthor := msgEvent("1", "C1", "G1", "5", mention)
	delete(noAuthor, "author")
	for name, ev := range map[string]map[string]any{
		"bot": bot, "self": self, "webhook": hook, "system message": system, "no author": noAuthor,
	} {
		t.Run(name, func(t *testing.T) {
			if m, ok := a.translate(context.Background(), event(t, ev)); ok {
				t.Errorf("translate() = %+v, want ignored", m)
			}
		})
	}
}

func TestTranslateAddressing(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, nil)
	a.ready(&discordgo.Ready{User: &discordgo.User{ID: fakeBotID, Username: "bridgebot"}})
	role := msgEvent("1", "C1", "G1", "5", "<@&"+fakeRole+"> what is X?")
	role["mention_roles"] = []any{fakeRole}
	otherRole := msgEvent("1", "C1", "G1", "5", "<@&940> what is X?")
	otherRole["mention_roles"] = []any{"940"}
	reply := msgEvent("1", "C1", "G1", "5", "and Y?")
	reply["type"] = 19
	reply["message_reference"] = map[string]any{"message_id": "77", "channel_id": "C1"}
	reply["referenced_message"] = msgEvent("77", "C1", "G1", fakeBotID, "an answer")
	replyOther := msgEvent("1", "C1", "G1", "5", "and Y?")
	replyOther["type"] = 19
	replyOther["referenced_message"] = msgEvent("77", "C1", "G1", "6", "a remark")
	tests := []struct {
		name      string
		ev        map[string]any
		text      string
		addressed bool
	}{
		{"managed role mention", role, "what is X?", true},
		{"other role mention", otherRole, "<@&940> what is X?", false},
		{"reply to the bot", reply, "and Y?", true},
		{"reply to someone else", replyOther, "and Y?", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := a.translate(context.Background(), event(t, tt.ev))
			if !ok || m.Text != tt.text || bridges.Admit(&m, "mention", "").Addressed != tt.addressed {
				t.Errorf("translate() = ok %v, text %q, addressed %v; want text %q, addressed %v",
					ok, m.Text, bridges.Admit(&m, "mention", "").Addressed, tt.text, tt.addressed)
			}
		})
	}
}

func TestCommandText(t *testing.T) {
	opt := func(v any) []*discordgo.ApplicationCommandInteractionDataOption {
		return []*discordgo.ApplicationCommandInteractionDataOption{{Name: "question", Type: discordgo.ApplicationCommandOptionString, Value: v}}
	}
	tests := []struct {
		name string
		data discordgo.ApplicationCommandInteractionData
		want string
		ok   bool
	}{
		{"ask", discordgo.ApplicationCommandInteractionData{Name: "ask", Options: opt(" what is X? ")}, "/ask what is X?", true},
		{"ask empty", discordgo.ApplicationCommandInteractionData{Name: "ask"}, "/ask", true},
		{"reset", discordgo.ApplicationCommandInteractionData{Name: "reset"}, "/reset", true},
		{"new", discordgo.ApplicationCommandInteractionData{Name: "new"}, "/new", true},
		{"stop", discordgo.ApplicationCommandInteractionData{Name: "stop"}, "/stop", true},
		{"help", discordgo.ApplicationCommandInteractionData{Name: "help"}, "/help", true},
		{"unknown", discordgo.ApplicationCommandInteractionData{Name: "play"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := commandText(tt.data)
			if got != tt.want || ok != tt.ok {
				t.Errorf("commandText(%s) = %q, %v; want %q, %v", tt.data.Name, got, ok, tt.want, tt.ok)
			}
		})
	}
	var names []string
	for _, c := range slashCommands() {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"ask", "reset", "new", "stop", "help"}, names); diff != "" {
		t.Errorf("slashCommands() names (-want +got):\n%s", diff)
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		scope, channel, user, want string
	}{
		{"", "C1", "U1", "discord/main/C1"},
		{"chat", "C1", "U1", "discord/main/C1"},
		{"user", "C1", "U1", "discord/main/U1"},
	}
	for _, tt := range tests {
		a := &Adapter{cfg: Config{Name: "main", Scope: tt.scope}}
		if got := a.key(tt.channel).String(); got != "discord/main/"+tt.channel {
			t.Errorf("key(%q) = %q, want the channel's key", tt.channel, got)
		}
		// The core applies the scope to the adapter's key.
		m := bridges.Message{Key: a.key(tt.channel), ChatID: tt.channel, UserID: tt.user, Text: "hi", Private: true}
		if got := bridges.Admit(&m, "mention", tt.scope).Key.String(); got != tt.want {
			t.Errorf("key(%q) by %q with scope %q = %q, want %q", tt.channel, tt.user, tt.scope, got, tt.want)
		}
	}
	var _ bridges.Key = (&Adapter{cfg: Config{Name: "x"}}).key("a")
}

func FuzzStripMentions(f *testing.F) {
	for _, s := range []string{"<@900> hi", "hey <@!900> there", "<@&950>/reset", "<@9000> no", "/ask <@900>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := stripMentions(s, fakeBotID, fakeRole)
		for _, tok := range []string{"<@900>", "<@!900>", "<@&950>"} {
			if strings.Count(got, tok) > strings.Count(s, tok) {
				t.Errorf("stripMentions(%q) = %q has more %s than its input", s, got, tok)
			}
		}
		if got != strings.TrimSpace(got) {
			t.Errorf("stripMentions(%q) = %q is not trimmed", s, got)
		}
	})
}

// TestAdmissionTable runs the core's same-decision table through the
// adapter end to end: each case becomes the MESSAGE_CREATE Discord would
// send (a DM or a guild channel, a mention of the bot, a reply to one of
// its messages), dispatched on the fake's gateway and translated by Run.
func TestAdmissionTable(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, func(c *Config) { c.SkipCommands = true })
	got := make(chan bridges.Message, 1)
	start(t, a, bridges.HandlerFunc(func(_ context.Context, m bridges.Message) error {
		got <- m
		return nil
	}))
	f.connected(t)
	n := 0
	bridgestest.CheckAdmission(t, func(t *testing.T, c bridgestest.AdmissionCase) (bridges.Message, bool) {
		n++
		id := fmt.Sprint(5000 + n)
		channel, guild := "C1", "G1"
		if c.Private {
			channel, guild = "D1", ""
		}
		text := c.Text
		if c.Mention {
			text = "<@" + fakeBotID + "> " + text
		}
		ev := msgEvent(id, channel, guild, "5", text)
		if c.ReplyToBot {
			ev = discordtest.ReplyTo(ev, "77", fakeBotID)
		}
		f.dispatch(t, "MESSAGE_CREATE", ev)
		select {
		case m := <-got:
			if m.ID != id {
				t.Fatalf("got message %s, want %s", m.ID, id)
			}
			return m, true
		case <-time.After(5 * time.Second):
			return bridges.Message{}, false // dropped by the adapter
		}
	})
}
