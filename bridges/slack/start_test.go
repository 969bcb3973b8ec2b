package slack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// running is an adapter whose Run was started against a fake.
type running struct {
	a      *Adapter
	rec    *bridgestest.Recorder
	cancel context.CancelFunc
	done   chan error
}

// run starts Run on a (with short retry delays) and stops it at cleanup.
func run(t *testing.T, a *Adapter) *running {
	t.Helper()
	a.backoff, a.maxBackoff = 20*time.Millisecond, 80*time.Millisecond
	r := &running{a: a, rec: &bridgestest.Recorder{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- a.Run(ctx, r.rec) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and returns what it returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for a second stop
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancel")
		return nil
	}
}

// exited returns Run's error once it returned within d, ok false if it
// is still running.
func (r *running) exited(d time.Duration) (error, bool) {
	select {
	case err := <-r.done:
		r.done <- err
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

func socketAdapter(t *testing.T, f *slacktest.Server, bot, app string) *Adapter {
	t.Helper()
	a, err := New(Config{Name: "main", BotToken: backend.NewSecret(bot), AppToken: backend.NewSecret(app), APIURL: f.APIURL()},
		bridges.Deps{KV: bridgestest.NewKV(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A passing failure at start (network error, 5xx, 429, Slack's
// internal_error) is retried until auth.test passes; Run does not end
// and the adapter connects. (Before, Run returned the first error and
// the process exited 1 when Slack was its only instance.)
func TestStartRetries(t *testing.T) {
	tests := map[string]struct {
		fault slacktest.Fault
		n     int
		gap   time.Duration // least time between the first two attempts
	}{
		"network error":  {slacktest.Fault{Hangup: true}, 3, 0},
		"503":            {slacktest.Fault{Status: http.StatusServiceUnavailable}, 3, 0},
		"internal_error": {slacktest.Fault{Error: "internal_error"}, 2, 0},
		"ratelimited":    {slacktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second}, 1, time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, slacktest.Options{})
			f.Fail("auth.test", tc.n, tc.fault)
			r := run(t, socketAdapter(t, f, botToken, appToken))
			bridgestest.WaitFor(t, "connected after the retries", 10*time.Second, r.a.Connected)
			if err, ok := r.exited(0); ok {
				t.Fatalf("Run returned %v, want it running", err)
			}
			reqs := f.Requests("auth.test")
			if len(reqs) != tc.n+1 {
				t.Errorf("auth.test calls = %d, want %d (%d refused, then ok)", len(reqs), tc.n+1, tc.n)
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap < tc.gap {
				t.Errorf("second auth.test %v after the first, want >= %v (Retry-After)", gap, tc.gap)
			}
			if err := r.stop(t); err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		})
	}
}

// A lasting refusal still ends Run with an error: the bot token refused
// or inactive, the app token refused, an app token without the
// connections:write scope (which slack-go alone would retry forever).
func TestStartLasting(t *testing.T) {
	tests := map[string]struct {
		bot, app string
		method   string // faulted method, "" for none
		fault    slacktest.Fault
		want     string
	}{
		"bot token refused":          {bot: "xoxb-WRONG", app: appToken, want: "invalid_auth"},
		"bot account inactive":       {bot: botToken, app: appToken, method: "auth.test", fault: slacktest.Fault{Error: "account_inactive"}, want: "account_inactive"},
		"bot token not sent":         {bot: botToken, app: appToken, method: "auth.test", fault: slacktest.Fault{Error: "not_authed"}, want: "not_authed"},
		"app token refused":          {bot: botToken, app: "xapp-WRONG", want: "invalid_auth"},
		"app token without scope":    {bot: botToken, app: appToken, method: "apps.connections.open", fault: slacktest.Fault{Error: "missing_scope"}, want: "missing_scope"},
		"bot token as the app token": {bot: botToken, app: appToken, method: "apps.connections.open", fault: slacktest.Fault{Error: "not_allowed_token_type"}, want: "not_allowed_token_type"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, slacktest.Options{})
			if tc.method != "" {
				f.Fail(tc.method, 1000, tc.fault)
			}
			r := run(t, socketAdapter(t, f, tc.bot, tc.app))
			err, ok := r.exited(10 * time.Second)
			switch {
			case !ok:
				t.Fatalf("Run still running after 10s, want the error %s", tc.want)
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Run = %v, want an error naming %s", err, tc.want)
			case strings.Contains(err.Error(), "WRONG"):
				t.Errorf("Run error %q reveals the token", err)
			}
			if n := f.Count("auth.test"); n != 1 {
				t.Errorf("auth.test calls = %d, want 1 (no retry of a lasting refusal)", n)
			}
			if r.a.Connected() {
				t.Error("Connected() = true after Run failed")
			}
		})
	}
}

// Cancelling Run while the start is being retried is a clean stop.
func TestStartStopWhileRetrying(t *testing.T) {
	f := newFake(t, slacktest.Options{})
	f.Fail("auth.test", 1000, slacktest.Fault{Status: http.StatusBadGateway})
	r := run(t, socketAdapter(t, f, botToken, appToken))
	bridgestest.WaitFor(t, "two attempts", 5*time.Second, func() bool { return f.Count("auth.test") >= 2 })
	if r.a.Connected() {
		t.Error("Connected() = true while auth.test fails")
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run cancelled while retrying = %v, want nil", err)
	}
}

// Connected: false until the token is proven and the receive loop runs;
// in Socket Mode it follows the connection (down while slack-go
// reconnects), in Events API mode it holds while Run serves the
// endpoints; false again once Run returned.
func TestConnected(t *testing.T) {
	t.Run("socket mode", func(t *testing.T) {
		f := newFake(t, slacktest.Options{})
		a := socketAdapter(t, f, botToken, appToken)
		if a.Connected() {
			t.Fatal("Connected() = true before Run")
		}
		f.Fail("auth.test", 1000, slacktest.Fault{Status: http.StatusServiceUnavailable})
		r := run(t, a)
		bridgestest.WaitFor(t, "auth.test retried", 5*time.Second, func() bool { return f.Count("auth.test") >= 2 })
		if a.Connected() {
			t.Error("Connected() = true while auth.test fails")
		}
		f.ClearFaults("auth.test")
		bridgestest.WaitFor(t, "connected", 10*time.Second, a.Connected)
		// The connection drops and apps.connections.open fails for a
		// while: not connected until slack-go is back.
		f.Fail("apps.connections.open", 1000, slacktest.Fault{Status: http.StatusServiceUnavailable})
		opens := f.Count("apps.connections.open")
		f.DropConnections()
		bridgestest.WaitFor(t, "not connected after the drop", 10*time.Second, func() bool { return !a.Connected() })
		bridgestest.WaitFor(t, "a refused reconnect", 10*time.Second, func() bool { return f.Count("apps.connections.open") > opens })
		if a.Connected() {
			t.Error("Connected() = true while apps.connections.open fails")
		}
		f.ClearFaults("apps.connections.open")
		bridgestest.WaitFor(t, "connected again", 30*time.Second, func() bool { return a.Connected() && f.Connections() > 0 })
		if err := r.stop(t); err != nil {
			t.Errorf("Run = %v", err)
		}
		if a.Connected() {
			t.Error("Connected() = true after Run returned")
		}
	})
	t.Run("events api", func(t *testing.T) {
		f := newFake(t, slacktest.Options{})
		mux := http.NewServeMux()
		a, err := New(Config{Name: "main", BotToken: backend.NewSecret(botToken), SigningSecret: backend.NewSecret(signingSecret), APIURL: f.APIURL()},
			bridges.Deps{KV: bridgestest.NewKV(), Logger: testLogger(t), Mux: mux})
		if err != nil {
			t.Fatal(err)
		}
		srv := newHTTP(t, mux)
		f.Fail("auth.test", 1000, slacktest.Fault{Hangup: true})
		r := run(t, a)
		bridgestest.WaitFor(t, "auth.test retried", 5*time.Second, func() bool { return f.Count("auth.test") >= 2 })
		d := slacktest.Delivery{Secret: signingSecret}
		ev := slacktest.MessageEvent("im", "D1", "U1", "hi", "1700000200.000100", "")
		if code, err := f.Event(d, srv+"/slack/main/events", "EvC1", ev); err != nil || code != http.StatusServiceUnavailable || a.Connected() {
			t.Errorf("while auth.test fails: event = %d, %v, Connected() = %v; want 503, not connected", code, err, a.Connected())
		}
		f.ClearFaults("auth.test")
		bridgestest.WaitFor(t, "connected", 10*time.Second, a.Connected)
		if code, err := f.Event(d, srv+"/slack/main/events", "EvC1", ev); err != nil || code != http.StatusOK {
			t.Errorf("event once connected = %d, %v; want 200", code, err)
		}
		if n := len(r.rec.Got()); n != 1 {
			t.Errorf("messages handled = %d, want 1", n)
		}
		if err := r.stop(t); err != nil {
			t.Errorf("Run = %v", err)
		}
		if a.Connected() {
			t.Error("Connected() = true after Run returned")
		}
	})
}
