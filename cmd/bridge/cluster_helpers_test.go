package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
)

// The cluster end-to-end tests' skeleton: N real `bridge run` replicas on
// one redis-server, each with a config written from one template, waited
// for until ready, and the checks they share.

// clusterConf is what the replicas of one cluster test share: the Redis
// store under prefix, cluster mode (3 s leases, partitions), the log
// level, shutdown_grace and the fake LLM backend.
type clusterConf struct {
	redisURL, prefix string
	partitions       int
	level, grace     string
	llm              *fakeLLM
}

// write writes replica id's config: the shared tables, [http] listen,
// then the platform table(s) in platform.
func (c clusterConf) write(t *testing.T, id, listen, platform string) string {
	return writeFile(t, "config-"+id+".toml", fmt.Sprintf(`
[store]
kind = "redis"
url = %q
prefix = %q
[cluster]
replica_id = %q
lease_ttl = "3s"
partitions = %d
[http]
listen = %q
[log]
level = %q
[bridge]
shutdown_grace = %q
%s`, c.redisURL, c.prefix, id, c.partitions, listen, c.level, c.grace, c.llm.table())+platform)
}

// clusterReplicaConfig writes one replica's config: the Redis store under
// prefix, cluster mode (3 s leases, 8 partitions), debug logs, the fake
// LLM backend, and the platform table(s) in platform.
func clusterReplicaConfig(t *testing.T, redisURL, prefix, id string, llm *fakeLLM, listen, platform string) string {
	return clusterConf{redisURL: redisURL, prefix: prefix, partitions: 8, level: "debug", grace: "2s", llm: llm}.write(t, id, listen, platform)
}

// telegramPollTable is a Telegram instance by long polling.
func telegramPollTable(tg *telegramtest.Server) string {
	return fmt.Sprintf(`[telegram.main]
token = "${E2E_TG_TOKEN}"
api_endpoint = %q
drafts = false
poll_timeout = "1s"
edit_interval = "200ms"
`, tg.Endpoint())
}

// telegramWebhookTable is a Telegram instance in webhook mode behind
// front (the URL Telegram posts to), with the webhook_secret every
// replica shares.
func telegramWebhookTable(tg *telegramtest.Server, front string) string {
	return fmt.Sprintf(`[telegram.main]
token = "${E2E_TG_TOKEN}"
api_endpoint = %q
webhook_url = %q
webhook_secret = "shared_secret-e2e"
drafts = false
edit_interval = "200ms"
`, tg.Endpoint(), front+"/tg/hook")
}

// slackSocketTable is a Slack instance over Socket Mode (one connection
// per replica).
func slackSocketTable(sl *slacktest.Server) string {
	return fmt.Sprintf(`[slack.main]
bot_token = %q
app_token = %q
api_url = %q
`, slacktest.DefaultBotToken, slacktest.DefaultAppToken, sl.APIURL())
}

// discordShardsTable is a Discord instance with 2 shards leased across
// the replicas.
func discordShardsTable(dc *discordtest.Server) string {
	return fmt.Sprintf(`[discord.main]
token = %q
api_base_url = %q
shards = 2
edit_interval = "200ms"
`, dc.Token(), dc.APIBase())
}

// clusterReplica is one replica of a cluster test.
type clusterReplica struct {
	id     string
	listen string
	env    []string // added to the process's environment
	p      *bridgeProc
}

// newReplicas returns n replicas r<first>… with free ports, not started.
func newReplicas(t *testing.T, n, first int) []*clusterReplica {
	var reps []*clusterReplica
	for i := range n {
		reps = append(reps, &clusterReplica{id: fmt.Sprintf("r%d", first+i), listen: freePort(t)})
	}
	return reps
}

// startReplicas starts each replica of reps with the config cfg writes
// for it.
func startReplicas(t *testing.T, reps []*clusterReplica, cfg func(r *clusterReplica) string) {
	t.Helper()
	for _, r := range reps {
		r.p = startBridge(t, cfg(r), r.env...)
	}
}

// listens returns the replicas' [http] listen addresses.
func listens(reps []*clusterReplica) []string {
	var out []string
	for _, r := range reps {
		out = append(out, r.listen)
	}
	return out
}

// kill ends the replica with SIGKILL and waits for its exit.
func (r *clusterReplica) kill(t *testing.T) time.Time {
	t.Helper()
	at, _ := kill(t, r.p)
	return at
}

// waitReady waits until every replica's /readyz answers 200.
func waitReady(t *testing.T, reps []*clusterReplica, d time.Duration) {
	t.Helper()
	for _, r := range reps {
		waitFor(t, r.id+" ready", d, func() bool {
			resp, err := http.Get("http://" + r.listen + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
}

// waitSpread waits until the replicas together own all partitions and
// each owns at least least of them (in cluster mode a conversation is
// answered, and budgeted, by its partition's owner).
func waitSpread(t *testing.T, reps []*clusterReplica, partitions, least int, d time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the %d partitions spread over the replicas", partitions), d, func() bool {
		total := 0
		for _, r := range reps {
			st, err := replicaStatus(r.listen)
			if err != nil || len(st.Partitions) < least {
				return false
			}
			total += len(st.Partitions)
		}
		return total == partitions
	})
}

// replicaStatus reads the cluster part of a replica's /readyz.
func replicaStatus(listen string) (clusterStatus, error) {
	c := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get("http://" + listen + "/readyz")
	if err != nil {
		return clusterStatus{}, err
	}
	defer resp.Body.Close()
	var st struct {
		Cluster clusterStatus `json:"cluster"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st.Cluster, err
}

// answering reports whether the replica has an answer in flight.
func (r *clusterReplica) answering() bool {
	st, err := replicaStatus(r.listen)
	if err != nil {
		return false
	}
	for _, p := range st.Partitions {
		if p.InFlight > 0 {
			return true
		}
	}
	return false
}

// requestCount is how many requests the backend got.
func (f *fakeLLM) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// answersAre reports whether got begins with the answers to qs, in order.
func answersAre(got, qs []string) bool {
	if len(got) < len(qs) {
		return false
	}
	for i, q := range qs {
		if got[i] != answerFor(q) {
			return false
		}
	}
	return true
}

// checkOneEach asserts that the bot's messages got in a conversation are
// exactly one answer per question of qs, in order.
func checkOneEach(t *testing.T, what string, got, qs []string) {
	t.Helper()
	var want []string
	for _, q := range qs {
		want = append(want, answerFor(q))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: bot messages\n%q\nwant one answer per question, in order:\n%q", what, got, want)
	}
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

// tgTexts is the visible text of each of msgs.
func tgTexts(msgs []telegramtest.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// withoutW1 returns the texts of msgs without the partial first messages
// of failure window W1 (research/scale-out.md §7): a first message whose
// send was in flight when its replica was killed, never checkpointed, so
// the new owner posted the answer anew right after it. It is a strict
// prefix of the message that follows it and was never edited; partials
// are their texts.
func withoutW1(msgs []acceptMsg) (texts, partials []string) {
	for k, m := range msgs {
		if k+1 < len(msgs) && m.edits == 0 && len(m.text) < len(msgs[k+1].text) && strings.HasPrefix(msgs[k+1].text, m.text) {
			partials = append(partials, m.text)
			continue
		}
		texts = append(texts, m.text)
	}
	return texts, partials
}

// tgAcceptMsgs is the Telegram messages not deleted (a stale send its
// replica deleted: W2), as a user sees them.
func tgAcceptMsgs(msgs []telegramtest.Message) []acceptMsg {
	var out []acceptMsg
	for _, m := range msgs {
		if !m.Deleted {
			out = append(out, acceptMsg{m.Text, m.Edits})
		}
	}
	return out
}

// dcAcceptMsgs is the Discord messages (the fake lists those not
// deleted), as a user sees them.
func dcAcceptMsgs(msgs []discordtest.Message) []acceptMsg {
	var out []acceptMsg
	for _, m := range msgs {
		out = append(out, acceptMsg{m.Content, m.Edits()})
	}
	return out
}

// tgTextsW1 is withoutW1 of the Telegram messages not deleted.
func tgTextsW1(msgs []telegramtest.Message) (texts, partials []string) {
	return withoutW1(tgAcceptMsgs(msgs))
}

// dcContentsW1 is withoutW1 of the Discord messages.
func dcContentsW1(msgs []discordtest.Message) (texts, partials []string) {
	return withoutW1(dcAcceptMsgs(msgs))
}

// checkOneEachAfterKill is checkOneEach of a conversation in which the
// killed replica may have been posting a first message: W1 partials
// (withoutW1) are tolerated, at most the one in flight at the kill.
func checkOneEachAfterKill(t *testing.T, what string, texts, partials, qs []string) {
	t.Helper()
	if w1 := len(partials); w1 > 0 {
		t.Logf("%s: %d W1 partial first message(s) left by the killed replica", what, w1)
		if w1 > 1 {
			t.Errorf("%s: %d W1 partial messages, want at most the one in flight at the kill", what, w1)
		}
	}
	checkOneEach(t, what, texts, qs)
}

// dcContents is the content of each of msgs.
func dcContents(msgs []discordtest.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Content)
	}
	return out
}

// TestWithoutW1: only a never-edited strict prefix of the message right
// after it counts as a W1 partial; the end-of-run checks rely on it, and
// real runs seldom show one.
func TestWithoutW1(t *testing.T) {
	msgs := []acceptMsg{
		{"Answer to: a", 0},
		{"Answer to: b wo", 0}, // W1: a prefix of the next, never edited
		{"Answer to: b word", 2},
		{"Answer to: c", 1}, // edited: kept
		{"Answer to: c word", 0},
		{"Answer to: d", 0}, // a prefix, but not of the next: kept
		{"other", 0},
		{"other", 0}, // equal, not a strict prefix: kept
	}
	texts, partials := withoutW1(msgs)
	want := []string{"Answer to: a", "Answer to: b word", "Answer to: c", "Answer to: c word", "Answer to: d", "other", "other"}
	if !slices.Equal(texts, want) || !slices.Equal(partials, []string{"Answer to: b wo"}) {
		t.Errorf("withoutW1 = %q, %q; want %q, [\"Answer to: b wo\"]", texts, partials, want)
	}
}
