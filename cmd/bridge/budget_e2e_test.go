package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// startReplica starts one `bridge run` with extra environment variables;
// CHATBRIDGE_LOCAL_BUDGETS comes only from env.
func startReplica(t *testing.T, cfgPath string, env ...string) *bridgeProc {
	t.Helper()
	cmd := exec.Command(bridgeBinary(t), "run", "--config", cfgPath)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, localBudgetsEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "E2E_TG_TOKEN="+e2eToken, "E2E_LLM_KEY="+e2eAPIKey)
	cmd.Env = append(cmd.Env, env...)
	p := &bridgeProc{cmd: cmd, stderr: &bridgestest.LogBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			log := p.stderr.String()
			if len(log) > 6000 {
				log = "…" + log[len(log)-6000:]
			}
			t.Logf("replica log (tail):\n%s", log)
		}
	})
	return p
}

// budgetFront is the load balancer in front of the replicas' webhook
// endpoints: each update goes to the next replica.
func budgetFront(t *testing.T, backends []string) *httptest.Server {
	var proxies []*httputil.ReverseProxy
	for _, b := range backends {
		u, err := url.Parse("http://" + b)
		if err != nil {
			t.Fatal(err)
		}
		proxies = append(proxies, httputil.NewSingleHostReverseProxy(u))
	}
	var n atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[n.Add(1)%uint64(len(proxies))].ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// redisCalls returns the calls of each command the server counted (INFO
// commandstats), by name.
func redisCalls(t *testing.T, db *redisstore.DB) map[string]int {
	t.Helper()
	out, err := db.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	calls := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
		calls[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return calls
}

// perAnswer formats the calls made between before and after, per answer,
// most first.
func perAnswer(before, after map[string]int, answers int) (total float64, detail string) {
	type kv struct {
		name string
		n    int
	}
	var d []kv
	for name, n := range after {
		if n -= before[name]; n > 0 {
			d = append(d, kv{name, n})
			total += float64(n)
		}
	}
	slices.SortFunc(d, func(a, b kv) int { return b.n - a.n })
	var parts []string
	for _, e := range d {
		parts = append(parts, fmt.Sprintf("%s %.2f", e.name, float64(e.n)/float64(answers)))
	}
	return total / float64(answers), strings.Join(parts, ", ")
}

// TestBudgetE2EThreeReplicas runs three real `bridge run` processes on one
// redis-server behind a round-robin webhook front, against the Telegram
// fake with its flood limits on (30 a second bot-wide, one a second per
// private chat). Webhook mode, not three pollers on separate tokens: every
// update reaches exactly one replica, any replica may get any chat, and
// all three draw on the same bot-wide budget key, as in production. 90
// private chats ask at once, 30 through each replica: with the budgets
// in Redis every answer lands and the fake answers no 429; the control
// run, the same load with CHATBRIDGE_LOCAL_BUDGETS=1 (a budget per
// replica, about 3 × 28 a second), draws 429s — so the test can fail.
func TestBudgetE2EThreeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end with three replicas")
	}
	srv := redistest.StartServer(t, redistest.Options{})
	llm := newFakeLLM(t, 15*time.Millisecond)
	const chats = 90
	run := func(t *testing.T, prefix string, env ...string) (flood int, stats telegramtest.Stats, took time.Duration) {
		tg := telegramtest.NewServer(telegramtest.Options{Token: e2eToken})
		t.Cleanup(tg.Close)
		var listens []string
		for range 3 {
			listens = append(listens, freePort(t))
		}
		front := budgetFront(t, listens)
		for _, listen := range listens {
			cfg := writeFile(t, "config.toml", fmt.Sprintf(`
[store]
kind = "redis"
url = %q
prefix = %q
[http]
listen = %q
[log]
level = "info"
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
drafts = false
edit_interval = "300ms"
webhook_url = %q
webhook_secret = "e2e-shared-secret"
`, srv.URL, prefix, listen, llm.srv.URL+"/llm/v1", tg.Endpoint(), front.URL+"/tg/hook"))
			startReplica(t, cfg, env...)
		}
		// In cluster mode one replica (the leader) sets the webhook; the
		// others serve what the front sends them once they are ready.
		waitFor(t, "the leader to set the webhook", 30*time.Second, func() bool {
			return tg.Stats().Methods["setWebhook"] >= 1
		})
		for _, listen := range listens {
			waitFor(t, "replica "+listen+" to be ready", 20*time.Second, func() bool {
				resp, err := http.Get("http://" + listen + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
		}
		// In cluster mode a conversation is answered by its partition's
		// owner: wait until the partitions are spread over the three
		// replicas, or one replica would answer (and budget) everything
		// and the control could not fail.
		waitFor(t, "the partitions spread over the three replicas", 30*time.Second, func() bool {
			for _, listen := range listens {
				st, err := replicaStatus(listen)
				if err != nil || len(st.Partitions) < 8 {
					return false
				}
			}
			return true
		})
		start := time.Now()
		for c := range chats {
			ask(tg, int64(1001+c), fmt.Sprint("q", c))
		}
		waitFor(t, "every chat answered", 60*time.Second, func() bool {
			for c := range chats {
				if !strings.Contains(tg.Visible(int64(1001+c)), fmt.Sprintf("Answer to q%d:", c)) ||
					!strings.HasSuffix(tg.Visible(int64(1001+c)), "end.") {
					return false
				}
			}
			return true
		})
		took = time.Since(start)
		for c := range chats {
			if n := len(tg.BotMessages(int64(1001 + c))); n != 1 {
				t.Errorf("chat %d: %d bot messages, want the one answer", 1001+c, n)
			}
		}
		return tg.Flood429(), tg.Stats(), took
	}
	t.Run("shared", func(t *testing.T) {
		stats := openBudgetDB(t, srv.URL, "stats")
		before := redisCalls(t, stats)
		flood, st, took := run(t, "shared")
		total, detail := perAnswer(before, redisCalls(t, stats), chats)
		sends := st.Methods["sendMessage"] + st.Methods["editMessageText"]
		t.Logf("3 replicas, budgets in Redis: %d answers in %s, %d sendMessage+editMessageText, 429s %v; Redis (whole bridge, start-up included): %.1f commands per answer: %s",
			chats, took.Round(time.Millisecond), sends, st.TooMany, total, detail)
		if flood != 0 {
			t.Errorf("the Telegram fake answered %d 429s (%v) to three replicas on one budget, want 0", flood, st.TooMany)
		}
	})
	t.Run("control_local_budgets", func(t *testing.T) {
		flood, st, took := run(t, "control", localBudgetsEnv+"=1")
		t.Logf("3 replicas, budgets per replica: %d answers in %s, 429s %v", chats, took.Round(time.Millisecond), st.TooMany)
		if flood == 0 {
			t.Error("per-replica budgets drew no 429 under the same load: the test cannot tell a shared budget from none")
		}
	})
}
