package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// Kill tests of the Telegram instance (issue 12): the real binary is
// killed with SIGKILL mid-answer and restarted on the same store; the
// answer must complete in what was already shown, never twice.

// tgKillConfig is the configuration of these tests: the Telegram
// instance with drafts as the default has them (on) unless drafts is
// "false", and a 30 s long poll, so that recovery cannot wait for a poll
// to return.
func tgKillConfig(t *testing.T, tg *telegramtest.Server, llm *fakeLLM, listen, drafts string) string {
	t.Helper()
	d := ""
	if drafts != "" {
		d = "drafts = " + drafts
	}
	return bridgeConfig(t, llm, listen, "5s", fmt.Sprintf(`
[telegram.main]
token = "${E2E_TG_TOKEN}"
api_endpoint = %q
poll_timeout = "30s"
respond = "mention"
edit_interval = "200ms"
%s
`, tg.Endpoint(), d))
}

// firstCallAfter is the earliest request of one of methods that arrived
// after t, and whether there was one.
func firstCallAfter(tg *telegramtest.Server, t time.Time, methods ...string) (time.Time, bool) {
	var first time.Time
	for _, m := range methods {
		for _, at := range tg.CallTimes(m) {
			if at.After(t) && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	return first, !first.IsZero()
}

// answeredEarlier asks q in private chat and waits for its answer to be
// counted, so that it is out of the inbox before the kill.
func answeredEarlier(t *testing.T, tg *telegramtest.Server, listen string, chat int64, q string) {
	t.Helper()
	ask(tg, chat, q)
	waitFor(t, "the earlier answer", 20*time.Second, func() bool { return tg.Visible(chat) == answerFor(q) })
	waitAnswered(t, "the earlier answer counted", listen, 1)
}

// checkResumed asserts what every kill test promises for the question q
// asked in chat, after the restart: one message with exactly the
// backend's answer, the backend asked at most twice for q and once for
// the earlier question, and the recovery time (kill → the first request
// of the restarted process for the answer) under 3 s.
func checkResumed(t *testing.T, tg *telegramtest.Server, llm *fakeLLM, chat int64, q, earlier string, killedAt, gone time.Time) {
	t.Helper()
	want := answerFor(q)
	waitFor(t, "the resumed answer", 30*time.Second, func() bool { return tg.Visible(chat) == want })
	first, _ := firstCallAfter(tg, gone, "sendMessageDraft", "sendMessage", "editMessageText")
	checkRecovery(t, killedAt, first)
	msgs := tg.BotMessages(chat)
	if len(msgs) != 1 {
		t.Errorf("the bot posted %d messages in chat %d, want 1 (the answer, never twice): %+v", len(msgs), chat, msgs)
	} else if msgs[0].Deleted || msgs[0].Text != want {
		t.Errorf("the answer's message shows %q (deleted %v), want exactly %q", msgs[0].Text, msgs[0].Deleted, want)
	}
	checkAsked(t, llm, q, earlier)
}

// tgKill is a kill test of the Telegram instance: the fakes, the
// configuration and the first run of the binary, which has answered
// "earlier question" in chat 100 and then streams slowly.
type tgKill struct {
	tg             *telegramtest.Server
	llm            *fakeLLM
	listen, cfg    string
	p1             *bridgeProc
	killedAt, gone time.Time
}

func startTgKill(t *testing.T) *tgKill {
	t.Helper()
	k := &tgKill{tg: newFakeTelegram(t), llm: newFakeLLM(t, 10*time.Millisecond), listen: freePort(t)}
	k.cfg = tgKillConfig(t, k.tg, k.llm, k.listen, "")
	bridgeBinary(t)
	k.p1 = startBridge(t, k.cfg)
	answeredEarlier(t, k.tg, k.listen, 100, "earlier question")
	k.llm.setPace(150 * time.Millisecond) // about 6 s per answer
	return k
}

// kill ends the first run with SIGKILL.
func (k *tgKill) kill(t *testing.T) { k.killedAt, k.gone = kill(t, k.p1) }

// resume restarts the binary on the same store, the backend at full
// speed, and checks the answer to q in chat as checkResumed does.
func (k *tgKill) resume(t *testing.T, chat int64, q string) *bridgeProc {
	t.Helper()
	k.llm.setPace(10 * time.Millisecond)
	p2 := startBridge(t, k.cfg)
	checkResumed(t, k.tg, k.llm, chat, q, "earlier question", k.killedAt, k.gone)
	return p2
}

// TestKillPrivateDrafts: in a private chat with drafts on (the default),
// a SIGKILL while the answer streams as a draft, then a restart: the
// answer continues under the same draft and ends as ONE message with
// the final text.
func TestKillPrivateDrafts(t *testing.T) {
	k := startTgKill(t)
	tg := k.tg
	const chat, q = 200, "slow question"
	ask(tg, chat, q)
	waitFor(t, "the answer's first draft", 20*time.Second, func() bool {
		d := tg.Drafts(chat)
		return len(d) > 0 && strings.HasPrefix(d[len(d)-1].Text, "Answer to")
	})
	if n := len(tg.BotMessages(chat)); n != 0 {
		t.Fatalf("%d messages before the kill, want only drafts", n)
	}
	k.kill(t)
	before := tg.Drafts(chat)
	p2 := k.resume(t, chat, q)

	// The resumed answer continued the draft shown before the kill.
	after := tg.Drafts(chat)[len(before):]
	for _, d := range after {
		if d.DraftID != before[0].DraftID {
			t.Errorf("a resumed draft has draft_id %s, want %s as before the kill (one draft, not two)", d.DraftID, before[0].DraftID)
			break
		}
	}
	if !strings.Contains(p2.stderr.String(), "inbox: resuming") {
		t.Errorf("the restart did not log the resumed inbox")
	}
}

// TestKillGroupMention: in a group (a mention; Telegram's 20/min group
// budget is on in the fake), a SIGKILL after the answer's message was
// posted, then a restart: the answer is finished by editing that same
// message.
func TestKillGroupMention(t *testing.T) {
	k := startTgKill(t)
	tg := k.tg
	const chat, q = -100500, "slow question"
	mentionBot(tg, chat, 7, q)
	waitFor(t, "the answer's message", 20*time.Second, func() bool {
		return strings.HasPrefix(tg.Visible(chat), "Answer to")
	})
	k.kill(t)
	posted := tg.BotMessages(chat)
	if len(posted) != 1 || posted[0].Text == answerFor(q) {
		t.Fatalf("before the kill: %+v, want one message with a partial answer", posted)
	}
	k.resume(t, chat, q)
	if msgs := tg.BotMessages(chat); len(msgs) == 1 && msgs[0].ID != posted[0].ID {
		t.Errorf("the answer is message %d, want %d, the one posted before the kill", msgs[0].ID, posted[0].ID)
	}
	if n := tg.Stats().TooMany[telegramtest.ScopeGroup]; n != 0 {
		t.Errorf("%d 429s of the group limit, want none", n)
	}
}

// mentionBot queues "@bot text" from user in group chat.
func mentionBot(tg *telegramtest.Server, chat, user int64, text string) {
	at := "@" + tg.Bot().UserName
	tg.Queue(telegramtest.In{Chat: chat, From: user, Text: at + " " + text,
		Entities: []telegramtest.Entity{{Type: "mention", Offset: 0, Length: len(utf16.Encode([]rune(at)))}}})
}

// TestRefusedEditsNotAnswered: when Telegram refuses every edit for good
// (the bot was kicked while answering), the message is not counted
// answered: the failed metric has the reason, the log has no "answered"
// line, and it is not kept pending for a retry.
func TestRefusedEditsNotAnswered(t *testing.T) {
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 50*time.Millisecond) // about 2 s per answer
	listen := freePort(t)
	cfg := tgKillConfig(t, tg, llm, listen, "")
	tg.Fail("editMessageText", -1, http.StatusForbidden, "Forbidden: bot was kicked from the supergroup chat", 0)

	p := startBridge(t, cfg)
	const chat = -100600
	mentionBot(tg, chat, 7, "doomed question")
	checkNeverAnswered(t, p, listen, "telegram")
	if len(tg.Calls("editMessageText")) == 0 {
		t.Errorf("no edit was tried")
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "bot was kicked") || !strings.Contains(logs, "reason=forbidden") {
		t.Errorf("the log lacks the platform's reason")
	}
	if strings.Contains(logs, "stays pending") {
		t.Errorf("a lasting refusal was kept pending for a retry")
	}
	if n := llm.asked("doomed question"); n != 1 {
		t.Errorf("the backend was asked %d times, want once (a lasting refusal is not retried)", n)
	}
}

// TestReadyzTelegramLastError: /readyz names the Telegram instance's last
// error (method, status, Telegram's description, never the token) and
// since when, while its polls are refused.
func TestReadyzTelegramLastError(t *testing.T) {
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 10*time.Millisecond)
	listen := freePort(t)
	tg.Fail("getUpdates", -1, http.StatusBadGateway, "Bad Gateway: upstream /bot"+e2eToken+" down", 0)
	startBridge(t, tgKillConfig(t, tg, llm, listen, ""))
	var body string
	waitFor(t, "/readyz to name the error", 15*time.Second, func() bool {
		code, b, err := get("http://" + listen + "/readyz")
		body = b
		return err == nil && code == http.StatusServiceUnavailable && strings.Contains(body, "getUpdates: http 502: Bad Gateway")
	})
	if !strings.Contains(body, `"error_since"`) || !strings.Contains(body, `"reason": "not connected"`) {
		t.Errorf("/readyz = %s, want the reason and since when", body)
	}
	if strings.Contains(body, e2eToken) || strings.Contains(body, "e2e-SECRET") {
		t.Errorf("/readyz reveals the token: %s", body)
	}
}

// TestCheckTelegramWebhook: `bridge check` passes for a Telegram webhook
// instance against the fake (the webhook needs [http] listen, which it
// has) and reports the webhook.
func TestCheckTelegramWebhook(t *testing.T) {
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 0)
	cfg := writeFile(t, "config.toml", fmt.Sprintf(`
[store]
path = %q
[http]
listen = %q
[backends.llm]
kind = "openai"
base_url = %q
bot_id = "test-model"
api_key = "${E2E_LLM_KEY}"
[telegram.main]
token = "${E2E_TG_TOKEN}"
api_endpoint = %q
webhook_url = "https://bot.example.org/tg/hook"
webhook_secret = "s3cr3t_hook"
`, filepath.Join(t.TempDir(), "bridge.db"), freePort(t), llm.srv.URL+"/llm/v1", tg.Endpoint()))
	cmd := bridgeCommand(t, "check", "--config", cfg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bridge check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "telegram.main: ok: telegram/main: @test_bot") || !strings.Contains(string(out), "webhook https://bot.example.org/tg/hook") {
		t.Errorf("bridge check output lacks the instance's report:\n%s", out)
	}
	if strings.Contains(string(out), e2eToken) || strings.Contains(string(out), "s3cr3t_hook") {
		t.Errorf("bridge check reveals a secret:\n%s", out)
	}
}
