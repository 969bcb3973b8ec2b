package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// The tests in this file run the real bridge binary against the Slack
// fake (bridges/slack/slacktest) and the fake LLM of e2e_test.go: they
// kill it with SIGKILL mid-answer, in Socket Mode and over the Events
// API, and refuse its edits for good.

const e2eSlackSecret = "e2e-SECRET-slack-signing"

// slackE2E is one bridge configuration against the Slack fake.
type slackE2E struct {
	fake   *slacktest.Server
	llm    *fakeLLM
	listen string // [http] listen, host:port
	cfg    string // the config file
	events bool   // Events API (signing secret) instead of Socket Mode
}

// newSlackE2E writes the config of one Slack instance (Socket Mode, or
// the Events API when events) with a store of its own; extra is added to
// the [slack.main] table.
func newSlackE2E(t *testing.T, events bool, extra string) *slackE2E {
	e := &slackE2E{fake: slacktest.NewServer(slacktest.Options{}), llm: newFakeLLM(t, 30*time.Millisecond), listen: freePort(t), events: events}
	t.Cleanup(e.fake.Close)
	recv := fmt.Sprintf("app_token = %q", slacktest.DefaultAppToken)
	if events {
		recv = fmt.Sprintf("signing_secret = %q", e2eSlackSecret)
	}
	e.cfg = bridgeConfig(t, e.llm, e.listen, "5s", fmt.Sprintf(`
[slack.main]
bot_token = %q
%s
api_url = %q
%s
`, slacktest.DefaultBotToken, recv, e.fake.APIURL(), extra))
	return e
}

// start runs the binary and waits until it receives: the Socket Mode
// connection is open, or the Events API endpoint answers.
func (e *slackE2E) start(t *testing.T) *bridgeProc {
	t.Helper()
	before := e.fake.Accepted()
	p := startBridge(t, e.cfg)
	waitFor(t, "the bridge to receive", 20*time.Second, func() bool {
		if !e.events {
			return e.fake.Accepted() > before && e.fake.Connections() > 0
		}
		code, _, err := e.fake.URLVerification(slacktest.Delivery{Secret: e2eSlackSecret}, e.endpoint(), "c")
		return err == nil && code == http.StatusOK
	})
	return p
}

func (e *slackE2E) endpoint() string { return "http://" + e.listen + "/slack/main/events" }

// mention delivers a mention of the bot as a new top-level message in
// channel C1 and returns its ts (the reply's thread).
func (e *slackE2E) mention(t *testing.T, eventID, text string) string {
	t.Helper()
	ts := e.fake.NewTS()
	ev := slacktest.MentionEvent("C1", "U1", e.fake.Mentioning(text), ts, "")
	if e.events {
		code, err := e.fake.Event(slacktest.Delivery{Secret: e2eSlackSecret}, e.endpoint(), eventID, ev)
		if err != nil || code != http.StatusOK {
			t.Fatalf("deliver %s: %d %v", eventID, code, err)
		}
		return ts
	}
	if _, err := e.fake.Envelope(eventID, 0, ev); err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestSlackKillSocketMode(t *testing.T) { slackKill(t, false) }

func TestSlackKillEventsAPI(t *testing.T) { slackKill(t, true) }

// slackKill: an answered question, then a slow one streamed natively in
// its thread; SIGKILL after its first visible text, restart on the same
// store: the answer completes in the message already posted, nothing is
// posted twice, the backend is asked at most twice for it and never
// again for the first.
func slackKill(t *testing.T, events bool) {
	e := newSlackE2E(t, events, "")
	p1 := e.start(t)
	first := e.mention(t, "Ev1", "first question")
	waitFor(t, "the first answer", 20*time.Second, func() bool {
		v := e.fake.Visible("C1", first)
		return len(v) == 1 && v[0] == answerFor("first question")
	})
	waitAnswered(t, "the first answer counted", e.listen, 1)

	e.llm.setPace(150 * time.Millisecond) // the next answer streams slowly
	slow := e.mention(t, "Ev2", "slow question")
	// Kill after a visible text that has grown once: the reply has then
	// recorded its message in the inbox (it does before its next request).
	waitFor(t, "the slow answer to stream", 20*time.Second, func() bool {
		m := e.fake.Messages("C1", slow)
		return len(m) == 1 && len(m[0].Versions) >= 2 && strings.HasPrefix(m[0].Visible(), "Answer to slow question")
	})
	killedAt, killed := kill(t, p1)
	before := e.fake.Messages("C1", slow)
	if v := before[0].Visible(); v == answerFor("slow question") {
		t.Fatalf("the answer was complete before the kill: %q", v)
	}
	ts := before[0].TS

	e.llm.setPace(10 * time.Millisecond)
	p2 := e.start(t)
	waitFor(t, "the slow answer completed after the restart", 20*time.Second, func() bool {
		v := e.fake.Visible("C1", slow)
		return len(v) >= 1 && v[len(v)-1] == answerFor("slow question")
	})

	// In the message already posted, exactly once.
	after := e.fake.Messages("C1", slow)
	if len(after) != 1 || after[0].TS != ts || after[0].Visible() != answerFor("slow question") {
		t.Errorf("thread of the slow question = %+v, want its one message %s showing the whole answer", after, ts)
	}
	if n := len(e.fake.Messages("C1", "")); n != 2 {
		t.Errorf("bot messages in C1 = %d, want 2 (one per question)", n)
	}
	checkAsked(t, e.llm, "slow question", "first question")

	// Recovery: from the kill to the resumed answer's first request on
	// its message.
	var resumed time.Time
	for _, c := range e.fake.Requests("") {
		if c.At.After(killed) && c.Form.Get("ts") == ts && strings.HasPrefix(c.Method, "chat.") {
			resumed = c.At
			break
		}
	}
	checkRecovery(t, killedAt, resumed)

	waitAnswered(t, "the resumed answer counted", e.listen, 1)
	checkNoSecrets(t, p1.stderr.String()+p2.stderr.String(), slacktest.DefaultBotToken, slacktest.DefaultAppToken, e2eSlackSecret, e2eAPIKey)
	if !strings.Contains(p2.stderr.String(), "inbox: resuming") {
		t.Errorf("the restart did not log the resumed inbox")
	}
}

// TestSlackEditsRefused: Slack refuses every chat.update for good (the
// bot was removed from the channel after its first post): the answer's
// final text never lands, so it is counted failed with the platform's
// reason and never answered.
func TestSlackEditsRefused(t *testing.T) {
	e := newSlackE2E(t, false, "no_streaming = true")
	e.fake.Fail("chat.update", 1000, slacktest.Fault{Error: "not_in_channel"})
	p := e.start(t)
	root := e.mention(t, "Ev1", "doomed question")
	checkNeverAnswered(t, p, e.listen, "slack")
	if n := len(e.fake.Requests("chat.update")); n == 0 {
		t.Errorf("no chat.update was tried")
	}
	if v := e.fake.Visible("C1", root); len(v) != 1 || v[0] == answerFor("doomed question") {
		t.Errorf("visible = %q, want the one partial message (the final never landed)", v)
	}
	if !strings.Contains(p.stderr.String(), "not_in_channel") {
		t.Errorf("the log does not give Slack's reason not_in_channel")
	}
	// /readyz names the last refusal.
	if _, rb := scrape(t, "http://"+e.listen+"/readyz"); !strings.Contains(rb, "not_in_channel") {
		t.Errorf("/readyz does not show the last error: %s", rb)
	}
}

// TestCheckSlackEventsAPI: `bridge check` validates a Slack instance in
// Events API mode as configured (it used to report "[http] listen is
// off" for every Events API instance although listen was on).
func TestCheckSlackEventsAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	e := newSlackE2E(t, true, "")
	cmd := exec.Command(bridgeBinary(t), "check", "--config", e.cfg, "--backend", "none-so-platforms-only")
	cmd.Env = append(os.Environ(), "E2E_LLM_KEY="+e2eAPIKey)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), `no backend named "none-so-platforms-only"`) {
		t.Fatalf("check --backend with an unknown name: %v\n%s", err, out)
	}
	cmd = exec.Command(bridgeBinary(t), "check", "--config", e.cfg)
	cmd.Env = append(os.Environ(), "E2E_LLM_KEY="+e2eAPIKey)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "slack.main: ok: slack/main:") || !strings.Contains(string(out), "mode events") {
		t.Errorf("bridge check does not pass the Events API instance:\n%s", out)
	}
	if strings.Contains(string(out), e2eSlackSecret) || strings.Contains(string(out), slacktest.DefaultBotToken) {
		t.Errorf("bridge check reveals a secret:\n%s", out)
	}
}
