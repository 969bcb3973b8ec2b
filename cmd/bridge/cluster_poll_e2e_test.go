package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// clusterPollConfig is a replica's config: Redis store, cluster mode,
// Telegram by long polling (one leased poller).
func clusterPollConfig(t *testing.T, redisURL, id string, tg *telegramtest.Server, llm *fakeLLM, listen string) string {
	return clusterReplicaConfig(t, redisURL, "poll", id, llm, listen, fmt.Sprintf(`[telegram.main]
token = "${E2E_TG_TOKEN}"
api_endpoint = %q
drafts = false
poll_timeout = "1s"
edit_interval = "200ms"
`, tg.Endpoint()))
}

// TestClusterPollTakeover: three real replicas on one redis-server, the
// Telegram instance by long polling. Only one replica polls; all three
// are ready (the others send). The poller is killed with SIGKILL with
// questions in flight; another replica takes the poller role within the
// lease TTL and continues from the shared offset: every question gets
// exactly one answer, in order per chat, none posted twice.
func TestClusterPollTakeover(t *testing.T) {
	url := redistest.Start(t)
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 15*time.Millisecond)
	type rep struct {
		id     string
		listen string
		p      *bridgeProc
	}
	var reps []*rep
	for i := 1; i <= 3; i++ {
		r := &rep{id: fmt.Sprintf("r%d", i), listen: freePort(t)}
		r.p = startBridge(t, clusterPollConfig(t, url, r.id, tg, llm, r.listen))
		reps = append(reps, r)
	}
	for _, r := range reps {
		waitFor(t, r.id+" ready", 30*time.Second, func() bool {
			resp, err := http.Get("http://" + r.listen + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	const polls = "this replica polls getUpdates"
	pollers := func() []*rep {
		var out []*rep
		for _, r := range reps {
			if strings.Contains(r.p.stderr.String(), polls) {
				out = append(out, r)
			}
		}
		return out
	}
	waitFor(t, "a poller", 10*time.Second, func() bool { return len(pollers()) > 0 })
	if ps := pollers(); len(ps) != 1 {
		t.Fatalf("%d replicas poll, want 1", len(ps))
	}
	poller := pollers()[0]

	const chats = 12
	asked := map[int64][]string{}
	askAll := func(round int) {
		for c := int64(1); c <= chats; c++ {
			q := fmt.Sprintf("c%d-q%d", c, round)
			asked[1000+c] = append(asked[1000+c], q)
			ask(tg, 1000+c, q)
		}
	}
	answered := func() bool {
		for chat, qs := range asked {
			if len(tg.BotMessages(chat)) < len(qs) {
				return false
			}
			for i, m := range tg.BotMessages(chat)[:len(qs)] {
				if m.Text != answerFor(qs[i]) {
					return false
				}
			}
		}
		return true
	}
	askAll(1)
	waitFor(t, "round 1 answered", 30*time.Second, answered)

	// Round 2 in flight, then the poller dies.
	askAll(2)
	waitFor(t, "round 2 being answered", 10*time.Second, func() bool {
		llm.mu.Lock()
		defer llm.mu.Unlock()
		return len(llm.requests) > chats
	})
	if err := poller.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poller.p.done <- <-poller.p.done // exited; left for the cleanup to read
	killedAt := time.Now()
	var next *rep
	waitFor(t, "another poller", 15*time.Second, func() bool {
		for _, r := range reps {
			if r != poller && strings.Contains(r.p.stderr.String(), polls) {
				next = r
				return true
			}
		}
		return false
	})
	t.Logf("poller %s killed; %s polls %v later", poller.id, next.id, time.Since(killedAt).Round(100*time.Millisecond))
	askAll(3)
	waitFor(t, "every round answered", 40*time.Second, answered)
	time.Sleep(500 * time.Millisecond) // room for a wrongly doubled post to show
	for chat, qs := range asked {
		var got []string
		for _, m := range tg.BotMessages(chat) {
			got = append(got, m.Text)
		}
		var want []string
		for _, q := range qs {
			want = append(want, answerFor(q))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("chat %d: bot messages\n%q\nwant one answer per question, in order:\n%q", chat, got, want)
		}
	}
	for _, r := range reps {
		if r != poller && r != next && strings.Contains(r.p.stderr.String(), polls) {
			t.Errorf("%s polled too", r.id)
		}
	}
}
