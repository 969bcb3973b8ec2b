package discord

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// The adapter's tests run against discordtest over loopback.
const (
	fakeBotID = discordtest.BotID
	fakeAppID = discordtest.AppID
	fakeRole  = discordtest.BotRoleID
	fakeToken = "sekret-token"
)

// fake is discordtest's Server with test-failing helpers.
type fake struct {
	*discordtest.Server
}

// newFake starts a fake Discord with its rate limits off (tests of the
// limits turn them on with newFakeWith).
func newFake(t *testing.T) *fake {
	return newFakeWith(t, discordtest.Options{NoRateLimits: true})
}

func newFakeWith(t *testing.T, o discordtest.Options) *fake {
	t.Helper()
	if o.Token == "" {
		o.Token = fakeToken
	}
	if o.Prefix == "" {
		o.Prefix = "/prefix"
	}
	f := &fake{discordtest.NewServer(o)}
	t.Cleanup(f.Close)
	return f
}

// apiBase is the api_base_url for adapters talking to f.
func (f *fake) apiBase() string { return f.APIBase() }

// wait blocks until cond is true, failing the test after a generous
// deadline.
func (f *fake) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !f.Wait(15*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// requests returns the recorded REST requests that match keep.
func (f *fake) requests(keep func(discordtest.Request) bool) []discordtest.Request {
	return f.Requests(keep)
}

// messages returns the bot's messages in channel, oldest first.
func (f *fake) messages(channel string) []discordtest.Message { return f.Messages(channel) }

// connected waits for a live gateway connection of shard 0 whose
// client is done connecting.
func (f *fake) connected(t *testing.T) {
	t.Helper()
	f.wait(t, "a gateway connection", func() bool { return f.Ready(0) })
}

// dispatch sends an event on the live gateway connection.
func (f *fake) dispatch(t *testing.T, typ string, d any) {
	t.Helper()
	f.connected(t)
	if err := f.Dispatch(typ, d); err != nil {
		t.Fatalf("dispatch %s: %v", typ, err)
	}
}

// drop closes the live gateway connection without a close frame.
func (f *fake) drop(t *testing.T) {
	t.Helper()
	f.connected(t)
	if err := f.Drop(0); err != nil {
		t.Fatal(err)
	}
}

// reqJSON decodes a request body into a map.
func reqJSON(t *testing.T, r discordtest.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("request %s %s: bad JSON %q: %v", r.Method, r.Path, r.Body, err)
		}
	}
	return m
}

// isWrite reports whether r posts or edits a message.
func isWrite(r discordtest.Request) bool {
	switch {
	case r.Method == "POST" && strings.HasPrefix(r.Path, "channels/") && strings.HasSuffix(r.Path, "/messages"):
		return true
	case r.Method == "PATCH" && strings.HasPrefix(r.Path, "channels/"):
		return true
	case (r.Method == "POST" || r.Method == "PATCH") && strings.HasPrefix(r.Path, "webhooks/"):
		return true
	}
	return false
}

// msgEvent returns a MESSAGE_CREATE payload.
func msgEvent(id, channel, guild, author, content string) map[string]any {
	return discordtest.MessageCreate(id, channel, guild, author, content)
}

// commandEvent returns an INTERACTION_CREATE payload for a slash command.
func commandEvent(id, token, channel, guild, user, name string, question string) map[string]any {
	return discordtest.Command(id, token, channel, guild, user, name, question)
}

// newAdapter returns an adapter talking to f.
func newAdapter(t *testing.T, f *fake, mod func(*Config)) *Adapter {
	t.Helper()
	cfg := Config{Name: "main", Token: backend.NewSecret(fakeToken), APIBaseURL: f.apiBase()}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg, bridges.Deps{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// runner is one Run of an adapter.
type runner struct {
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// start runs a with h until stop is called (or the test ends).
func start(t *testing.T, a *Adapter, h bridges.Handler) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{done: make(chan struct{}), cancel: cancel}
	go func() {
		r.err = a.Run(ctx, h)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and returns its error.
func (r *runner) stop(t *testing.T) error {
	r.cancel()
	return r.wait(t)
}

// wait waits for Run to return and returns its error.
func (r *runner) wait(t *testing.T) error {
	select {
	case <-r.done:
		return r.err
	case <-time.After(15 * time.Second):
		t.Errorf("Run did not return")
		return nil
	}
}

// testLogger logs to t until the test ends.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func newSecret(s string) bridges.Secret { return backend.NewSecret(s) }

// collect returns a handler that passes every message to the channel.
func collect() (bridges.Handler, chan bridges.Message) {
	got := make(chan bridges.Message, 8)
	return bridges.HandlerFunc(func(_ context.Context, m bridges.Message) error {
		got <- m
		return nil
	}), got
}

// received returns the next message on got, failing the test after a
// generous deadline.
func received(t *testing.T, got <-chan bridges.Message, what string) bridges.Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
		return bridges.Message{}
	}
}
