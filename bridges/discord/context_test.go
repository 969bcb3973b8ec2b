package discord

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
	"github.com/chat-bridge/chat-bridge/store/storetest"
)

// readyAdapter returns an adapter talking to f that knows who the bot is
// (as after READY), for calling translate directly.
func readyAdapter(t *testing.T, f *fake, mod func(*Config)) *Adapter {
	a := newAdapter(t, f, mod)
	a.ready(&discordgo.Ready{User: &discordgo.User{ID: fakeBotID, Username: discordtest.BotName}})
	return a
}

// TestSlashCommandLocalizations: the commands registered at start carry
// description_localizations in every Discord locale of
// bridges.Languages, from HelpIn and ArgHelpIn.
func TestSlashCommandLocalizations(t *testing.T) {
	f := newFake(t)
	h, _ := collect()
	start(t, newAdapter(t, f, nil), h)
	f.wait(t, "slash command registration", func() bool {
		return len(f.requests(func(r discordtest.Request) bool { return r.Method == "PUT" })) > 0
	})
	put := f.requests(func(r discordtest.Request) bool { return r.Method == "PUT" })[0]
	var cmds []struct {
		Name                     string            `json:"name"`
		Description              string            `json:"description"`
		DescriptionLocalizations map[string]string `json:"description_localizations"`
		Options                  []struct {
			Name                     string            `json:"name"`
			DescriptionLocalizations map[string]string `json:"description_localizations"`
		} `json:"options"`
	}
	if err := put.Decode(&cmds); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"fr": "fr", "es-ES": "es", "es-419": "es", "ru": "ru", "zh-CN": "zh-Hans", "zh-TW": "zh-Hant",
		"de": "de", "ja": "jp", "pt-BR": "pt", "hi": "hi", "ko": "ko", "it": "it", "uk": "uk"}
	if len(cmds) != len(bridges.Commands) {
		t.Fatalf("%d commands registered, want %d", len(cmds), len(bridges.Commands))
	}
	for i, c := range bridges.Commands {
		got := cmds[i]
		wantDesc := map[string]string{}
		for loc, lang := range want {
			wantDesc[loc] = c.HelpIn(lang)
		}
		if diff := cmp.Diff(wantDesc, got.DescriptionLocalizations); diff != "" {
			t.Errorf("/%s description_localizations (-want +got):\n%s", c.Name, diff)
		}
		if c.Arg == "" {
			continue
		}
		if len(got.Options) != 1 {
			t.Fatalf("/%s options = %+v, want one", c.Name, got.Options)
		}
		wantArg := map[string]string{}
		for loc, lang := range want {
			wantArg[loc] = c.ArgHelpIn(lang)
		}
		if diff := cmp.Diff(wantArg, got.Options[0].DescriptionLocalizations); diff != "" {
			t.Errorf("/%s option description_localizations (-want +got):\n%s", c.Name, diff)
		}
	}
}

// TestFacts: what translate and the interaction path report about where
// a message was written, through discordgo from the fake's events.
func TestFacts(t *testing.T) {
	f := newFake(t)
	f.SetGuild(discordtest.Guild{ID: "G2", OwnerID: "1", PreferredLocale: "de", Roles: []discordtest.Role{{ID: "G2"}}})
	f.AddChannel(discordtest.Channel{ID: "T9", Type: 11, ParentID: "C1", OwnerID: "77", GuildID: "G1"})
	f.AddChannel(discordtest.Channel{ID: "TB", Type: 11, ParentID: "C1", OwnerID: fakeBotID, GuildID: "G1"})
	mention := "<@" + fakeBotID + "> "
	withAttachment := func(d map[string]any) map[string]any {
		d["attachments"] = []any{map[string]any{"id": "a1", "filename": "cat.png", "url": "https://cdn.example/cat.png"}}
		return d
	}
	type facts struct {
		Text, Locale, Space, ReplyToID string
		InThread, NonText              bool
	}
	tests := []struct {
		name string
		ev   map[string]any
		want facts
	}{
		{"guild locale", msgEvent("1", "C2", "G2", "5", mention+"hallo"), facts{Text: "hallo", Locale: "de", Space: "G2"}},
		{"default guild", msgEvent("1", "C1", "G1", "5", mention+"hi"), facts{Text: "hi", Locale: "en-US", Space: "G1"}},
		{"direct message", msgEvent("1", "D1", "", "5", "hi"), facts{Text: "hi"}},
		{"mention in someone's thread", msgEvent("1", "T9", "G1", "5", mention+"sum up"), facts{Text: "sum up", Locale: "en-US", Space: "G1", InThread: true}},
		{"plain message in someone's thread", msgEvent("1", "T9", "G1", "5", "chatting"), facts{Text: "chatting", Locale: "en-US", Space: "G1"}},
		{"mention in the bot's thread", msgEvent("1", "TB", "G1", "5", mention+"more"), facts{Text: "more", Locale: "en-US", Space: "G1"}},
		{"reply to a user", discordtest.ReplyTo(msgEvent("2", "C1", "G1", "5", mention+"is that right?"), "1", "6"),
			facts{Text: "is that right?", Locale: "en-US", Space: "G1", InThread: true, ReplyToID: "1"}},
		{"reply to the bot", discordtest.ReplyTo(msgEvent("2", "C1", "G1", "5", "and then?"), "1", fakeBotID),
			facts{Text: "and then?", Locale: "en-US", Space: "G1", ReplyToID: "1"}},
		{"picture only", withAttachment(msgEvent("1", "C1", "G1", "5", mention)), facts{Locale: "en-US", Space: "G1", NonText: true}},
		{"picture with a caption", withAttachment(msgEvent("1", "D1", "", "5", "what is this?")), facts{Text: "what is this?"}},
		{"sticker only", func() map[string]any {
			d := msgEvent("1", "D1", "", "5", "")
			d["sticker_items"] = []any{map[string]any{"id": "s1", "name": "wave", "format_type": 1}}
			return d
		}(), facts{NonText: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := readyAdapter(t, f, nil)
			m, ok := a.translate(context.Background(), event(t, tt.ev))
			if !ok {
				t.Fatal("message dropped")
			}
			got := facts{m.Text, m.Locale, m.Space, m.ReplyToID, m.InThread, m.NonText}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("slash command locale", func(t *testing.T) {
		h, got := collect()
		start(t, newAdapter(t, f, nil), h)
		ev := commandEvent("800", "itok800", "C8", "G2", "5", "ask", "wie?")
		ev["locale"], ev["guild_locale"] = "pt-BR", "de"
		f.dispatch(t, "INTERACTION_CREATE", ev)
		m := received(t, got, "the command")
		if m.Locale != "pt-BR" || m.Space != "G2" {
			t.Errorf("Locale, Space = %q, %q, want the user's pt-BR and G2", m.Locale, m.Space)
		}
	})
}

// TestThreadHistory: a mention inside a thread the bot did not start
// reads the thread's earlier messages (in order, the bot's flagged, its
// mention stripped, bounded); a reply reads the replied-to message; a
// question outside any thread reads nothing.
func TestThreadHistory(t *testing.T) {
	f := newFake(t)
	f.AddChannel(discordtest.Channel{ID: "T9", Type: 11, ParentID: "C1", OwnerID: "77", GuildID: "G1"})
	h, got := collect()
	a := newAdapter(t, f, nil)
	start(t, a, h)
	mention := "<@" + fakeBotID + "> "
	// Five earlier messages: four users' (one mentions the bot) and the
	// bot's own answer.
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("101", "T9", "G1", "6", "the build is red"))
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("102", "T9", "G1", "7", "since when?"))
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("103", "T9", "G1", "6", mention+"why is the build red?"))
	first := receivedID(t, got, "103")
	f.AddMessage("T9", "Probably the flaky test.")
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("105", "T9", "G1", "7", "it is the flaky test"))
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("106", "T9", "G1", "5", mention+"sum up the thread"))
	m := receivedID(t, got, "106")
	if !first.InThread || !m.InThread {
		t.Fatalf("InThread = %v, %v, want true for mentions in someone's thread", first.InThread, m.InThread)
	}
	all, err := a.ThreadHistory(context.Background(), &m, 20)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		FromBot      bool
		Author, Text string
	}
	var lines []line
	for _, tm := range all {
		lines = append(lines, line{tm.FromBot, tm.Author, tm.Text})
	}
	want := []line{
		{false, "user6", "the build is red"},
		{false, "user7", "since when?"},
		{false, "user6", "why is the build red?"},
		{true, discordtest.BotName, "Probably the flaky test."},
		{false, "user7", "it is the flaky test"},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("thread history (-want +got):\n%s", diff)
	}
	reqs := f.requests(func(r discordtest.Request) bool {
		return r.Method == "GET" && strings.HasPrefix(r.Path, "channels/T9/messages")
	})
	if len(reqs) != 1 {
		t.Fatalf("%d history requests, want 1", len(reqs))
	}
	bounded, err := a.ThreadHistory(context.Background(), &m, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(bounded) != 2 || bounded[0].Text != "Probably the flaky test." || bounded[1].Text != "it is the flaky test" {
		t.Errorf("history bounded to 2 = %+v, want the last two", bounded)
	}

	f.dispatch(t, "MESSAGE_CREATE", discordtest.ReplyTo(msgEvent("201", "C1", "G1", "5", mention+"is that right?"), "200", "6"))
	r := receivedID(t, got, "201")
	hist, err := a.ThreadHistory(context.Background(), &r, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Text != "an earlier message" || hist[0].Author != "user6" || hist[0].FromBot {
		t.Errorf("reply history = %+v, want the replied-to message", hist)
	}

	before := len(f.requests(nil))
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("301", "C1", "G1", "5", mention+"a fresh question"))
	q := receivedID(t, got, "301")
	hist, err = a.ThreadHistory(context.Background(), &q, 20)
	if err != nil || len(hist) != 0 || q.InThread {
		t.Errorf("history outside a thread = %+v, %v (InThread %v), want none", hist, err, q.InThread)
	}
	for _, r := range f.requests(nil)[before:] {
		if strings.Contains(r.Path, "/messages") && r.Method == "GET" {
			t.Errorf("a history request outside a thread: %s", r.Path)
		}
	}
}

// receivedID returns the next message with id on got, skipping others.
func receivedID(t *testing.T, got <-chan bridges.Message, id string) bridges.Message {
	t.Helper()
	for {
		if m := received(t, got, "message "+id); m.ID == id {
			return m
		}
	}
}

// TestIsAdmin: Manage Messages or Administrator in the channel, from the
// interaction's permissions or from the member's roles, the guild's
// roles and the channel's overwrites.
func TestIsAdmin(t *testing.T) {
	f := newFake(t)
	f.SetGuild(discordtest.Guild{ID: "G3", OwnerID: "1", PreferredLocale: "en-US", Roles: []discordtest.Role{
		{ID: "G3"},
		{ID: "940", Name: "mods", Permissions: discordtest.PermManageMessages},
		{ID: "941", Name: "admins", Permissions: discordtest.PermAdministrator},
		{ID: "942", Name: "helpers"},
	}})
	f.AddChannel(discordtest.Channel{ID: "CX", GuildID: "G3", PermissionOverwrites: []discordtest.Overwrite{
		{ID: "940", Type: 0, Deny: discordtest.PermManageMessages}, // mods are not mods here
		{ID: "942", Type: 0, Allow: discordtest.PermManageMessages},
		{ID: "9", Type: 1, Allow: discordtest.PermManageMessages},
	}})
	f.AddChannel(discordtest.Channel{ID: "TX", Type: 11, ParentID: "CX", OwnerID: "77", GuildID: "G3"})
	f.SetMember("G3", "8", "940")
	withRoles := func(d map[string]any, roles ...string) map[string]any {
		rs := []any{}
		for _, r := range roles {
			rs = append(rs, r)
		}
		d["member"] = map[string]any{"roles": rs}
		return d
	}
	tests := []struct {
		name string
		ev   map[string]any
		want bool
	}{
		{"owner", withRoles(msgEvent("1", "C3", "G3", "1", "x")), true},
		{"mod", withRoles(msgEvent("1", "C3", "G3", "5", "x"), "940"), true},
		{"administrator", withRoles(msgEvent("1", "C3", "G3", "5", "x"), "941"), true},
		{"member", withRoles(msgEvent("1", "C3", "G3", "5", "x"), "942"), false},
		{"no roles", withRoles(msgEvent("1", "C3", "G3", "5", "x")), false},
		{"roles looked up", msgEvent("1", "C3", "G3", "8", "x"), true},
		{"mod denied in the channel", withRoles(msgEvent("1", "CX", "G3", "5", "x"), "940"), false},
		{"helper allowed in the channel", withRoles(msgEvent("1", "CX", "G3", "5", "x"), "942"), true},
		{"member allowed in the channel", withRoles(msgEvent("1", "CX", "G3", "9", "x")), true},
		{"thread: the parent's overwrites", withRoles(msgEvent("1", "TX", "G3", "5", "x"), "942"), true},
		{"administrator beats overwrites", withRoles(msgEvent("1", "CX", "G3", "5", "x"), "940", "941"), true},
		{"direct message", msgEvent("1", "D1", "", "5", "x"), true},
	}
	a := readyAdapter(t, f, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := a.translate(context.Background(), event(t, tt.ev))
			if !ok {
				t.Fatal("message dropped")
			}
			got, err := a.IsAdmin(context.Background(), &m)
			if err != nil || got != tt.want {
				t.Errorf("IsAdmin = %v, %v, want %v", got, err, tt.want)
			}
		})
	}
	guildGets := f.requests(func(r discordtest.Request) bool { return r.Method == "GET" && r.Path == "guilds/G3" })
	if len(guildGets) != 1 {
		t.Errorf("%d guild lookups, want 1 (cached)", len(guildGets))
	}

	t.Run("slash command permissions", func(t *testing.T) {
		for _, tt := range []struct {
			perms string
			want  bool
		}{{"8192", true}, {"8", true}, {"2048", false}} {
			it := &discordgo.Interaction{ID: "1", GuildID: "G3", ChannelID: "C3",
				Member: &discordgo.Member{User: &discordgo.User{ID: "5"}}}
			var err error
			if it.Member.Permissions, err = strconv.ParseInt(tt.perms, 10, 64); err != nil {
				t.Fatal(err)
			}
			got, err := a.IsAdmin(context.Background(), &bridges.Message{UserID: "5", Ref: &interactionRef{it: it}})
			if err != nil || got != tt.want {
				t.Errorf("permissions %s: IsAdmin = %v, %v, want %v", tt.perms, got, err, tt.want)
			}
		}
	})

	t.Run("cached briefly", func(t *testing.T) {
		c := storetest.NewClock()
		b := newAdapterClock(t, f, c.Now)
		b.ready(&discordgo.Ready{User: &discordgo.User{ID: fakeBotID}})
		m, _ := b.translate(context.Background(), event(t, withRoles(msgEvent("1", "C3", "G3", "5", "x"), "940")))
		n := func() int {
			return len(f.requests(func(r discordtest.Request) bool { return r.Method == "GET" && r.Path == "guilds/G3" }))
		}
		n0 := n()
		b.IsAdmin(context.Background(), &m)
		if n() != n0 {
			t.Errorf("a second lookup within the minute")
		}
		c.Advance(guildTTL + time.Second)
		b.IsAdmin(context.Background(), &m)
		if n() != n0+1 {
			t.Errorf("no new lookup after %s", guildTTL)
		}
	})
}

// TestEdited: MESSAGE_UPDATE of a user's message with a new text reaches
// the handler as the same message, Edited; an update without an edit
// (an embed unfurled) or with the same text does not.
func TestEdited(t *testing.T) {
	f := newFake(t)
	h, got := collect()
	start(t, newAdapter(t, f, nil), h)
	mention := "<@" + fakeBotID + "> "
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("50", "D1", "", "5", "what is X?"))
	if m := received(t, got, "the question"); m.Edited {
		t.Fatalf("a new message is Edited")
	}
	edited := func(content string, stamp bool) map[string]any {
		d := msgEvent("50", "D1", "", "5", content)
		if stamp {
			d["edited_timestamp"] = "2026-01-02T03:05:00Z"
		}
		return d
	}
	f.dispatch(t, "MESSAGE_UPDATE", edited("what is X?", false)) // an embed, no edit
	f.dispatch(t, "MESSAGE_UPDATE", edited("what is Y?", true))
	m := received(t, got, "the edit")
	if !m.Edited || m.ID != "50" || m.Text != "what is Y?" {
		t.Errorf("edit = %+v, want message 50 Edited with the new text", m)
	}
	f.dispatch(t, "MESSAGE_UPDATE", edited("what is Y?", true)) // the same text again
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("51", "C1", "G1", "5", mention+"next"))
	if m := received(t, got, "the next message"); m.ID != "51" {
		t.Errorf("got %+v, want message 51 (updates without a new text are dropped)", m)
	}
}

// TestLastError: a failed gateway discovery is the instance's last
// error for /readyz, with its time and Discord's answer.
func TestLastError(t *testing.T) {
	f := newFake(t)
	f.Fail("GET /gateway/bot", 1, 500, 0, "Internal Server Error")
	a := newAdapter(t, f, nil)
	if msg, _ := a.LastError(); msg != "" {
		t.Fatalf("LastError before Run = %q", msg)
	}
	h, _ := collect()
	start(t, a, h)
	f.connected(t)
	msg, since := a.LastError()
	if !strings.Contains(msg, "GET gateway/bot: HTTP 500") || since.IsZero() {
		t.Errorf("LastError = %q, %v, want the failed discovery and its time", msg, since)
	}
	if strings.Contains(msg, fakeToken) {
		t.Errorf("LastError reveals the token")
	}
}
