package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
)

// The tests in this file run the real bridge binary against loopback fakes
// of the Telegram Bot API and of an OpenAI-compatible backend.

const (
	e2eToken  = "123456:e2e-SECRET-telegram-token"
	e2eAPIKey = "sk-e2e-SECRET-backend-key"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// bridgeBinary builds cmd/bridge once per test run. The tests that
// build and run the binary are not short: under -short it skips t.
func bridgeBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bridge-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "bridge")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// newFakeTelegram returns the Bot API fake (bridges/telegram/telegramtest)
// accepting e2eToken, closed at the end of the test.
func newFakeTelegram(t *testing.T) *telegramtest.Server {
	tg := telegramtest.NewServer(telegramtest.Options{Token: e2eToken})
	t.Cleanup(tg.Close)
	return tg
}

// ask queues a user's question in private chat.
func ask(tg *telegramtest.Server, chat int64, text string) {
	tg.Queue(telegramtest.In{Chat: chat, Name: "U", Text: text})
}

// fakeLLM is an OpenAI-compatible streaming backend: it answers each
// question with its script, word by word, every pace, and lists the one
// model "test-model" (for `bridge check`).
type fakeLLM struct {
	mu       sync.Mutex
	requests []map[string]any
	pace     time.Duration
	srv      *httptest.Server
}

func newFakeLLM(t *testing.T, pace time.Duration) *fakeLLM {
	f := &fakeLLM{pace: pace}
	mux := http.NewServeMux()
	mux.HandleFunc("/llm/v1/chat/completions", f.serve)
	mux.HandleFunc("/llm/v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data":[{"id":"test-model"}]}`)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func answerFor(q string) string {
	return "Answer to " + q + ": " + strings.Repeat("lorem ipsum dolor ", 12) + "end."
}

func (f *fakeLLM) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.requests = append(f.requests, body)
	pace := f.pace
	f.mu.Unlock()
	msgs, _ := body["messages"].([]any)
	last, _ := msgs[len(msgs)-1].(map[string]any)
	q, _ := last["content"].(string)
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	for _, word := range strings.SplitAfter(answerFor(q), " ") {
		chunk, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": word}}}})
		fmt.Fprintf(w, "data: %s\n\n", chunk)
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(pace):
		}
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

func (f *fakeLLM) lastMessages() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	msgs, _ := f.requests[len(f.requests)-1]["messages"].([]any)
	return msgs
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type bridgeProc struct {
	cmd    *exec.Cmd
	stderr *logtest.Buffer
	done   chan error
}

// bridgeCommand is the binary with args, the secrets of the end-to-end
// configurations in its environment.
func bridgeCommand(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(bridgeBinary(t), args...)
	cmd.Env = append(os.Environ(), "E2E_TG_TOKEN="+e2eToken, "E2E_LLM_KEY="+e2eAPIKey)
	return cmd
}

// startBridge starts `bridge run` on cfgPath, with env (KEY=value) added
// to its environment.
func startBridge(t *testing.T, cfgPath string, env ...string) *bridgeProc {
	t.Helper()
	cmd := bridgeCommand(t, "run", "--config", cfgPath)
	cmd.Env = append(cmd.Env, env...)
	p := &bridgeProc{cmd: cmd, stderr: &logtest.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("bridge log:\n%s", p.stderr.String())
		}
	})
	return p
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func e2eConfig(t *testing.T, tg *telegramtest.Server, llm *fakeLLM, listen, grace string) string {
	return e2eConfigPoll(t, tg, llm, listen, grace, "1s")
}

// e2eConfigPoll is e2eConfig with the Telegram instance's poll_timeout.
func e2eConfigPoll(t *testing.T, tg *telegramtest.Server, llm *fakeLLM, listen, grace, poll string) string {
	return bridgeConfig(t, llm, listen, grace, fmt.Sprintf(`
[telegram.main]
token = "${E2E_TG_TOKEN}"
api_endpoint = %q
drafts = false
poll_timeout = %q
edit_interval = "200ms"
`, tg.Endpoint(), poll))
}

// bridgeConfig writes the configuration of one end-to-end run: a store
// of its own, [http] listen (none when ""), debug logs, shutdown_grace,
// the fake LLM as backend "llm", then platforms, the tables of the
// platform instances.
func bridgeConfig(t *testing.T, llm *fakeLLM, listen, grace, platforms string) string {
	t.Helper()
	return writeFile(t, "config.toml", fmt.Sprintf(`
[store]
path = %q
[http]
listen = %q
[log]
level = "debug"
[bridge]
shutdown_grace = %q
%s%s`, filepath.Join(t.TempDir(), "bridge.db"), listen, grace, llm.table(), platforms))
}

// get fetches url: its status and body, or the error (while the bridge
// is not listening yet).
func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metricsNow scrapes /metrics, "" while the server is not listening yet.
func metricsNow(listen string) string {
	_, body, _ := get("http://" + listen + "/metrics")
	return body
}

// answeredMetric is the prefix of the counter of the messages answered
// by backend "llm" on instance "main".
const answeredMetric = `chatbridge_messages_total{backend="llm",instance="main",outcome="answered"`

// waitAnswered waits until the bridge listening on listen has counted
// exactly n answered messages.
func waitAnswered(t *testing.T, what, listen string, n float64) {
	t.Helper()
	waitFor(t, what, 10*time.Second, func() bool { return metricValue(metricsNow(listen), answeredMetric) == n })
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

// checkRecovery asserts what every kill test promises of the recovery
// time: from the kill to resumed, the restarted process's first request
// for the resumed answer (zero when there was none), under 3 s.
func checkRecovery(t *testing.T, killed, resumed time.Time) {
	t.Helper()
	if resumed.IsZero() {
		t.Fatal("no request of the resumed answer after the kill")
	}
	rec := resumed.Sub(killed)
	t.Logf("recovery (SIGKILL → the resumed answer's first request): %s", rec.Round(time.Millisecond))
	if rec > 3*time.Second {
		t.Errorf("recovery took %s, want under 3s on a quiet platform", rec)
	}
}

// checkAsked asserts that the backend was asked q, the question answered
// across the kill, once or twice (the restart may ask again), and
// earlier, answered before the kill, once.
func checkAsked(t *testing.T, llm *fakeLLM, q, earlier string) {
	t.Helper()
	if n := llm.asked(q); n < 1 || n > 2 {
		t.Errorf("the backend was asked %d times for %q, want once or twice", n, q)
	}
	if n := llm.asked(earlier); n != 1 {
		t.Errorf("the backend was asked %d times for the earlier question %q, want once", n, earlier)
	}
}

// checkNoSecrets asserts that none of secrets appears in logs.
func checkNoSecrets(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret appears in the logs: %q", secret)
		}
	}
}

// checkNeverAnswered waits until the bridge p, listening on listen, has
// counted a message failed on platform for a lasting refusal, and
// asserts it was counted so once and never answered, in the metrics and
// in the log (no "answered" line). It returns the metrics.
func checkNeverAnswered(t *testing.T, p *bridgeProc, listen, platform string) (metrics string) {
	t.Helper()
	failed := `chatbridge_messages_total{backend="llm",instance="main",outcome="failed",platform="` + platform + `",reason="forbidden"}`
	waitFor(t, "the message counted failed", 20*time.Second, func() bool {
		metrics = metricsNow(listen)
		return metricValue(metrics, failed) >= 1
	})
	if n := metricValue(metrics, failed); n != 1 {
		t.Errorf("%s = %v, want 1", failed, n)
	}
	if n := metricValue(metrics, answeredMetric); n != 0 {
		t.Errorf("answered = %v, want 0:\n%s", n, grep(metrics, "chatbridge_messages_total"))
	}
	if logs := p.stderr.String(); strings.Contains(logs, "msg=answered") {
		t.Errorf("the log has an answered line for an answer that never landed:\n%s", logs)
	}
	return metrics
}

func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return code, body
}

func metricValue(body, prefix string) float64 {
	total := 0.0
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

// TestCrashRecovery kills the real binary with SIGKILL in the middle of a
// streamed answer, restarts it, and shows the pending question answered,
// no completed question answered again, and conversations intact.
func TestCrashRecovery(t *testing.T) {
	t.Parallel() // waits mostly; runs beside TestClusterAcceptance
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 30*time.Millisecond)
	listen := freePort(t)
	cfg := e2eConfig(t, tg, llm, listen, "5s")

	p1 := startBridge(t, cfg)
	ask(tg, 100, "first question")
	waitFor(t, "the first answer", 20*time.Second, func() bool { return tg.Visible(100) == answerFor("first question") })

	llm.setPace(150 * time.Millisecond) // the next answer streams slowly
	ask(tg, 200, "slow question")
	waitFor(t, "a progressive edit of the slow answer", 20*time.Second, func() bool {
		v := tg.Visible(200)
		return strings.HasPrefix(v, "Answer to slow question") && v != answerFor("slow question")
	})
	kill(t, p1)

	llm.setPace(10 * time.Millisecond)
	p2 := startBridge(t, cfg)
	waitFor(t, "the pending question answered after the restart", 20*time.Second, func() bool {
		return strings.Contains(tg.Visible(200), answerFor("slow question"))
	})
	// The completed question was not answered again.
	if n := len(tg.BotMessages(100)); n != 1 {
		t.Errorf("messages sent to chat 100 = %d, want 1 (never answered twice)", n)
	}

	// The conversation survived the crash: the backend gets the history.
	ask(tg, 100, "follow-up")
	waitFor(t, "the follow-up answer", 20*time.Second, func() bool {
		return strings.Contains(tg.Visible(100), answerFor("follow-up"))
	})
	msgs := llm.lastMessages()
	if len(msgs) < 3 || !strings.Contains(fmt.Sprint(msgs), "first question") {
		t.Errorf("follow-up request messages = %v, want the first turn as history", msgs)
	}

	// Metrics moved; readiness reflects a platform disconnect.
	// (The last edit may show the whole answer just before the relay
	// records it, so wait for the counter rather than read it once.)
	var body string
	waitFor(t, "the answered counter to count both answers", 10*time.Second, func() bool {
		_, body = scrape(t, "http://"+listen+"/metrics")
		return metricValue(body, answeredMetric) >= 2
	})
	if metricValue(body, "chatbridge_platform_requests_total") < 3 {
		t.Errorf("/metrics platform requests did not move")
	}
	if code, body := scrape(t, "http://"+listen+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s, want 200 while connected", code, body)
	}
	tg.Fail("getUpdates", -1, http.StatusBadGateway, "Bad Gateway", 0)
	waitFor(t, "/readyz to report the disconnect", 20*time.Second, func() bool {
		code, _ := scrape(t, "http://"+listen+"/readyz")
		return code == http.StatusServiceUnavailable
	})

	// No secret in the logs of either run.
	logs := p1.stderr.String() + p2.stderr.String()
	checkNoSecrets(t, logs, e2eToken, "e2e-SECRET", e2eAPIKey)
	if !strings.Contains(logs, "inbox: resuming") {
		t.Errorf("the restart did not log the resumed inbox:\n%s", logs)
	}
}

// TestReadyzQuietPolling: /readyz answers 200 within 2 s of starting a
// long-polling Telegram instance whose chats are quiet, with a 30 s poll
// timeout (the long poll in flight counts as connected).
func TestReadyzQuietPolling(t *testing.T) {
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 10*time.Millisecond)
	listen := freePort(t)
	cfg := e2eConfigPoll(t, tg, llm, listen, "5s", "30s")
	bridgeBinary(t) // build before the clock starts
	start := time.Now()
	startBridge(t, cfg)
	var code int
	var body string
	waitFor(t, "/readyz 200", 2*time.Second, func() bool {
		var err error
		code, body, err = get("http://" + listen + "/readyz")
		return err == nil && code == http.StatusOK
	})
	t.Logf("/readyz 200 %s after start: %s", time.Since(start).Round(time.Millisecond), body)
	if !tg.Polling() {
		t.Errorf("ready without a long poll in flight")
	}
	if n := len(tg.CallTimes("getUpdates")); n != 1 {
		t.Errorf("%d getUpdates, want the one long poll still in flight", n)
	}
}

// TestGracefulShutdown: SIGTERM lets the in-flight answer finish within
// the grace period, then the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel() // waits mostly; runs beside TestClusterAcceptance
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 60*time.Millisecond) // about 3.5s per answer
	cfg := e2eConfig(t, tg, llm, "", "15s")
	p := startBridge(t, cfg)
	ask(tg, 300, "long question")
	waitFor(t, "the answer to start streaming", 20*time.Second, func() bool {
		return strings.HasPrefix(tg.Visible(300), "Answer to long question")
	})
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the bridge did not exit within 30s of SIGTERM")
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("shutdown took %s, want within the 15s grace", took)
	}
	if got := tg.Visible(300); got != answerFor("long question") {
		t.Errorf("after SIGTERM the chat shows %q, want the whole answer", got)
	}
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var _ = context.Background

// TestSecondSignalExitsAtOnce: a second SIGTERM during the grace period
// ends the process at once.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 500*time.Millisecond) // about 20s per answer
	p := startBridge(t, e2eConfig(t, tg, llm, "", "60s"))
	ask(tg, 400, "very long question")
	waitFor(t, "the answer to start streaming", 20*time.Second, func() bool {
		return strings.HasPrefix(tg.Visible(400), "Answer to very long question")
	})
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the bridge to log the shutdown", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "shutting down")
	})
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("exit %s after the second signal, want at once", took)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the second SIGTERM did not end the process")
	}
}

// asked counts the backend requests whose question (the last message) is q.
func (f *fakeLLM) asked(q string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, body := range f.requests {
		msgs, _ := body["messages"].([]any)
		if len(msgs) == 0 {
			continue
		}
		last, _ := msgs[len(msgs)-1].(map[string]any)
		if c, _ := last["content"].(string); c == q {
			n++
		}
	}
	return n
}

// setPace sets the delay between the answer's chunks.
func (f *fakeLLM) setPace(d time.Duration) {
	f.mu.Lock()
	f.pace = d
	f.mu.Unlock()
}

// table is the [backends.llm] table of the end-to-end configs: l's
// OpenAI-compatible endpoint, its model, the test key and a 10 s idle timeout.
func (l *fakeLLM) table() string {
	return fmt.Sprintf(`[backends.llm]
kind = "openai"
base_url = %q
bot_id = "test-model"
api_key = "${E2E_LLM_KEY}"
idle_timeout = "10s"
`, l.srv.URL+"/llm/v1")
}
