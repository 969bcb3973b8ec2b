package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/chatbotiq"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

const signingSecret = "test-signing-secret"

// env is one running adapter, wired to the real relay, a scripted backend
// and the fake Slack.
type env struct {
	t       *testing.T
	fake    *slacktest.Server
	a       *Adapter
	relay   *bridges.Relay
	backend *bridgestest.Backend
	kv      bridges.KV
	store   *bridgestest.Store
	http    *httptest.Server // the bridge's [http] listen (Events API mode)

	handledMu sync.Mutex
	handled   map[string]time.Time // message ts → when Handle returned
	msgs      []bridges.Message

	cancel context.CancelFunc
	done   chan error
}

type envOpts struct {
	socket       bool
	events       bool
	cfg          func(*Config)
	kv           bridges.KV
	fake         *slacktest.Server
	store        *bridgestest.Store
	backend      *bridgestest.Backend
	respond      string
	editInterval time.Duration
	citations    bool
	// route, when set, adjusts the relay's route before Bind (issue 16:
	// ThreadContext).
	route func(*bridges.Route)
	// gate, when set, runs before the relay's Handle: an error returned
	// is Handle's (the relay never sees the message), and blocking in it
	// is a process killed before it accepted the message.
	gate func(bridges.Message) error
	// cluster, when set, makes the relay a replica of it (RunCluster) and
	// the adapter one in cluster mode (Deps.Leader: leads nothing).
	cluster bridges.Cluster
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func start(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{t: t, fake: o.fake, kv: o.kv, store: o.store, backend: o.backend, handled: map[string]time.Time{}}
	if e.fake == nil {
		e.fake = newFake(t, slacktest.Options{})
	}
	if e.kv == nil {
		e.kv = bridgestest.NewKV()
	}
	if e.store == nil {
		e.store = bridgestest.NewStore()
	}
	if e.backend == nil {
		e.backend = &bridgestest.Backend{}
	}
	cfg := Config{Name: "main", BotToken: backend.NewSecret(botToken), APIURL: e.fake.APIURL()}
	if o.socket {
		cfg.AppToken = backend.NewSecret(appToken)
	}
	var mux *http.ServeMux
	if o.events {
		cfg.SigningSecret = backend.NewSecret(signingSecret)
		mux = http.NewServeMux()
		e.http = httptest.NewServer(mux)
		t.Cleanup(e.http.Close)
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	deps := bridges.Deps{Logger: testLogger(t), KV: e.kv}
	if o.cluster != nil {
		deps.Leader = func(string) bool { return false }
	}
	if mux != nil {
		deps.Mux = mux
	}
	a, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.a = a
	relay, err := bridges.NewRelay(bridges.Config{Store: e.store, Logger: testLogger(t), Cluster: o.cluster})
	if err != nil {
		t.Fatal(err)
	}
	e.relay = relay
	if o.editInterval == 0 {
		o.editInterval = 50 * time.Millisecond
	}
	rt := bridges.Route{BackendName: "kb", Backend: e.backend, Respond: o.respond, EditInterval: o.editInterval, Citations: o.citations}
	if o.route != nil {
		o.route(&rt)
	}
	h := relay.Bind(a, rt)
	if o.cluster != nil {
		go func() { _ = relay.RunCluster() }()
	}
	rec := bridges.HandlerFunc(func(ctx context.Context, m bridges.Message) error {
		if o.gate != nil {
			if err := o.gate(m); err != nil {
				return err
			}
		}
		err := h.Handle(ctx, m)
		e.handledMu.Lock()
		e.handled[m.ID] = time.Now()
		e.msgs = append(e.msgs, m)
		e.handledMu.Unlock()
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- a.Run(ctx, rec) }()
	t.Cleanup(func() { e.stop() })
	// Wait until Run is serving.
	bridgestest.WaitFor(t, "adapter running", 5*time.Second, func() bool {
		_, _, _, ok := a.state()
		if !ok {
			return false
		}
		return !o.socket || e.fake.Connections() > 0
	})
	return e
}

// stop ends Run and the relay, and checks Run returned nil.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		e.t.Errorf("Run did not return after cancel")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.relay.Shutdown(ctx); err != nil {
		e.t.Errorf("relay.Shutdown: %v", err)
	}
}

func (e *env) handledAt(ts string) (time.Time, bool) {
	e.handledMu.Lock()
	defer e.handledMu.Unlock()
	at, ok := e.handled[ts]
	return at, ok
}

func (e *env) handledCount() int {
	e.handledMu.Lock()
	defer e.handledMu.Unlock()
	return len(e.msgs)
}

// waitText waits until the bot's messages in channel/thread show exactly
// want (joined by "\n" when several), and returns them.
func (e *env) waitText(channel, thread, want string) []slacktest.Message {
	e.t.Helper()
	var got []slacktest.Message
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = e.fake.Messages(channel, thread)
		var vis []string
		for _, m := range got {
			vis = append(vis, m.Visible())
		}
		if strings.Join(vis, "\n") == want {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("messages in %s/%s = %q, want %q", channel, thread, vis, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// signed posts body to the Events API with a v0 signature made at ts with
// secret.
func (e *env) signed(path string, body []byte, ts time.Time, secret string, hdr map[string]string) *http.Response {
	e.t.Helper()
	d := slacktest.Delivery{Secret: secret, At: ts, Header: http.Header{}}
	for k, v := range hdr {
		d.Header.Set(k, v)
	}
	resp, err := d.Post(e.http.URL+path, "application/json", body)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp
}

func (e *env) event(eventID string, ev map[string]any, hdr map[string]string) *http.Response {
	e.t.Helper()
	body, _ := json.Marshal(e.fake.Callback(eventID, ev))
	return e.signed("/slack/main/events", body, time.Now(), signingSecret, hdr)
}

// answer scripts the backend: every question gets text in chunks of n
// runes, each after wait, and conversation ID conv.
func answer(text string, n int, wait time.Duration, conv string) *bridgestest.Backend {
	return &bridgestest.Backend{Script: func(backend.Request) []bridgestest.Step {
		return bridgestest.Answer(text, n, wait, conv)
	}}
}

// A channel mention is answered in a thread under it, with progressive
// updates and the exact final text; the envelope is acked after Handle.
func TestSocketMentionAnsweredInThread(t *testing.T) {
	const ans = "Hello **world**, this answer streams in several chunks until it is complete."
	e := start(t, envOpts{socket: true, backend: answer(ans, 8, 30*time.Millisecond, "conv-1"),
		cfg: func(c *Config) { c.NoStreaming = true }})
	env := e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> what is it?", "1700000000.000100", ""))
	msgs := e.waitText("C1", "1700000000.000100", toMrkdwn(ans))
	if len(msgs) != 1 {
		t.Fatalf("bot messages = %d, want 1", len(msgs))
	}
	if got := len(e.fake.Requests("chat.update")); got < 2 {
		t.Errorf("chat.update calls = %d, want progressive updates (>= 2)", got)
	}
	reqs := e.backend.Requests()
	if len(reqs) != 1 || reqs[0].Question != "what is it?" {
		t.Errorf("backend questions = %+v, want one \"what is it?\"", reqs)
	}
	bridgestest.WaitFor(t, "ack", 5*time.Second, func() bool { _, ok := e.fake.AckedAt(env); return ok })
	acked, _ := e.fake.AckedAt(env)
	handled, ok := e.handledAt("1700000000.000100")
	if !ok || acked.Before(handled) {
		t.Errorf("envelope acked at %v, Handle returned at %v (ok %v): want ack after Handle", acked, handled, ok)
	}
	if st := e.fake.Requests("assistant.threads.setStatus"); len(st) == 0 || st[0].Form.Get("status") != thinking {
		t.Errorf("setStatus requests = %v, want a thinking status", st)
	}
	key := "slack/main/C1/1700000000.000100"
	if rec, ok := e.store.Records()[key]; !ok || rec.ConversationID != "conv-1" {
		t.Errorf("store[%s] = %+v, %v; want conversation conv-1", key, rec, ok)
	}
}

// A follow-up in the thread (no mention) continues the conversation: same
// key, and the backend gets the conversation ID of the first answer.
func TestSocketThreadFollowUp(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("First answer.", 100, 0, "conv-7")})
	root := "1700000001.000100"
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> hi", root, ""))
	e.waitText("C1", root, "First answer.")
	// Slack also sends the plain message event of the mention: ignored.
	e.envelope("Ev2", 0, slacktest.MessageEvent("channel", "C1", "U1", "<@UBOT> hi", root, ""))
	e.envelope("Ev3", 0, slacktest.MessageEvent("channel", "C1", "U2", "and more?", "1700000001.000200", root))
	bridgestest.WaitFor(t, "second answer", 10*time.Second, func() bool { return len(e.fake.Messages("C1", root)) == 2 })
	reqs := e.backend.Requests()
	if len(reqs) != 2 {
		t.Fatalf("backend requests = %d, want 2", len(reqs))
	}
	if reqs[1].ConversationID != "conv-7" || reqs[1].Question != "and more?" {
		t.Errorf("follow-up request = %+v, want conversation conv-7, question \"and more?\"", reqs[1])
	}
	// A message in another, unfollowed thread is not answered.
	e.envelope("Ev4", 0, slacktest.MessageEvent("channel", "C1", "U2", "unrelated", "1700000001.000400", "1700000001.000300"))
	bridgestest.WaitFor(t, "unrelated handled", 5*time.Second, func() bool { _, ok := e.handledAt("1700000001.000400"); return ok })
	if n := len(e.backend.Requests()); n != 2 {
		t.Errorf("backend requests after an unrelated thread message = %d, want 2", n)
	}
	e.handledMu.Lock()
	for _, m := range e.msgs {
		if m.ID == "1700000001.000400" && bridges.Admit(&m, "mention", "").Addressed {
			t.Errorf("unrelated thread message Addressed = true")
		}
		if m.ID == "1700000001.000200" && (!bridges.Admit(&m, "mention", "").Addressed || m.Key.String() != "slack/main/C1/"+root) {
			t.Errorf("follow-up = %+v, want addressed, key slack/main/C1/%s", m, root)
		}
	}
	e.handledMu.Unlock()
}

// A DM is answered at top level (one conversation per DM), without
// native streaming (Slack streams only into threads).
func TestSocketDM(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("Sure, _here_ you go.", 5, 20*time.Millisecond, "conv-dm")})
	e.envelope("Ev1", 0, slacktest.MessageEvent("im", "D1", "U1", "help me please", "1700000002.000100", ""))
	msgs := e.waitText("D1", "", "Sure, _here_ you go.")
	if msgs[0].ThreadTS != "" {
		t.Errorf("DM reply thread_ts = %q, want top level", msgs[0].ThreadTS)
	}
	if n := len(e.fake.Requests("chat.startStream")); n != 0 {
		t.Errorf("chat.startStream calls in a top-level DM = %d, want 0", n)
	}
	e.envelope("Ev2", 0, slacktest.MessageEvent("im", "D1", "U1", "again", "1700000002.000200", ""))
	bridgestest.WaitFor(t, "second DM answer", 10*time.Second, func() bool { return len(e.fake.Messages("D1", "")) == 2 })
	reqs := e.backend.Requests()
	if len(reqs) != 2 || reqs[1].ConversationID != "conv-dm" {
		t.Errorf("DM requests = %+v, want the second to continue conv-dm", reqs)
	}
	if _, ok := e.store.Records()["slack/main/D1"]; !ok {
		t.Errorf("store keys = %v, want slack/main/D1", e.store.Records())
	}
}

// Native streaming in a thread: startStream, appendStream deltas,
// stopStream; the visible text is the answer exactly once.
func TestSocketNativeStream(t *testing.T) {
	const ans = "Streaming natively, one chunk after another, to the very end."
	e := start(t, envOpts{socket: true, backend: answer(ans, 6, 200*time.Millisecond, "c")})
	root := "1700000003.000100"
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> stream", root, ""))
	msgs := e.waitText("C1", root, ans)
	if !msgs[0].Stopped {
		t.Errorf("stream not stopped: %+v", msgs[0])
	}
	start := e.fake.Requests("chat.startStream")
	if len(start) != 1 {
		t.Fatalf("chat.startStream calls = %d, want 1", len(start))
	}
	if f := start[0].Form; f.Get("recipient_user_id") != "U1" || f.Get("recipient_team_id") != teamID || f.Get("thread_ts") != root {
		t.Errorf("startStream form = %v, want recipient U1/%s in thread %s", f, teamID, root)
	}
	if n := len(e.fake.Requests("chat.appendStream")); n < 1 {
		t.Errorf("chat.appendStream calls = %d, want >= 1", n)
	}
	if n := len(e.fake.Requests("chat.postMessage")); n != 0 {
		t.Errorf("chat.postMessage calls = %d, want 0", n)
	}
}

// appendStream failing falls back to chat.update on the streamed message:
// no duplicated text.
func TestSocketNativeStreamFallback(t *testing.T) {
	const ans = "Part one of the answer, then part two, then part three of it."
	e := start(t, envOpts{socket: true, backend: answer(ans, 10, 250*time.Millisecond, "c")})
	e.fake.Fail("chat.appendStream", 1, slacktest.Fault{Error: "internal_error"})
	root := "1700000004.000100"
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> go", root, ""))
	msgs := e.waitText("C1", root, toMrkdwn(ans))
	if len(msgs) != 1 || strings.Count(msgs[0].Visible(), "Part one") != 1 {
		t.Errorf("messages = %+v, want the answer exactly once", msgs)
	}
	if n := len(e.fake.Requests("chat.startStream")); n != 1 {
		t.Errorf("chat.startStream calls = %d, want 1", n)
	}
	if n := len(e.fake.Requests("chat.postMessage")); n != 0 {
		t.Errorf("chat.postMessage calls = %d, want 0 (continue the streamed message)", n)
	}
	if n := len(e.fake.Requests("chat.appendStream")); n != 1 {
		t.Errorf("chat.appendStream calls = %d, want 1 (failed, then no more)", n)
	}
	if n := len(e.fake.Requests("chat.update")); n < 1 {
		t.Errorf("chat.update calls = %d, want >= 1 after the fallback", n)
	}
}

// startStream refused (as Slack does in some channel types) falls back to
// chat.postMessage, and the channel is not tried again.
func TestSocketNativeStreamRefused(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("Fallback text arrives.", 4, 20*time.Millisecond, "c")})
	e.fake.Fail("chat.startStream", 1, slacktest.Fault{Error: "channel_type_not_supported"})
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> one", "1700000005.000100", ""))
	e.waitText("C1", "1700000005.000100", "Fallback text arrives.")
	e.envelope("Ev2", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> two", "1700000005.000200", ""))
	e.waitText("C1", "1700000005.000200", "Fallback text arrives.")
	if n := len(e.fake.Requests("chat.startStream")); n != 1 {
		t.Errorf("chat.startStream calls = %d, want 1 (not retried in C1)", n)
	}
}

// A 429 on chat.update is obeyed: the next update comes no sooner than
// Retry-After, and the final text lands.
func TestSocketRateLimitedUpdate(t *testing.T) {
	const ans = "One two three four five six seven eight nine ten eleven twelve."
	e := start(t, envOpts{socket: true, backend: answer(ans, 6, 40*time.Millisecond, "c"),
		cfg: func(c *Config) { c.NoStreaming = true }})
	e.fake.Fail("chat.update", 1, slacktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	root := "1700000006.000100"
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> count", root, ""))
	e.waitText("C1", root, ans)
	ups := e.fake.Requests("chat.update")
	if len(ups) < 2 {
		t.Fatalf("chat.update calls = %d, want >= 2", len(ups))
	}
	if gap := ups[1].At.Sub(ups[0].At); gap < time.Second {
		t.Errorf("update after 429 came %v later, want >= Retry-After 1s", gap)
	}
}

// The bridge's own messages, other bots' messages, edits and deletions are
// ignored; so are channels outside allowed_channels.
func TestSocketIgnored(t *testing.T) {
	e := start(t, envOpts{socket: true, respond: "all", backend: answer("x", 1, 0, "c"),
		cfg: func(c *Config) { c.AllowedChannels = []string{"C1", "D1"} }})
	own := slacktest.MessageEvent("channel", "C1", botUser, "my own reply", "1700000007.000100", "")
	bot := slacktest.MessageEvent("channel", "C1", "U9", "a bot", "1700000007.000200", "")
	bot["bot_id"] = "B9"
	botmsg := slacktest.MessageEvent("channel", "C1", "", "bot message", "1700000007.000300", "")
	botmsg["subtype"] = "bot_message"
	botmsg["bot_id"] = "B9"
	// A user's edit is delivered now (issue 16, TestSocketEdit); the
	// bot's own edits (every chat.update) and changes that are no edit
	// (an unfurl) are not.
	edit := map[string]any{"type": "message", "subtype": "message_changed", "channel": "C1", "channel_type": "channel",
		"ts": "1700000007.000400", "hidden": true,
		"message": map[string]any{"type": "message", "user": botUser, "bot_id": botID, "text": "<@UBOT> edited", "ts": "1700000007.000050",
			"edited": map[string]any{"user": botUser, "ts": "1700000007.000400"}}}
	unfurl := map[string]any{"type": "message", "subtype": "message_changed", "channel": "C1", "channel_type": "channel",
		"ts": "1700000007.000410", "hidden": true,
		"message":          map[string]any{"type": "message", "user": "U1", "text": "<@UBOT> see https://x.y", "ts": "1700000007.000060"},
		"previous_message": map[string]any{"type": "message", "user": "U1", "text": "<@UBOT> see https://x.y", "ts": "1700000007.000060"}}
	del := map[string]any{"type": "message", "subtype": "message_deleted", "channel": "C1", "channel_type": "channel",
		"ts": "1700000007.000500", "deleted_ts": "1700000007.000050", "hidden": true}
	other := slacktest.MentionEvent("C2", "U1", "<@UBOT> not allowed", "1700000007.000600", "")
	var envs []string
	for i, ev := range []map[string]any{own, bot, botmsg, edit, unfurl, del, other} {
		envs = append(envs, e.envelope(fmt.Sprintf("EvI%d", i), 0, ev))
	}
	// A real message last: once it is answered, the others were processed.
	envs = append(envs, e.envelope("EvOK", 0, slacktest.MessageEvent("im", "D1", "U1", "hi", "1700000007.000700", "")))
	e.waitText("D1", "", "x")
	for _, id := range envs {
		bridgestest.WaitFor(t, "ack "+id, 5*time.Second, func() bool { _, ok := e.fake.AckedAt(id); return ok })
	}
	if n := e.handledCount(); n != 1 {
		t.Errorf("messages passed to the relay = %d, want 1: %+v", n, e.msgs)
	}
	if n := len(e.backend.Requests()); n != 1 {
		t.Errorf("backend requests = %d, want 1", n)
	}
}

// respond = "all": every channel message reaches the relay, unaddressed,
// and is answered.
func TestSocketRespondAll(t *testing.T) {
	e := start(t, envOpts{socket: true, respond: "all", backend: answer("ok", 2, 0, "c")})
	e.envelope("Ev1", 0, slacktest.MessageEvent("channel", "C1", "U1", "anyone?", "1700000008.000100", ""))
	e.waitText("C1", "1700000008.000100", "ok")
	e.handledMu.Lock()
	defer e.handledMu.Unlock()
	if len(e.msgs) != 1 || bridges.Admit(&e.msgs[0], "mention", "").Addressed {
		t.Errorf("messages = %+v, want one unaddressed", e.msgs)
	}
}

// "@bot reset" is the /reset command: not forwarded to the backend, and
// the next question starts a new conversation.
func TestSocketResetCommand(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("A.", 10, 0, "conv-r")})
	e.envelope("Ev1", 0, slacktest.MessageEvent("im", "D1", "U1", "q1", "1700000009.000100", ""))
	e.waitText("D1", "", "A.")
	e.envelope("Ev2", 0, slacktest.MessageEvent("im", "D1", "U1", "<@UBOT> reset", "1700000009.000200", ""))
	e.askAfterReset("Ev3", "1700000009.000300")
}

// askAfterReset waits for the reset confirmation in D1 (its second
// message after one answer), asks again there (eventID, ts) and checks
// that the backend's second request starts a new conversation.
func (e *env) askAfterReset(eventID, ts string) {
	e.t.Helper()
	bridgestest.WaitFor(e.t, "reset confirmation", 5*time.Second, func() bool { return len(e.fake.Messages("D1", "")) == 2 })
	e.envelope(eventID, 0, slacktest.MessageEvent("im", "D1", "U1", "q2", ts, ""))
	bridgestest.WaitFor(e.t, "answer after reset", 5*time.Second, func() bool { return len(e.fake.Messages("D1", "")) == 3 })
	reqs := e.backend.Requests()
	if len(reqs) != 2 || reqs[1].ConversationID != "" {
		e.t.Errorf("requests = %+v, want 2, the second without a conversation ID (a new conversation)", reqs)
	}
}

// Socket Mode: the server's `disconnect` makes the client reconnect via
// apps.connections.open; a retry of an envelope already taken (same
// event_id, retry_attempt 1) is acked and not answered again.
func TestSocketDisconnectAndRetry(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("Once.", 10, 0, "c")})
	bridgestest.WaitFor(t, "pong to the server's ping", 5*time.Second, func() bool { return e.fake.Pongs() > 0 })
	if err := e.fake.Disconnect("refresh_requested"); err != nil {
		t.Fatal(err)
	}
	bridgestest.WaitFor(t, "reconnect", 10*time.Second, func() bool { return e.fake.Opens() >= 2 && e.fake.Accepted() >= 2 })
	ev := slacktest.MessageEvent("im", "D1", "U1", "hello", "1700000010.000100", "")
	e.envelope("EvR", 0, ev)
	e.waitText("D1", "", "Once.")
	env := e.envelope("EvR", 1, ev)
	bridgestest.WaitFor(t, "retry acked", 5*time.Second, func() bool { _, ok := e.fake.AckedAt(env); return ok })
	if n := len(e.backend.Requests()); n != 1 {
		t.Errorf("backend requests = %d, want 1", n)
	}
	if n := len(e.fake.Messages("D1", "")); n != 1 {
		t.Errorf("replies = %d, want 1", n)
	}
}

// Events API: url_verification, signed events answered, bad signatures and
// stale timestamps rejected with 401, retries (X-Slack-Retry-Num) not
// answered twice, also across a restart sharing the KV.
func TestEventsAPI(t *testing.T) {
	kv := bridgestest.NewKV()
	store := bridgestest.NewStore()
	fake := newFake(t, slacktest.Options{})
	b := answer("Answer over HTTP.", 4, 10*time.Millisecond, "conv-h")
	e := start(t, envOpts{events: true, kv: kv, store: store, fake: fake, backend: b})

	t.Run("url_verification", func(t *testing.T) {
		code, got, err := e.fake.URLVerification(slacktest.Delivery{Secret: signingSecret}, e.http.URL+"/slack/main/events", "chal-123")
		if err != nil {
			t.Fatal(err)
		}
		if code != 200 || got != "chal-123" {
			t.Errorf("url_verification = %d %q, want 200 \"chal-123\"", code, got)
		}
	})

	body, _ := json.Marshal(e.fake.Callback("EvH1", slacktest.MentionEvent("C1", "U1", "<@UBOT> over http", "1700000011.000100", "")))
	rejects := map[string]struct {
		ts     time.Time
		secret string
	}{
		"bad signature":   {time.Now(), "wrong-secret"},
		"stale timestamp": {time.Now().Add(-10 * time.Minute), signingSecret},
	}
	for name, tc := range rejects {
		t.Run(name, func(t *testing.T) {
			resp := e.signed("/slack/main/events", body, tc.ts, tc.secret, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
		})
	}
	if n := e.handledCount(); n != 0 {
		t.Fatalf("rejected requests reached the relay: %d", n)
	}

	if resp := e.signed("/slack/main/events", body, time.Now(), signingSecret, nil); resp.StatusCode != 200 {
		t.Fatalf("event status = %d, want 200", resp.StatusCode)
	}
	e.waitText("C1", "1700000011.000100", "Answer over HTTP.")
	retry := map[string]string{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
	if resp := e.signed("/slack/main/events", body, time.Now(), signingSecret, retry); resp.StatusCode != 200 {
		t.Fatalf("retry status = %d, want 200", resp.StatusCode)
	}

	// Restart: a new adapter and relay sharing the KV and the store.
	e.stop()
	e2 := start(t, envOpts{events: true, kv: kv, store: store, fake: fake, backend: b})
	retry["X-Slack-Retry-Num"] = "2"
	if resp := e2.signed("/slack/main/events", body, time.Now(), signingSecret, retry); resp.StatusCode != 200 {
		t.Fatalf("retry after restart status = %d, want 200", resp.StatusCode)
	}
	// A new event after the retries: once answered, the retries were
	// processed (requests are handled in order per connection).
	e2.event("EvH2", slacktest.MessageEvent("im", "D1", "U1", "fresh", "1700000011.000200", ""), nil)
	e2.waitText("D1", "", "Answer over HTTP.")
	if n := len(b.Requests()); n != 2 {
		t.Errorf("backend requests = %d, want 2 (retries not answered)", n)
	}
	if n := len(fake.Messages("C1", "1700000011.000100")); n != 1 {
		t.Errorf("replies to the retried event = %d, want 1", n)
	}
	// A slash command posted as Slack posts it (a signed form) is the
	// core's command: /reset is confirmed in the DM, not asked.
	code, err := fake.SlashCommandHTTP(slacktest.Delivery{Secret: signingSecret}, e2.http.URL+"/slack/main/commands",
		slacktest.Command{Command: "/reset", ChannelID: "D1", UserID: "U1"})
	if err != nil || code != http.StatusOK {
		t.Fatalf("slash command = %d, %v; want 200", code, err)
	}
	bridgestest.WaitFor(t, "reset confirmation", 5*time.Second, func() bool { return len(fake.Messages("D1", "-")) == 2 })
	if n := len(b.Requests()); n != 2 {
		t.Errorf("backend requests after /reset = %d, want 2", n)
	}
}

// assistant.threads.setStatus refused once is not tried again in that
// channel; the answer still arrives.
func TestSocketStatusRefused(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("Done.", 10, 100*time.Millisecond, "c"),
		cfg: func(c *Config) { c.NoStreaming = true }})
	e.fake.Fail("assistant.threads.setStatus", 1, slacktest.Fault{Error: "not_allowed_token_type"})
	for i, ts := range []string{"1700000012.000100", "1700000012.000200"} {
		e.envelope(fmt.Sprintf("Ev%d", i), 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> q", ts, ""))
		e.waitText("C1", ts, "Done.")
	}
	if n := len(e.fake.Requests("assistant.threads.setStatus")); n != 1 {
		t.Errorf("setStatus calls = %d, want 1 (not retried after a refusal)", n)
	}
}

// Slash commands over Socket Mode become the core's commands and are
// acked after Handle.
func TestSocketSlashCommand(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: answer("A.", 10, 0, "conv-s")})
	e.envelope("Ev1", 0, slacktest.MessageEvent("im", "D1", "U1", "q1", "1700000013.000100", ""))
	e.waitText("D1", "", "A.")
	if _, err := e.fake.SlashCommand("cmd-1", slacktest.Command{Command: "/reset", ChannelID: "D1", UserID: "U1"}); err != nil {
		t.Fatal(err)
	}
	bridgestest.WaitFor(t, "command ack", 5*time.Second, func() bool { _, ok := e.fake.AckedAt("cmd-1"); return ok })
	e.askAfterReset("Ev2", "1700000013.000200")
}

// TestSocketEscapedTextFits: an answer full of &, < and > (which Slack's
// escaping lengthens) still goes out in messages of at most 4,000
// characters, and nothing of it is lost.
func TestSocketEscapedTextFits(t *testing.T) {
	ans := strings.TrimSpace(strings.Repeat("a < b & c > d. ", 300)) // 4,500 characters, ~8,000 escaped
	e := start(t, envOpts{socket: true, backend: answer(ans, 400, 20*time.Millisecond, "c")})
	e.envelope("Ev1", 0, slacktest.MessageEvent("im", "D1", "U1", "escape me", "1700000009.000100", ""))
	var joined string
	bridgestest.WaitFor(t, "the whole answer", 20*time.Second, func() bool {
		var b strings.Builder
		for _, m := range e.fake.Messages("D1", "") {
			b.WriteString(m.Visible())
		}
		joined = b.String()
		return strings.Count(joined, "&lt;") == 300 && strings.Count(joined, "&amp;") == 300
	})
	for _, method := range []string{"chat.postMessage", "chat.update"} {
		for _, r := range e.fake.Requests(method) {
			if n := utf8.RuneCountInString(r.Form.Get("text")); n > 4000 {
				t.Errorf("%s text of %d characters, want <= 4000", method, n)
			}
		}
	}
	if len(e.fake.Messages("D1", "")) < 2 {
		t.Errorf("messages = %d, want the escaped answer split in two or more", len(e.fake.Messages("D1", "")))
	}
}

// With Slack's rate limits on, questions arriving together in one
// channel are answered without a single 429: the adapter's per-channel
// post budget stays inside Slack's 1/s with short bursts, its workspace
// budget inside chat.update's 50 a minute.
func TestSocketWithinRateLimits(t *testing.T) {
	const ans = "An answer that takes a few edits to arrive in full, chunk by chunk."
	fake := newFake(t, slacktest.Options{RateLimits: true})
	e := start(t, envOpts{socket: true, fake: fake, backend: answer(ans, 10, 60*time.Millisecond, "c"),
		cfg: func(c *Config) { c.NoStreaming = true }})
	roots := []string{"1700000020.000100", "1700000020.000200", "1700000020.000300", "1700000020.000400", "1700000020.000500"}
	for i, root := range roots {
		e.envelope(fmt.Sprintf("EvL%d", i), 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> q", root, ""))
	}
	for _, root := range roots {
		e.waitText("C1", root, ans)
	}
	if n := fake.TooMany(); n != 0 {
		t.Errorf("429s = %d (%v), want 0", n, fake.Limited())
	}
	posts := fake.Requests("chat.postMessage")
	if len(posts) != len(roots) {
		t.Fatalf("chat.postMessage calls = %d, want %d", len(posts), len(roots))
	}
	// Five posts in one channel cannot all go in a burst of 3 at 1/s.
	if span := posts[len(posts)-1].At.Sub(posts[0].At); span < time.Second {
		t.Errorf("five posts in C1 within %v, want them spread over >= 1s", span)
	}
}

// Thread context (conversations.replies) and status lines
// (assistant.threads.setStatus), end to end through the Slack fake with
// the real adapter, the real relay and a backend.

// threadWith fills a thread of C1 with 5 earlier messages (the root, three
// replies by people, one by the bot through the adapter) and records the
// mention that follows them; it returns the thread's root and the
// mention's ts. Timestamps come from the fake's one sequence, so the
// bot's answers come after the mention, as on Slack.
func threadWith(t *testing.T, e *env, mentionText string) (root, mention string) {
	t.Helper()
	root = e.fake.NewTS()
	e.fake.AddUser(slacktest.User{ID: "U2", DisplayName: "Bo"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: root, User: "U2", Text: "our deploy is failing"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U3", Text: "which step?"})
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U2", Text: "the CI one"})
	if _, err := e.a.Send(context.Background(), &bridges.Message{ChatID: "C1", ThreadID: root}, bridges.Out{Text: "I can help with CI", Final: true}); err != nil {
		t.Fatal(err)
	}
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: e.fake.NewTS(), ThreadTS: root, User: "U3", Text: "anyone?"})
	mention = e.fake.NewTS()
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: mention, ThreadTS: root, User: "U2", Text: "<@UBOT> " + mentionText})
	return root, mention
}

// The 5 earlier messages as the backend gets them: labelled with their
// authors (a person whose name the adapter does not know as "user", the
// bot's as the assistant's), oldest first.
var threadLinesWant = []string{
	"[Bo] our deploy is failing",
	"[user] which step?",
	"[Bo] the CI one",
	"[assistant] I can help with CI",
	"[user] anyone?",
}

// questionBackend answers every question with a short text, continuing
// conversation "c".
func questionBackend() *bridgestest.Backend {
	return &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("Answer "+fmt.Sprint(len(req.Question)), 100, 0, "c")
	}}
}

// TestE2EThreadContext: a mention inside an existing thread with 5
// earlier messages sends those 5 to the backend ahead of the question, in
// order and labelled; the second question of that conversation sends
// none; a top-level mention sends none and reads nothing.
func TestE2EThreadContext(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: questionBackend(), route: func(r *bridges.Route) { r.ThreadContext = 20 }})
	root, mention := threadWith(t, e, "why does it fail?")
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> why does it fail?", mention, root))
	bridgestest.WaitFor(t, "the thread's answer stored", 10*time.Second, func() bool {
		rec, ok := e.store.Records()["slack/main/C1/"+root]
		return ok && rec.ConversationID == "c" && len(e.fake.Visible("C1", root)) == 2
	})
	reqs := e.backend.Requests()
	if len(reqs) != 1 {
		t.Fatalf("backend requests = %d, want 1", len(reqs))
	}
	q := reqs[0].Question
	bridgestest.CheckThreadLines(t, q, threadLinesWant)
	if !strings.HasSuffix(q, "\nQuestion: why does it fail?") || strings.Count(q, "why does it fail?") != 1 {
		t.Errorf("question %q: want the thread ahead of the question, the mention once", q)
	}
	if len(reqs[0].History) != 0 {
		t.Errorf("history = %+v, want the thread in the preface only (the backend keeps its memory)", reqs[0].History)
	}
	calls := e.fake.Requests("conversations.replies")
	if len(calls) != 1 || calls[0].Form.Get("channel") != "C1" || calls[0].Form.Get("ts") != root || calls[0].Form.Get("latest") != mention {
		t.Errorf("conversations.replies calls = %+v, want one for C1/%s up to %s", calls, root, mention)
	}
	// alone checks that the nth request (what) is question alone, in
	// conversation conv ("" a new one), and that the thread was read no
	// more.
	alone := func(what string, n int, question, conv string) {
		t.Helper()
		reqs := e.backend.Requests()
		if len(reqs) != n || reqs[n-1].Question != question || reqs[n-1].ConversationID != conv {
			t.Errorf("%s request = %+v, want the question alone in conversation %q", what, reqs[len(reqs)-1], conv)
		}
		if c := e.fake.Count("conversations.replies"); c != 1 {
			t.Errorf("conversations.replies calls = %d after the %s question, want 1", c, what)
		}
	}

	// The second question of the same conversation: the backend's memory
	// holds the thread; nothing is read or sent again.
	second := e.fake.NewTS()
	e.fake.AddMessage(slacktest.UserMessage{Channel: "C1", TS: second, ThreadTS: root, User: "U2", Text: "<@UBOT> and now?"})
	e.envelope("Ev2", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> and now?", second, root))
	bridgestest.WaitFor(t, "the second answer", 10*time.Second, func() bool { return len(e.fake.Visible("C1", root)) == 3 })
	alone("second", 2, "and now?", "c")

	// A top-level mention: no thread, nothing read, the question alone.
	top := e.fake.NewTS()
	e.envelope("Ev3", 0, slacktest.MentionEvent("C2", "U2", "<@UBOT> plain question", top, ""))
	bridgestest.WaitFor(t, "the top-level answer", 10*time.Second, func() bool { return len(e.fake.Visible("C2", top)) == 1 })
	alone("top-level", 3, "plain question", "")
}

// TestE2EThreadContextBounded: thread_context = 2 sends only the 2
// messages just before the mention.
func TestE2EThreadContextBounded(t *testing.T) {
	e := start(t, envOpts{socket: true, backend: questionBackend(), route: func(r *bridges.Route) { r.ThreadContext = 2 }})
	root, mention := threadWith(t, e, "summarise")
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> summarise", mention, root))
	bridgestest.WaitFor(t, "the thread's answer", 10*time.Second, func() bool { return len(e.backend.Requests()) == 1 })
	q := e.backend.Requests()[0].Question
	want := "Earlier messages in this thread:\n" + threadLinesWant[3] + "\n" + threadLinesWant[4] + "\n\nQuestion: summarise"
	if q != want {
		t.Errorf("question = %q, want %q", q, want)
	}
}

// iqServer is a loopback ChatbotIQ (../shared/seeds/chatbotiq-chat-api.txt):
// POST /v1/public/chat/stream answers an SSE stream of two status events,
// then the content in three events, then done. Each event is flushed on
// its own, a little apart, as the service sends them.
func iqServer(t *testing.T) *chatbotiq.Client {
	t.Helper()
	events := []string{
		`{"type":"status","stage":"retrieving"}`,
		`{"type":"status","stage":"generating"}`,
		`{"type":"content","content":"To get started, "}`,
		`{"type":"content","content":"open the Playground "}`,
		`{"type":"content","content":"and click Embed."}`,
		`{"type":"done","conversation_id":"6f1c2d3e-0000-4000-8000-000000000001","assistant_message_id":"a-1","citations":[]}`,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /iq/v1/public/chat/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl, _ := w.(http.Flusher)
		for _, ev := range events {
			if _, err := fmt.Fprintf(w, "data: %s\n\n", ev); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iq, err := chatbotiq.New(chatbotiq.Config{BaseURL: srv.URL + "/iq", BotID: "00000000-0000-0000-0000-000000000001"}, backend.Deps{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return iq
}

// TestE2EStatusLine: a ChatbotIQ stream with status events then content
// shows the status lines in the reply's thread (assistant.threads.setStatus)
// before the answer's first text, and no version of the answer's message
// ever holds them; the final is the answer alone.
func TestE2EStatusLine(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(fmt.Sprintf("streaming=%v", native), func(t *testing.T) {
			iq := iqServer(t)
			e := start(t, envOpts{socket: true, route: func(r *bridges.Route) { r.BackendName, r.Backend = "iq", iq },
				cfg: func(c *Config) { c.NoStreaming = !native }})
			root := e.fake.NewTS()
			e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> how do I embed?", root, ""))
			const ans = "To get started, open the Playground and click Embed."
			msgs := e.waitText("C1", root, ans)
			var lines []string
			for _, s := range e.fake.Statuses() {
				if s.Channel != "C1" || s.ThreadTS != root {
					t.Errorf("status %+v, want it in C1's thread %s", s, root)
				}
				if s.Status != thinking {
					lines = append(lines, s.Status)
				}
			}
			want := []string{"Searching the knowledge base…", "Writing the answer…"}
			if strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Fatalf("status lines = %q, want %q", lines, want)
			}
			// Every status line was set before the first request that showed
			// the answer's text, and the typing status did not overwrite
			// them in between.
			if order := statusOrder(e, msgs[0].TS); !progressFirst(order) {
				t.Errorf("requests = %q, want the two status lines just before the answer's text", order)
			}
			for _, v := range msgs[0].Versions {
				for _, l := range want {
					if strings.Contains(v, l) || strings.Contains(v, strings.TrimSuffix(l, "…")) {
						t.Errorf("message version %q holds the status line %q", v, l)
					}
				}
			}
			if len(msgs) != 1 {
				t.Errorf("bot messages = %d, want the answer alone", len(msgs))
			}
		})
	}
}

// TestE2EThreadContextAsHistory: to a backend that keeps no memory of its
// own (OpenAI-compatible), the 5 earlier messages of the thread go as
// history turns, the bot's as the assistant's answer, and the question
// alone.
func TestE2EThreadContextAsHistory(t *testing.T) {
	hb := &bridgestest.HistoryBackend{Backend: *questionBackend(), Turns: 10}
	e := start(t, envOpts{socket: true, route: func(r *bridges.Route) { r.BackendName, r.Backend, r.ThreadContext = "oa", hb, 20 }})
	root, mention := threadWith(t, e, "why does it fail?")
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U2", "<@UBOT> why does it fail?", mention, root))
	bridgestest.WaitFor(t, "the thread's question", 10*time.Second, func() bool { return len(hb.Requests()) == 1 })
	req := hb.Requests()[0]
	want := []backend.Turn{
		{Question: strings.Join(threadLinesWant[:3], "\n"), Answer: "I can help with CI"},
		{Question: threadLinesWant[4]},
	}
	if req.Question != "why does it fail?" || !slices.Equal(req.History, want) {
		t.Errorf("request = %q with history %q,\nwant the question alone with history %q", req.Question, req.History, want)
	}
}

// statusOrder lists the fake's requests that set a thread status
// ("thinking" for the typing status, "status" for a progress line) or
// showed the text of the bot message ts ("text"), in arrival order.
func statusOrder(e *env, ts string) []string {
	var order []string
	for _, c := range e.fake.Requests("") {
		switch {
		case c.Method == "assistant.threads.setStatus" && c.Form.Get("status") == thinking:
			order = append(order, "thinking")
		case c.Method == "assistant.threads.setStatus":
			order = append(order, "status")
		case c.Message != nil && c.Message.TS == ts && c.Error == "":
			order = append(order, "text")
		}
	}
	return order
}

// progressFirst reports whether order has the two progress lines one
// after the other, then the answer's text.
func progressFirst(order []string) bool {
	first := slices.Index(order, "status")
	return first >= 0 && first+2 < len(order) && order[first+1] == "status" && order[first+2] == "text"
}

// TestE2EStatusLineNotOverwritten: the typing status runs on its own
// goroutine; one whose request is still on its way when the first
// progress line is set must not land over it. The fake is mounted
// behind a handler that holds the first "is thinking…" request until the
// progress line has landed (or 500 ms passed).
func TestE2EStatusLineNotOverwritten(t *testing.T) {
	f := slacktest.New(slacktest.Options{})
	t.Cleanup(f.Close)
	var held atomic.Bool
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/assistant.threads.setStatus") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			if form.Get("status") == thinking && !held.Swap(true) {
				deadline := time.Now().Add(500 * time.Millisecond)
				for len(f.Statuses()) == 0 && time.Now().Before(deadline) {
					time.Sleep(2 * time.Millisecond)
				}
			}
		}
		f.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(slow)
	t.Cleanup(srv.Close)
	iq := iqServer(t)
	e := start(t, envOpts{socket: true, fake: f, route: func(r *bridges.Route) { r.BackendName, r.Backend = "iq", iq },
		cfg: func(c *Config) { c.APIURL = f.APIURLAt(srv.URL) }})
	root := e.fake.NewTS()
	e.envelope("Ev1", 0, slacktest.MentionEvent("C1", "U1", "<@UBOT> how do I embed?", root, ""))
	msgs := e.waitText("C1", root, "To get started, open the Playground and click Embed.")
	if order := statusOrder(e, msgs[0].TS); !progressFirst(order) {
		t.Errorf("requests = %q, want the two status lines just before the answer's text (no typing status between)", order)
	}
}
