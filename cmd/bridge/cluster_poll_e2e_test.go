package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestClusterPollTakeover: three real replicas on one redis-server, the
// Telegram instance by long polling. Only one replica polls; all three
// are ready (the others send). The poller is killed with SIGKILL with
// questions in flight; another replica takes the poller role within the
// lease TTL and continues from the shared offset: every question gets
// exactly one answer, in order per chat, none posted twice (but for the
// W1 window of an answer the killed replica was posting).
func TestClusterPollTakeover(t *testing.T) {
	url := redistest.Start(t)
	tg := newFakeTelegram(t)
	llm := newFakeLLM(t, 15*time.Millisecond)
	reps := newReplicas(t, 3, 1)
	startReplicas(t, reps, func(r *clusterReplica) string {
		return clusterReplicaConfig(t, url, "poll", r.id, llm, r.listen, telegramPollTable(tg))
	})
	waitReady(t, reps, 30*time.Second)
	const polls = "this replica polls getUpdates"
	pollers := func() []*clusterReplica {
		var out []*clusterReplica
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
			if texts, _ := tgTextsW1(tg.BotMessages(chat)); !answersAre(texts, qs) {
				return false
			}
		}
		return true
	}
	t.Cleanup(func() { // what each chat shows, when the test failed
		if !t.Failed() {
			return
		}
		for chat := range asked {
			var short []string
			for _, m := range tg.BotMessages(chat) {
				short = append(short, fmt.Sprintf("%.24q…(%d chars, %d edits, deleted %v)", m.Text, len(m.Text), m.Edits, m.Deleted))
			}
			t.Logf("chat %d: asked %v; bot messages %v", chat, asked[chat], short)
		}
	})
	askAll(1)
	waitFor(t, "round 1 answered", 30*time.Second, answered)

	// Round 2 in flight, then the poller dies.
	askAll(2)
	waitFor(t, "round 2 being answered", 10*time.Second, func() bool { return llm.requestCount() > chats })
	poller.kill(t)
	killedAt := time.Now()
	var next *clusterReplica
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
	// The poller answered too (it held partitions): a first message in
	// flight when it was killed may stay as W1 partial, one per chat at
	// the most, and only in round 2.
	for chat, qs := range asked {
		texts, partials := tgTextsW1(tg.BotMessages(chat))
		checkOneEachAfterKill(t, fmt.Sprint("chat ", chat), texts, partials, qs)
	}
	for _, r := range reps {
		if r != poller && r != next && strings.Contains(r.p.stderr.String(), polls) {
			t.Errorf("%s polled too", r.id)
		}
	}
}
