package discord

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// roles is a fake lease table: a role goes to the first replica asking
// for it, or to the holder a test sets.
type roles struct {
	mu     sync.Mutex
	holder map[string]string
}

func (r *roles) set(role, who string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holder[role] = who
}

func (r *roles) leader(me string) func(string) bool {
	return func(role string) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.holder[role] == "" {
			r.holder[role] = me
		}
		return r.holder[role] == me
	}
}

// TestClusterShards: in cluster mode each replica runs only the gateway
// of the shards it leads; the identifies of different replicas keep one
// per identifyEvery (the slot in the shared KV); one replica registers
// the slash commands; a shard whose role moves is stopped by its old
// replica and identified anew by the new one, which then receives its
// events.
func TestClusterShards(t *testing.T) {
	f := newFakeWith(t, discordtest.Options{NoRateLimits: true, Shards: 2, MaxConcurrency: 1})
	kv := bridgestest.NewKV()
	rs := &roles{holder: map[string]string{"discord/main/shard/0": "a", "discord/main/shard/1": "b"}}
	const every = 300 * time.Millisecond
	replica := func(me string) (*Adapter, chan bridges.Message) {
		cfg := Config{Name: "main", Token: backend.NewSecret(fakeToken), APIBaseURL: f.apiBase()}
		a, err := New(cfg, bridges.Deps{Logger: testLogger(t).With("replica", me), KV: kv, Leader: rs.leader(me)})
		if err != nil {
			t.Fatal(err)
		}
		a.identifyEvery, a.leaderEvery = every, 50*time.Millisecond
		h, got := collect()
		start(t, a, h)
		return a, got
	}
	a, gotA := replica("a")
	b, gotB := replica("b")
	f.wait(t, "both shards ready", func() bool { return f.Ready(0) && f.Ready(1) })
	bridgestest.WaitFor(t, "both replicas connected", 10*time.Second, func() bool { return a.Connected() && b.Connected() })
	ids := f.Identifies()
	if len(ids) != 2 || ids[0].Shard[0] == ids[1].Shard[0] || ids[0].Shard[1] != 2 || ids[1].Shard[1] != 2 {
		t.Fatalf("identifies %+v, want shards 0 and 1 of 2 once each", ids)
	}
	if gap := ids[1].At.Sub(ids[0].At); gap < every-20*time.Millisecond {
		t.Errorf("the two replicas identified %v apart, want at least %v (max_concurrency 1, deployment-wide)", gap, every)
	}
	isCommands := func(r discordtest.Request) bool {
		return r.Method == "PUT" && r.Path == "applications/"+fakeAppID+"/commands"
	}
	f.wait(t, "commands registered", func() bool { return len(f.requests(isCommands)) >= 1 })

	guild1 := fmt.Sprint(uint64(1) << 22) // on shard 1
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("10", "C1", guild1, "5", "<@"+fakeBotID+"> to b"))
	if m := received(t, gotB, "shard 1's message at b"); m.Text != "to b" {
		t.Errorf("b received %q", m.Text)
	}

	// b loses shard 1 (its lease expired): b stops that gateway, a
	// identifies shard 1 and receives its events.
	rs.set("discord/main/shard/1", "a")
	f.wait(t, "shard 1 identified again", func() bool { return len(f.Identifies()) == 3 })
	if id := f.Identifies()[2]; id.Shard != [2]int{1, 2} {
		t.Errorf("third identify for shard %v, want [1 2]", id.Shard)
	}
	bridgestest.WaitFor(t, "shard 1 ready at a", 10*time.Second, func() bool { return f.Ready(1) && a.readyShards.Load() == 2 })
	bridgestest.WaitFor(t, "b runs no shard", 10*time.Second, func() bool { return b.shards.Load() == 0 && b.readyShards.Load() == 0 })
	if !b.Connected() {
		t.Error("b, leading no shard, reports not connected (it still sends)")
	}
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("11", "C1", guild1, "5", "<@"+fakeBotID+"> to a"))
	if m := received(t, gotA, "shard 1's message at a"); m.Text != "to a" {
		t.Errorf("a received %q", m.Text)
	}
	select {
	case m := <-gotB:
		t.Errorf("b received %q after losing the shard", m.Text)
	case <-time.After(100 * time.Millisecond):
	}
	if n := len(f.requests(isCommands)); n != 1 {
		t.Errorf("slash commands registered %d times by the replicas, want 1", n)
	}
}
