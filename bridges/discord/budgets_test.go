package discord

import (
	"context"
	"errors"
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

// TestChannelBudgetAcrossRelays: two relays (two replicas) sharing one
// budget state answer eight questions asked at once in one channel:
// their posts into it never number more than 5 in any 5 s, Discord's
// limit for the channel, their typing indicators neither, and the fake
// answers no 429.
func TestChannelBudgetAcrossRelays(t *testing.T) {
	f := newFakeWith(t, discordtest.Options{})
	st := bridges.NewLocalBudgets()
	be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer("the answer to "+req.Question, 100, 300*time.Millisecond, "")
	}}
	var hs []bridges.Handler
	var as []*Adapter
	for range 2 {
		r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore(), Logger: testLogger(t)})
		r.ShareBudgets(st, nil)
		a := budgetAdapter(t, f, st)
		as = append(as, a)
		hs = append(hs, r.Bind(a, bridges.Route{BackendName: "test", Backend: be, Scope: "user"}))
	}
	const n = 8
	start := time.Now()
	for i := range n {
		m := bridges.Message{Key: as[i%2].key("C1"), ID: fmt.Sprint(100 + i), ChatID: "C1", UserID: fmt.Sprint("U", i),
			Text: fmt.Sprint("q", i), Mentioned: true, Time: time.Now(), Space: "G1",
			Ref: &msgRef{channelID: "C1", guildID: "G1"}}
		if err := hs[i%2].Handle(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	f.wait(t, "every answer", func() bool { return len(f.Messages("C1")) == n })
	got := map[string]bool{}
	for _, m := range f.Messages("C1") {
		got[m.Content] = true
	}
	for i := range n {
		if want := fmt.Sprint("the answer to q", i); !got[want] {
			t.Errorf("no message %q in %v", want, got)
		}
	}
	if d := time.Since(start); d < channelWindow {
		t.Errorf("%d answers in one channel within %v, want it to take at least %v", n, d, channelWindow)
	}
	writes := f.Requests(func(r discordtest.Request) bool { return r.Major == "C1" && isWrite(r) })
	if most := mostIn(writes, discordtest.MessageWindow); most > discordtest.MessageLimit {
		t.Errorf("%d posts and edits within %v into one channel, want at most %d", most, discordtest.MessageWindow, discordtest.MessageLimit)
	}
	typing := f.Requests(func(r discordtest.Request) bool { return r.Route == "POST /channels/{channel}/typing" })
	if most := mostIn(typing, discordtest.MessageWindow); most > discordtest.MessageLimit {
		t.Errorf("%d typing indicators within %v into one channel, want at most %d", most, discordtest.MessageWindow, discordtest.MessageLimit)
	}
	if got := f.TooMany(); len(got) != 0 {
		t.Errorf("429s = %v, want none", got)
	}
	t.Logf("%d writes, %d typing indicators", len(writes), len(typing))
}

// TestOwnRequestsBooked: every REST request the core does not book
// itself (lookups, thread starts, reactions, gateway discovery, command
// registration, Check) waits for the bot's global budget, paused here
// as after a global 429, on the state the adapter shares (Deps.Budgets);
// a reply's post, which the core booked, is not booked twice; and a
// 429 to the adapter's own request pauses the budget it applies to.
func TestOwnRequestsBooked(t *testing.T) {
	ctx := context.Background()
	calls := []struct {
		route string
		call  func(a *Adapter) error
	}{
		{"GET /channels/{channel}", func(a *Adapter) error { _, err := a.channel(ctx, "C1"); return err }},
		{"GET /guilds/{guild}", func(a *Adapter) error { _, err := a.guild(ctx, "G1"); return err }},
		{"GET /guilds/{guild}/roles", func(a *Adapter) error {
			a.bot.Store(&botInfo{ID: fakeBotID, AppID: fakeAppID})
			if a.botRole(ctx, "G1") != fakeRole {
				return errors.New("no bot role")
			}
			return nil
		}},
		{"GET /guilds/{guild}/members/{user}", func(a *Adapter) error {
			_, err := a.IsAdmin(ctx, &bridges.Message{UserID: "5", ChatID: "C1", Ref: &msgRef{channelID: "C1", guildID: "G1"}})
			var ae *APIError
			if errors.As(err, &ae) && ae.Status == 404 {
				return nil // an unknown member, as the fake answers
			}
			return err
		}},
		{"GET /channels/{channel}/messages", func(a *Adapter) error {
			_, err := a.ThreadHistory(ctx, &bridges.Message{ID: "99", ChatID: "T1", Ref: &msgRef{channelID: "T1", inThread: true}}, 5)
			return err
		}},
		{"POST /channels/{channel}/messages/{message}/threads", func(a *Adapter) error {
			m := question("42", "C1")
			ref := m.Ref.(*msgRef)
			ref.thread = &threadPlan{name: "q"}
			ch, err := a.startThread(ctx, m, ref)
			if err == nil && ch == "C1" {
				err = errors.New("no thread started")
			}
			return err
		}},
		{"PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me", func(a *Adapter) error {
			return a.React(ctx, question("42", "C1"), "⚠️")
		}},
		{"GET /gateway/bot", func(a *Adapter) error { _, _, err := a.shardCount(ctx); return err }},
		{"PUT /applications/{app}/commands", func(a *Adapter) error {
			a.bot.Store(&botInfo{ID: fakeBotID, AppID: fakeAppID})
			if !a.registerCommands(ctx) {
				return errors.New("commands not registered")
			}
			return nil
		}},
		{"GET /users/@me", func(a *Adapter) error { _, err := a.Check(ctx); return err }},
	}
	const pause = 300 * time.Millisecond
	for _, c := range calls {
		t.Run(c.route, func(t *testing.T) {
			f := newFake(t)
			st := bridges.NewLocalBudgets()
			a := budgetAdapter(t, f, st)
			until := time.Now().Add(pause)
			st.Pause(a.globalBudget(), until)
			if err := c.call(a); err != nil {
				t.Fatalf("call: %v", err)
			}
			rs := f.Requests(func(r discordtest.Request) bool { return r.Route == c.route })
			if len(rs) == 0 {
				t.Fatalf("no %s request", c.route)
			}
			if rs[0].At.Before(until) {
				t.Errorf("%s left %v before the global budget's pause ended", c.route, until.Sub(rs[0].At))
			}
		})
	}
	t.Run("reply post", func(t *testing.T) {
		f := newFake(t)
		st := bridges.NewLocalBudgets()
		a := budgetAdapter(t, f, st)
		until := time.Now().Add(time.Minute)
		st.Pause(a.globalBudget(), until)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := a.Send(sctx, question("42", "C1"), bridges.Out{Text: "hi"}); err != nil {
			t.Fatalf("Send: %v", err)
		}
	})
	t.Run("429 pauses", func(t *testing.T) {
		f := newFake(t)
		st := bridges.NewLocalBudgets()
		a := budgetAdapter(t, f, st)
		f.RateLimit("PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me", 1, 2*time.Second, "user")
		if err := a.React(ctx, question("42", "C2"), "⚠️"); err == nil {
			t.Fatal("reaction answered 429 = nil error")
		}
		if at := st.Peek(time.Now(), []bridges.Budget{a.channelBudget("reactions", "C2")}); time.Until(at) < time.Second {
			t.Errorf("reactions budget of C2 free %v from now after its 429 of 2 s, want it paused", time.Until(at))
		}
		f.RateLimit("GET /channels/{channel}", 1, 2*time.Second, "global")
		if _, err := a.channel(ctx, "C1"); err == nil {
			t.Fatal("lookup answered 429 = nil error")
		}
		if at := st.Peek(time.Now(), []bridges.Budget{a.globalBudget()}); time.Until(at) < time.Second {
			t.Errorf("global budget free %v from now after a global 429 of 2 s, want it paused", time.Until(at))
		}
	})
}

// TestTypingWindow: typing indicators into one channel from two
// adapters (two replicas) sharing one budget state are skipped beyond
// Discord's 5 in 5 s, not sent into a 429 (each adapter's discordgo
// knows only its own requests of the bucket).
func TestTypingWindow(t *testing.T) {
	f := newFakeWith(t, discordtest.Options{})
	st := bridges.NewLocalBudgets()
	var as []*Adapter
	for range 2 {
		a := budgetAdapter(t, f, st)
		as = append(as, a)
	}
	skipped := 0
	for i := range 8 {
		err := as[i/discordtest.MessageLimit].Typing(context.Background(), question("1", "C1"))
		switch {
		case errors.Is(err, errTypingSkipped):
			skipped++
		case err != nil:
			t.Fatalf("Typing %d: %v", i, err)
		}
	}
	if n := len(f.Requests(func(r discordtest.Request) bool { return r.Route == "POST /channels/{channel}/typing" })); n != discordtest.MessageLimit || skipped != 8-n {
		t.Errorf("%d typing requests and %d skipped, want %d and %d", n, skipped, discordtest.MessageLimit, 8-discordtest.MessageLimit)
	}
	if got := f.TooMany(); len(got) != 0 {
		t.Errorf("429s = %v, want none", got)
	}
}

// budgetAdapter returns an adapter named "main" on f booking its
// requests on the budget state st (as a replica of a deployment does).
func budgetAdapter(t *testing.T, f *fake, st bridges.BudgetState) *Adapter {
	t.Helper()
	a, err := New(Config{Name: "main", Token: backend.NewSecret(fakeToken), APIBaseURL: f.apiBase()},
		bridges.Deps{Logger: testLogger(t), Budgets: st})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
