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
	req, _ := http.NewRequest(http.MethodPost, hook.URL+"/hooks/tg",
		strings.NewReader(string(mustJSON(t, map[string]any{"update_id": 9, "message": msgJSON(56, "private", 56, "via the balancer")}))))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "shared_secret-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("update posted to a non-leader: status %d, want 200", resp.StatusCode)
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
