package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// The tests in this file run the real bridge binary against the Discord
// fake (bridges/discord/discordtest) and the fake LLM of e2e_test.go.

const dcE2EToken = "dc-e2e-SECRET-discord-token"

// newFakeDiscord returns the Discord fake accepting dcE2EToken, closed at
// the end of the test.
func newFakeDiscord(t *testing.T) *discordtest.Server {
	dc := discordtest.NewServer(discordtest.Options{Token: dcE2EToken, NoRateLimits: true})
	t.Cleanup(dc.Close)
	return dc
}

// dcConfig writes a configuration with one Discord instance, "main",
// talking to dc and answered by llm.
func dcConfig(t *testing.T, dc *discordtest.Server, llm *fakeLLM, listen string) string {
	t.Setenv("E2E_DC_TOKEN", dcE2EToken)
	return bridgeConfig(t, llm, listen, "5s", fmt.Sprintf(`
[discord.main]
token = "${E2E_DC_TOKEN}"
api_base_url = %q
edit_interval = "200ms"
`, dc.APIBase()))
}

// dcMention dispatches a guild message mentioning the bot, once the
// bridge's gateway session is up.
func dcMention(t *testing.T, dc *discordtest.Server, id, channel, text string) {
	t.Helper()
	waitFor(t, "the bridge's gateway session", 20*time.Second, func() bool { return dc.Ready(0) })
	if err := dc.Dispatch("MESSAGE_CREATE", discordtest.MessageCreate(id, channel, "G1", "5", "<@"+discordtest.BotID+"> "+text)); err != nil {
		t.Fatal(err)
	}
}

// dcCommand dispatches the slash command /ask question.
func dcCommand(t *testing.T, dc *discordtest.Server, id, channel, question string) {
	t.Helper()
	waitFor(t, "the bridge's gateway session", 20*time.Second, func() bool { return dc.Ready(0) })
	if err := dc.Dispatch("INTERACTION_CREATE", discordtest.Command(id, "itok-"+id, channel, "G1", "5", "ask", question)); err != nil {
		t.Fatal(err)
	}
}

// dcFirstEditAfter returns when the first edit of message id after t
// was answered, or the zero time.
func dcFirstEditAfter(dc *discordtest.Server, path string, t time.Time) time.Time {
	for _, r := range dc.Requests(func(r discordtest.Request) bool { return r.Method == "PATCH" && r.Path == path }) {
		if r.At.After(t) {
			return r.At
		}
	}
	return time.Time{}
}

// TestDiscordKillMidAnswer kills the real binary with SIGKILL while it
// streams an answer to a mention and to a slash command, restarts it on
// the same store, and checks that each answer completes in the message
// already posted (the mention's reply, the command's deferred
// response), that nothing is posted twice, that the backend is asked at
// most twice per question, and that the question answered before the
// kill is not asked again.
func TestDiscordKillMidAnswer(t *testing.T) {
	tests := []struct {
		name string
		ask  func(t *testing.T, dc *discordtest.Server, q string)
		// shown returns the bot's messages answering the question.
		shown func(dc *discordtest.Server) []discordtest.Message
		// path is the REST path that edits message id.
		path func(id string) string
	}{
		{"mention",
			func(t *testing.T, dc *discordtest.Server, q string) { dcMention(t, dc, "300", "C3", q) },
			func(dc *discordtest.Server) []discordtest.Message { return dc.Messages("C3") },
			func(id string) string { return "channels/C3/messages/" + id }},
		{"slash command",
			func(t *testing.T, dc *discordtest.Server, q string) { dcCommand(t, dc, "400", "C4", q) },
			func(dc *discordtest.Server) []discordtest.Message { return dc.Messages("C4") },
			func(string) string { return "webhooks/" + discordtest.AppID + "/itok-400/messages/@original" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := newFakeDiscord(t)
			llm := newFakeLLM(t, 10*time.Millisecond)
			listen := freePort(t)
			cfg := dcConfig(t, dc, llm, listen)

			p1 := startBridge(t, cfg)
			dcMention(t, dc, "100", "C1", "first question")
			waitFor(t, "the first answer", 20*time.Second, func() bool {
				ms := dc.Messages("C1")
				return len(ms) == 1 && ms[0].Content == answerFor("first question")
			})

			llm.setPace(150 * time.Millisecond) // the next answer streams slowly
			q := "slow " + tt.name
			tt.ask(t, dc, q)
			waitFor(t, "a progressive edit of the slow answer", 20*time.Second, func() bool {
				ms := tt.shown(dc)
				return len(ms) == 1 && strings.HasPrefix(ms[0].Content, "Answer to "+q) && ms[0].Content != answerFor(q)
			})
			before := tt.shown(dc)[0]
			killed, _ := kill(t, p1)

			llm.setPace(10 * time.Millisecond)
			restarted := time.Now() // p1 has exited: later requests are p2's
			p2 := startBridge(t, cfg)
			waitFor(t, "the answer completed after the restart", 20*time.Second, func() bool {
				ms := tt.shown(dc)
				return len(ms) > 0 && ms[len(ms)-1].Content == answerFor(q)
			})
			checkRecovery(t, killed, dcFirstEditAfter(dc, tt.path(before.ID), restarted))

			ms := tt.shown(dc)
			if len(ms) != 1 || ms[0].ID != before.ID || ms[0].Content != answerFor(q) {
				t.Errorf("messages after the restart = %+v, want only message %s, ending with the whole answer", ms, before.ID)
			}
			posts := dc.Requests(func(r discordtest.Request) bool {
				return r.Method == "POST" && (r.Path == "channels/C3/messages" || r.Path == "channels/C4/messages" ||
					strings.HasPrefix(r.Path, "webhooks/"))
			})
			if want := map[bool]int{true: 1, false: 0}[tt.name == "mention"]; len(posts) != want {
				t.Errorf("%d posts for the answer, want %d (the mention's reply; a command's answer is its deferred response)", len(posts), want)
			}
			callbacks := dc.Requests(func(r discordtest.Request) bool { return strings.HasPrefix(r.Path, "interactions/") })
			if tt.name != "mention" && len(callbacks) != 1 {
				t.Errorf("%d interaction callbacks, want the one deferred response", len(callbacks))
			}
			checkAsked(t, llm, q, "first question")
			if n := len(dc.Messages("C1")); n != 1 {
				t.Errorf("%d messages answer the first question, want 1", n)
			}
			checkNoSecrets(t, p1.stderr.String()+p2.stderr.String(), dcE2EToken, "SECRET", "itok-")
		})
	}
}

// TestDiscordRefusedIsNotAnswered: when Discord refuses every post with
// a lasting refusal (403, Missing Permissions), the message is counted
// failed with reason forbidden, never answered, and the log has no
// "answered" line.
func TestDiscordRefusedIsNotAnswered(t *testing.T) {
	dc := newFakeDiscord(t)
	llm := newFakeLLM(t, 5*time.Millisecond)
	listen := freePort(t)
	p := startBridge(t, dcConfig(t, dc, llm, listen))
	dc.Fail("POST /channels/{channel}/messages", -1, 403, 50013, "Missing Permissions")
	dcMention(t, dc, "500", "C5", "refused question")

	checkNeverAnswered(t, p, listen, "discord")
	if n := len(dc.Messages("C5")); n != 0 {
		t.Errorf("%d messages landed, want none", n)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "Missing Permissions") {
		t.Errorf("the log lacks Discord's reason:\n%s", logs)
	}
}
