package discord

import (
	"fmt"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// mostIn returns the most requests of rs that arrived within any span
// of length d.
func mostIn(rs []discordtest.Request, d time.Duration) int {
	most := 0
	for i := range rs {
		n := 0
		for j := i; j < len(rs) && rs[j].At.Sub(rs[i].At) < d; j++ {
			n++
		}
		most = max(most, n)
	}
	return most
}

// TestBurstOfNewChannels: the first messages of 60 channels of 60 guilds
// at once, each needing its channel and guild looked up, are answered
// with Discord's limits on and no 429: the lookups book the bot's global
// budget with the replies.
func TestBurstOfNewChannels(t *testing.T) {
	f := newFakeWith(t, discordtest.Options{})
	r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore(), Logger: testLogger(t)})
	a, err := New(Config{Name: "main", Token: backend.NewSecret(fakeToken), APIBaseURL: f.apiBase(), SkipCommands: true},
		bridges.Deps{Logger: testLogger(t), Budgets: r.Budgets()})
	if err != nil {
		t.Fatal(err)
	}
	be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("the answer to "+req.Question, 8, 20*time.Millisecond, "")
	}}
	start(t, a, r.Bind(a, bridges.Route{BackendName: "test", Backend: be, EditInterval: 50 * time.Millisecond}))
	f.connected(t)
	const n = 60
	for i := range n {
		f.dispatch(t, "MESSAGE_CREATE", msgEvent(fmt.Sprint(1000+i), fmt.Sprint("N", i), fmt.Sprint("G", i), "5",
			fmt.Sprintf("<@%s> q%d", fakeBotID, i)))
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := range n {
		want := fmt.Sprint("the answer to q", i)
		ok := f.Wait(time.Until(deadline), func() bool {
			ms := f.Messages(fmt.Sprint("N", i))
			return len(ms) == 1 && ms[0].Content == want
		})
		if !ok {
			t.Fatalf("channel N%d: messages %+v, want one %q", i, f.Messages(fmt.Sprint("N", i)), want)
		}
	}
	all := f.Requests(func(r discordtest.Request) bool { return r.Route != "" })
	lookups := 0
	for _, r := range all {
		if r.Route == "GET /channels/{channel}" || r.Route == "GET /guilds/{guild}" {
			lookups++
		}
	}
	if lookups < n {
		t.Errorf("%d channel and guild lookups, want at least %d (the test needs them)", lookups, n)
	}
	if got := f.TooMany(); len(got) != 0 {
		t.Errorf("429s = %v, want none", got)
	}
	most := mostIn(all, time.Second)
	if most > discordtest.GlobalLimit {
		t.Errorf("%d requests within a second, want at most %d", most, discordtest.GlobalLimit)
	}
	t.Logf("%d requests (%d lookups), at most %d within a second", len(all), lookups, most)
}
