package telegram

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// TestWebhookNotLeader: in cluster mode a replica that is not the
// webhook's leader neither sets nor deletes the webhook, yet serves the
// updates the load balancer sends it, even one another replica marked
// seen (dedupe is the core's atomic accept then); the leader sets it.
func TestWebhookNotLeader(t *testing.T) {
	mux := http.NewServeMux()
	hook := httptest.NewServer(mux)
	t.Cleanup(hook.Close)
	var mu sync.Mutex
	var asked []string
	// A replica that died between its mark and its accept left this
	// mark in the shared KV: in cluster mode it must not drop the update.
	kv := bridgestest.NewKV()
	if _, err := kv.Seen("update/9", time.Hour); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, e2eOpts{kv: kv, cfg: func(c *Config, d *bridges.Deps) {
		c.WebhookURL = hook.URL + "/hooks/tg"
		c.WebhookSecret = secret("shared_secret-1")
		d.Mux = mux
		d.Leader = func(role string) bool {
			mu.Lock()
			asked = append(asked, role)
			mu.Unlock()
			return false
		}
	}})
	bridgestest.WaitFor(t, "webhook running", 5*time.Second, func() bool { return e.a.running.Load() != nil })
	if n := len(e.f.Calls("setWebhook")) + len(e.f.Calls("deleteWebhook")); n != 0 {
		t.Errorf("a replica that is not the leader made %d setWebhook/deleteWebhook calls", n)
	}
	mu.Lock()
	if fmt.Sprint(asked) != "[telegram/main/webhook]" {
		t.Errorf("Leader asked for %q, want [telegram/main/webhook]", asked)
	}
	mu.Unlock()
	if code := postUpdate(t, hook.URL+"/hooks/tg", "shared_secret-1", map[string]any{"update_id": 9, "message": msgJSON(56, "private", 56, "via the balancer")}); code != http.StatusOK {
		t.Fatalf("update posted to a non-leader: status %d, want 200", code)
	}
	bridgestest.WaitFor(t, "answer", 10*time.Second, func() bool {
		return fmt.Sprint(e.finalTexts(56, 0)) == "[Answer to: via the balancer]"
	})

	leader := newE2E(t, e2eOpts{cfg: func(c *Config, d *bridges.Deps) {
		c.WebhookURL = hook.URL + "/hooks/tg2"
		c.WebhookSecret = secret("shared_secret-1")
		d.Mux = mux
		d.Leader = func(string) bool { return true }
	}})
	bridgestest.WaitFor(t, "leader sets the webhook", 5*time.Second, func() bool { return len(leader.f.Calls("setWebhook")) == 1 })
}

// TestPollerLeader: in cluster mode only the replica leading
// telegram/<inst>/poller calls getUpdates; the other reports connected and
// polls nothing. When the role moves, the new poller continues from the
// offset in the shared KV: no update is lost, none is delivered twice.
func TestPollerLeader(t *testing.T) {
	f := newFake(t, telegramtest.Options{Limits: testLimits})
	kv := bridgestest.NewKV()
	var mu sync.Mutex
	holder := "a"
	var asked []string
	leaderOf := func(me string) func(string) bool {
		return func(role string) bool {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, role)
			return holder == me
		}
	}
	a := newE2E(t, e2eOpts{f: f, kv: kv, cfg: func(c *Config, d *bridges.Deps) { d.Leader = leaderOf("a") }})
	b := newE2E(t, e2eOpts{f: f, kv: kv, cfg: func(c *Config, d *bridges.Deps) { d.Leader = leaderOf("b") }})
	bridgestest.WaitFor(t, "a polls", 5*time.Second, func() bool { return strings.Contains(a.logs.String(), "this replica polls getUpdates") })
	bridgestest.WaitFor(t, "b connected", 5*time.Second, b.a.Connected)
	for i := 1; i <= 3; i++ {
		f.Queue(in{Chat: 70, From: 70, Text: fmt.Sprintf("q%d", i)})
	}
	bridgestest.WaitFor(t, "answers by a", 10*time.Second, func() bool {
		return fmt.Sprint(a.finalTexts(70, 0)) == "[Answer to: q1 Answer to: q2 Answer to: q3]"
	})
	if got := fmt.Sprint(a.questions()); got != "[q1 q2 q3]" {
		t.Errorf("poller a answered %s, want [q1 q2 q3]", got)
	}
	if got := b.questions(); len(got) != 0 {
		t.Errorf("replica b, not the poller, received %q", got)
	}
	if strings.Contains(b.logs.String(), "this replica polls getUpdates") {
		t.Error("replica b polled without the role")
	}

	// The role moves to b (a's lease expired): b polls from the stored
	// offset, a stops once its poll in flight ends.
	mu.Lock()
	holder = "b"
	mu.Unlock()
	bridgestest.WaitFor(t, "b polls", 5*time.Second, func() bool { return strings.Contains(b.logs.String(), "this replica polls getUpdates") })
	bridgestest.WaitFor(t, "a stops polling", 5*time.Second, func() bool { return strings.Contains(a.logs.String(), "lost the poller role") })
	if !a.a.Connected() {
		t.Error("replica a, no longer the poller, reports not connected (it still sends)")
	}
	polls := len(f.Calls("getUpdates"))
	for i := 4; i <= 6; i++ {
		f.Queue(in{Chat: 70, From: 70, Text: fmt.Sprintf("q%d", i)})
	}
	want := "[Answer to: q1 Answer to: q2 Answer to: q3 Answer to: q4 Answer to: q5 Answer to: q6]"
	bridgestest.WaitFor(t, "answers by b", 10*time.Second, func() bool { return fmt.Sprint(a.finalTexts(70, 0)) == want })
	if got := fmt.Sprint(b.questions()); got != "[q4 q5 q6]" {
		t.Errorf("new poller b answered %s, want [q4 q5 q6] (from the stored offset)", got)
	}
	if got := fmt.Sprint(a.questions()); got != "[q1 q2 q3]" {
		t.Errorf("former poller a answered %s after losing the role, want [q1 q2 q3]", got)
	}
	if got := fmt.Sprint(a.finalTexts(70, 0)); got != want {
		t.Errorf("chat shows %s, want %s", got, want)
	}
	if len(f.Calls("getUpdates")) <= polls {
		t.Error("no getUpdates after the takeover")
	}
	mu.Lock()
	for _, r := range asked {
		if r != "telegram/main/poller" {
			t.Errorf("Leader asked for role %q, want telegram/main/poller", r)
		}
	}
	mu.Unlock()
}
