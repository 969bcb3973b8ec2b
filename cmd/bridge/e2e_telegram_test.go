package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	dir := t.TempDir()
	d := ""
	if drafts != "" {
		d = "drafts = " + drafts
	}
	return writeFile(t, "config.toml", fmt.Sprintf(`
[store]
path = %q
[http]
listen = %q
[log]
level = "debug"
[bridge]
shutdown_grace = "5s"
[backends.llm]
kind = "openai"
base_url = %q
bot_id = "test-model"
api_key = "${E2E_LLM_KEY}"
idle_timeout = "10s"
[telegram.main]
token = "${E2E_TG_TOKEN}"
api_endpoint = %q
poll_timeout = "30s"
respond = "mention"
edit_interval = "200ms"
%s
`, filepath.Join(dir, "bridge.db"), listen, llm.srv.URL+"/llm/v1", tg.Endpoint(), d))
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

// kill ends p with SIGKILL and waits for its exit; it returns when the
// signal was sent and when the process was gone.
func kill(t *testing.T, p *bridgeProc) (at, gone time.Time) {
	t.Helper()
	at = time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.done <- <-p.done // wait for the exit, keep it for the cleanup
	return at, time.Now()
}

// metricsNow scrapes /metrics, "" while the server is not listening yet.
func metricsNow(listen string) string {
	resp, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// answeredEarlier asks q in private chat and waits for its answer to be
// counted, so that it is out of the inbox before the kill.
func answeredEarlier(t *testing.T, tg *telegramtest.Server, listen string, chat int64, q string) {
	t.Helper()
	ask(tg, chat, q)
	waitFor(t, "the earlier answer", 20*time.Second, func() bool { return tg.Visible(chat) == answerFor(q) })
	waitFor(t, "the earlier answer counted", 10*time.Second, func() bool {
		body := metricsNow(listen)
		return metricValue(body, `chatbridge_messages_total{backend="llm",instance="main",outcome="answered"`) >= 1
	})
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
	first, ok := firstCallAfter(tg, gone, "sendMessageDraft", "sendMessage", "editMessageText")
	if !ok {
		t.Fatal("no request of the resumed answer after the kill")
	}
	rec := first.Sub(killedAt)
	t.Logf("recovery: kill → the resumed answer's first edit %s", rec.Round(time.Millisecond))
	if rec > 3*time.Second {
		t.Errorf("recovery took %s, want under 3s in a quiet chat", rec)
	}
	msgs := tg.BotMessages(chat)
	if len(msgs) != 1 {
		t.Errorf("the bot posted %d messages in chat %d, want 1 (the answer, never twice): %+v", len(msgs), chat, msgs)
	} else if msgs[0].Deleted || msgs[0].Text != want {
		t.Errorf("the answer's message shows %q (deleted %v), want exactly %q", msgs[0].Text, msgs[0].Deleted, want)
	}
	if n := llm.asked(q); n < 1 || n > 2 {
		t.Errorf("the backend was asked %d times for %q, want at most twice", n, q)
	}
	if n := llm.asked(earlier); n != 1 {
		t.Errorf("the backend was asked %d times for the earlier question, want once", n)
	}
}

// TestKillPrivateDrafts: in a private chat with drafts on (the default),
// a SIGKILL while the answer streams as a draft, then a restart: the
// answer continues under the same draft and ends as ONE message with
// the final text.
func TestKillPrivateDrafts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 10*time.Millisecond)
	listen := freePort(t)
	cfg := tgKillConfig(t, tg, llm, listen, "")
	bridgeBinary(t)

	p1 := startBridge(t, cfg)
	answeredEarlier(t, tg, listen, 100, "earlier question")

	llm.setPace(150 * time.Millisecond) // about 6 s per answer
	const chat, q = 200, "slow question"
	ask(tg, chat, q)
	waitFor(t, "the answer's first draft", 20*time.Second, func() bool {
		d := tg.Drafts(chat)
		return len(d) > 0 && strings.HasPrefix(d[len(d)-1].Text, "Answer to")
	})
	if n := len(tg.BotMessages(chat)); n != 0 {
		t.Fatalf("%d messages before the kill, want only drafts", n)
	}
	killedAt, gone := kill(t, p1)
	before := tg.Drafts(chat)

	llm.setPace(10 * time.Millisecond)
	p2 := startBridge(t, cfg)
	checkResumed(t, tg, llm, chat, q, "earlier question", killedAt, gone)

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
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 10*time.Millisecond)
	listen := freePort(t)
	cfg := tgKillConfig(t, tg, llm, listen, "")
	bridgeBinary(t)

	p1 := startBridge(t, cfg)
	answeredEarlier(t, tg, listen, 100, "earlier question")

	llm.setPace(150 * time.Millisecond)
	const chat, q = -100500, "slow question"
	mentionBot(tg, chat, 7, q)
	waitFor(t, "the answer's message", 20*time.Second, func() bool {
		return strings.HasPrefix(tg.Visible(chat), "Answer to")
	})
	killedAt, gone := kill(t, p1)
	posted := tg.BotMessages(chat)
	if len(posted) != 1 || posted[0].Text == answerFor(q) {
		t.Fatalf("before the kill: %+v, want one message with a partial answer", posted)
	}

	llm.setPace(10 * time.Millisecond)
	startBridge(t, cfg)
	checkResumed(t, tg, llm, chat, q, "earlier question", killedAt, gone)
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
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 50*time.Millisecond) // about 2 s per answer
	listen := freePort(t)
	cfg := tgKillConfig(t, tg, llm, listen, "")
	tg.Fail("editMessageText", -1, http.StatusForbidden, "Forbidden: bot was kicked from the supergroup chat", 0)

	p := startBridge(t, cfg)
	const chat = -100600
	mentionBot(tg, chat, 7, "doomed question")
	failed := `chatbridge_messages_total{backend="llm",instance="main",outcome="failed",platform="telegram",reason="forbidden"}`
	var body string
	waitFor(t, "the failure counted", 20*time.Second, func() bool {
		body = metricsNow(listen)
		return metricValue(body, failed) >= 1
	})
	if n := metricValue(body, failed); n != 1 {
		t.Errorf("%s = %v, want 1", failed, n)
	}
	if n := metricValue(body, `chatbridge_messages_total{backend="llm",instance="main",outcome="answered"`); n != 0 {
		t.Errorf("answered = %v, want 0:\n%s", n, grep(body, "chatbridge_messages_total"))
	}
	if len(tg.Calls("editMessageText")) == 0 {
		t.Errorf("no edit was tried")
	}
	logs := p.stderr.String()
	if strings.Contains(logs, "msg=answered ") {
		t.Errorf("the log has an answered line for a reply that never landed")
	}
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
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 10*time.Millisecond)
	listen := freePort(t)
	tg.Fail("getUpdates", -1, http.StatusBadGateway, "Bad Gateway: upstream /bot"+e2eToken+" down", 0)
	startBridge(t, tgKillConfig(t, tg, llm, listen, ""))
	var body string
	waitFor(t, "/readyz to name the error", 15*time.Second, func() bool {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "getUpdates: http 502: Bad Gateway")
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
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tg := newFakeTelegram(t)
	models := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/llm/v1/models" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"data":[{"id":"test-model"}]}`)
	}))
	t.Cleanup(models.Close)
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
`, filepath.Join(t.TempDir(), "bridge.db"), freePort(t), models.URL+"/llm/v1", tg.Endpoint()))
	cmd := exec.Command(bridgeBinary(t), "check", "--config", cfg)
	cmd.Env = append(os.Environ(), "E2E_TG_TOKEN="+e2eToken, "E2E_LLM_KEY="+e2eAPIKey)
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
