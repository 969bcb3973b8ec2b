package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestClusterDiscordShards: three real replicas on one redis-server and
// the Discord fake with 2 shards. The shards run on the replicas that
// lease them, each identified once, the identifies 5 s apart
// deployment-wide; the slash commands are registered once. A replica
// running a shard is killed with SIGKILL while answers stream; another
// takes the shard over and identifies again within the lease TTL (plus
// the identify slot), and every question gets exactly one answer, in
// order per channel, none posted twice.
func TestClusterDiscordShards(t *testing.T) {
	t.Parallel() // waits mostly; runs beside TestClusterAcceptance
	url := redistest.Start(t)
	dc := discordtest.NewServer(discordtest.Options{Token: "e2e-discord-token", NoRateLimits: true, Shards: 2, MaxConcurrency: 1})
	t.Cleanup(dc.Close)
	llm := newFakeLLM(t, 15*time.Millisecond)
	reps := newReplicas(t, 3, 1)
	startReplicas(t, reps, func(r *clusterReplica) string {
		return clusterReplicaConfig(t, url, "dc", r.id, llm, r.listen, discordShardsTable(dc))
	})
	waitFor(t, "both shards ready", 30*time.Second, func() bool { return dc.Ready(0) && dc.Ready(1) })
	waitReady(t, reps, 20*time.Second)
	ids := dc.Identifies()
	if len(ids) != 2 || ids[0].Shard[0] == ids[1].Shard[0] {
		t.Fatalf("identifies %+v, want shards 0 and 1 once each", ids)
	}
	if gap := ids[1].At.Sub(ids[0].At); gap < 4900*time.Millisecond {
		t.Errorf("the shards identified %v apart, want at least 5s (max_concurrency 1, deployment-wide)", gap)
	}
	const runs = "cluster: this replica runs a shard"
	var victim *clusterReplica
	for _, r := range reps {
		if strings.Contains(r.p.stderr.String(), runs) {
			victim = r
			break
		}
	}
	if victim == nil {
		t.Fatal("no replica logs running a shard")
	}

	const chans = 8
	asked := map[string][]string{}
	seq := 0
	askAll := func(round int) {
		for c := 1; c <= chans; c++ {
			seq++
			ch := fmt.Sprint(7000 + c)
			guild := fmt.Sprint(uint64(c) << 22) // shard c % 2
			q := fmt.Sprintf("d%d-q%d", c, round)
			asked[ch] = append(asked[ch], q)
			if err := dc.Dispatch("MESSAGE_CREATE", discordtest.MessageCreate(fmt.Sprint(800000+seq), ch, guild, "42", "<@"+discordtest.BotID+"> "+q)); err != nil {
				t.Fatalf("dispatch: %v", err)
			}
		}
	}
	answered := func() bool {
		for ch, qs := range asked {
			if texts, _ := dcContentsW1(dc.Messages(ch)); !answersAre(texts, qs) {
				return false
			}
		}
		return true
	}
	askAll(1)
	waitFor(t, "round 1 answered", 30*time.Second, answered)

	askAll(2)
	waitFor(t, "round 2 accepted and streaming", 10*time.Second, func() bool { return llm.requestCount() >= 2*chans })
	victim.kill(t)
	killedAt := time.Now()
	waitFor(t, "the shard identified again", 20*time.Second, func() bool { return len(dc.Identifies()) >= 3 })
	waitFor(t, "both shards ready again", 10*time.Second, func() bool { return dc.Ready(0) && dc.Ready(1) })
	took := time.Since(killedAt)
	t.Logf("%s killed; its shard identified again %v later", victim.id, took.Round(100*time.Millisecond))
	if took > 3*time.Second+6*time.Second {
		t.Errorf("takeover took %v, want within the 3s lease TTL plus one identify slot", took)
	}
	askAll(3)
	waitFor(t, "every round answered", 30*time.Second, answered)
	time.Sleep(500 * time.Millisecond) // room for a wrongly doubled post to show
	for ch, qs := range asked {
		// The killed replica may have been posting a first message:
		// W1, at most one per channel.
		texts, partials := dcContentsW1(dc.Messages(ch))
		checkOneEachAfterKill(t, "channel "+ch, texts, partials, qs)
	}
	commands := dc.Requests(func(r discordtest.Request) bool {
		return r.Method == "PUT" && strings.HasSuffix(r.Path, "/commands")
	})
	if len(commands) != 1 {
		t.Errorf("slash commands registered %d times, want once by one replica", len(commands))
	}
}
