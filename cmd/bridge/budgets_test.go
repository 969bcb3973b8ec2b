package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
	"github.com/chat-bridge/chat-bridge/internal/ratetest"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// budgetTol is how far a slot the Redis limiter gives may lie from the
// in-process one's: the server computes on its clock, the client turns
// the answer back into a time.Time at its own clock, so slots carry the
// round trip's jitter (loopback, a loaded 2-core machine).
const budgetTol = 40 * time.Millisecond

// openBudgetDB opens a Redis store under its own prefix on url.
func openBudgetDB(t testing.TB, url, prefix string) *redisstore.DB {
	t.Helper()
	db, err := redisstore.Open(redisstore.Config{URL: url, Prefix: prefix}, redisstore.Options{})
	if err != nil {
		t.Fatalf("redisstore.Open(%s) = %v", url, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testPrefix(t testing.TB) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
}

// budgetImpls are the BudgetState implementations the contract runs on:
// the in-process default and the deployment's on a real redis-server.
func budgetImpls(t *testing.T) map[string]func(t *testing.T) bridges.BudgetState {
	url := redistest.Start(t)
	return map[string]func(t *testing.T) bridges.BudgetState{
		"local": func(*testing.T) bridges.BudgetState { return bridges.NewLocalBudgets() },
		"redis": func(t *testing.T) bridges.BudgetState {
			db := openBudgetDB(t, url, testPrefix(t))
			return newRedisBudgets(db.Budgets(), slog.New(slog.DiscardHandler))
		},
	}
}

func near(got, want time.Time) bool {
	d := got.Sub(want)
	return d >= -budgetTol && d <= budgetTol
}

// TestBudgetContract runs the limiter's key behaviours (bridges'
// TestLimiter* tests, on real time) on both implementations: bursts and
// pace, nested budgets, pauses, GCRA windows, the departure check against
// pauses and rolling windows, and the priority of first texts and finals
// over intermediate edits.
func TestBudgetContract(t *testing.T) {
	cases := map[string]func(t *testing.T, l bridges.BudgetState){
		"paces_and_bursts": func(t *testing.T, l bridges.BudgetState) {
			t0 := time.Now()
			b := []bridges.Budget{{Key: "chat", Every: time.Second, Burst: 2}}
			want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second}
			for i, w := range want {
				if got, ok := l.Book(t0, b, -1); !ok || !near(got, t0.Add(w)) {
					t.Errorf("Book %d = %v at +%s, want booked at +%s (burst 2, then one per second)", i, ok, got.Sub(t0), w)
				}
			}
		},
		"nested": func(t *testing.T, l bridges.BudgetState) {
			t0 := time.Now()
			global := bridges.Budget{Key: "bot", Every: 100 * time.Millisecond}
			var last time.Time
			for i := range 50 {
				chat := bridges.Budget{Key: fmt.Sprint("chat", i), Every: time.Second}
				at, _ := l.Book(t0, []bridges.Budget{chat, global}, -1)
				if i > 0 && at.Sub(last) < 100*time.Millisecond-budgetTol {
					t.Fatalf("request %d only %s after the previous, want the bot-wide 100ms", i, at.Sub(last))
				}
				last = at
			}
			at, _ := l.Book(t0, []bridges.Budget{{Key: "chat0", Every: time.Second}, global}, -1)
			// Redis books on the server's clock: "now" crosses the wire
			// as a duration, so allow the tolerance the other cases do.
			if at.Before(t0.Add(5*time.Second - budgetTol)) {
				t.Errorf("second request in chat 0 at +%s, want after the bot-wide queue (+5s)", at.Sub(t0))
			}
		},
		"pause": func(t *testing.T, l bridges.BudgetState) {
			t0 := time.Now()
			b := bridges.Budget{Key: "chat", Every: time.Second, Burst: 5}
			l.Pause(b, t0.Add(30*time.Second))
			if at, _ := l.Book(t0, []bridges.Budget{b}, -1); !near(at, t0.Add(30*time.Second)) {
				t.Errorf("Book during a retry-after pause at +%s, want +30s", at.Sub(t0))
			}
			if at := l.Peek(t0, []bridges.Budget{b}); at.Before(t0.Add(30*time.Second - budgetTol)) {
				t.Errorf("Peek during a pause = +%s, want ≥ +30s", at.Sub(t0))
			}
			other := bridges.Budget{Key: "other", Every: time.Second}
			if at, _ := l.Book(t0, []bridges.Budget{other}, -1); !near(at, t0) {
				t.Errorf("another scope paused too: +%s", at.Sub(t0))
			}
		},
		"gcra_window": func(t *testing.T, l bridges.BudgetState) {
			t0 := time.Now()
			b := []bridges.Budget{{Key: "group", Every: 3 * time.Second}}
			var times []time.Time
			for i := range 100 {
				at, _ := l.Book(t0.Add(time.Duration(i)*100*time.Millisecond), b, -1)
				times = append(times, at)
			}
			// Slots are 3 s apart, ± the round trip's jitter: no more
			// than 20 within any minute less that jitter.
			if n := ratetest.MostInWindow(times, time.Minute-2*budgetTol); n > 20 {
				t.Errorf("%d requests within a minute, want <= 20", n)
			}
		},
		"depart_waits_for_pause": func(t *testing.T, l bridges.BudgetState) {
			t0 := time.Now()
			b := []bridges.Budget{{Key: "chat", Every: time.Second}}
			slot, _ := l.Book(t0, b, -1)
			l.Pause(b[0], t0.Add(5*time.Second))
			if _, retry, ok := l.Depart(slot, b); ok || !near(retry, t0.Add(5*time.Second)) {
				t.Errorf("Depart during a pause = %v, retry at +%s; want refused until +5s", ok, retry.Sub(t0))
			}
		},
		"depart_rolling_window": func(t *testing.T, l bridges.BudgetState) {
			b := []bridges.Budget{{Key: "group", Every: time.Millisecond, Window: 300 * time.Millisecond, Max: 2}}
			t0 := time.Now()
			done1, _, ok1 := l.Depart(t0, b)
			_, _, ok2 := l.Depart(t0, b)
			if !ok1 || !ok2 {
				t.Fatalf("Depart in an empty window of 2 = %v, %v; want both", ok1, ok2)
			}
			// Both in flight: the instant is unknown, ask again soon.
			if _, retry, ok := l.Depart(time.Now(), b); ok || retry.After(time.Now().Add(200*time.Millisecond)) {
				t.Fatalf("third Depart with two in flight = %v, retry in %s; want refused, retry soon", ok, time.Until(retry))
			}
			doneAt := time.Now()
			done1(doneAt)
			_, retry, ok := l.Depart(time.Now(), b)
			if ok || !near(retry, doneAt.Add(300*time.Millisecond)) {
				t.Fatalf("Depart after one was done = %v, retry at +%s; want refused until done+300ms", ok, retry.Sub(doneAt))
			}
			for time.Now().Before(retry) {
				time.Sleep(time.Until(retry))
			}
			if _, _, ok := l.Depart(time.Now(), b); !ok {
				t.Error("Depart refused once the first request left the window")
			}
		},
		"first_text_overtakes_edits": func(t *testing.T, l bridges.BudgetState) {
			t0 := time.Now()
			every := 100 * time.Millisecond
			bot := bridges.Budget{Key: "bot", Every: every}
			nest := func(i int) []bridges.Budget {
				return []bridges.Budget{{Key: fmt.Sprint("chat", i), Every: time.Second}, bot}
			}
			booked, waiting := 0, 0
			for i := range 10 {
				at, ok := l.Book(t0, nest(i), time.Second)
				if ok {
					booked++
					continue
				}
				if !at.After(t0) {
					t.Fatalf("edit %d refused with ask-again at +%s", i, at.Sub(t0))
				}
				waiting++
			}
			if booked > 2 {
				t.Errorf("%d intermediate edits booked ahead, want at most one slot beyond now", booked)
			}
			first, _ := l.Book(t0, nest(10), -1)
			if d := first.Sub(t0); d > 2*every+budgetTol {
				t.Errorf("first text booked at +%s, want within two slots (+%s) despite %d edits waiting", d, 2*every, waiting)
			}
		},
		"edits_within_horizon": func(t *testing.T, l bridges.BudgetState) {
			t0 := time.Now()
			b := []bridges.Budget{{Key: "group", Every: 3 * time.Second}}
			l.Book(t0, b, -1)
			l.Book(t0, b, -1) // the next free slot is +6s
			if at, ok := l.Book(t0, b, time.Second); ok || !near(at, t0.Add(5*time.Second)) {
				t.Errorf("edit with 1s horizon = %v, ask again at +%s; want refused, +5s", ok, at.Sub(t0))
			}
			if at, ok := l.Book(t0.Add(5*time.Second), b, time.Second); !ok || !near(at, t0.Add(6*time.Second)) {
				t.Errorf("edit asking again = %v at +%s, want booked at +6s", ok, at.Sub(t0))
			}
		},
	}
	impls := budgetImpls(t)
	for _, impl := range []string{"local", "redis"} {
		for name, run := range cases {
			t.Run(impl+"/"+name, func(t *testing.T) { run(t, impls[impl](t)) })
		}
	}
}

// TestRedisBudgetsInflightExpires: a replica that dies with a request in
// flight (never reporting it done) frees its window slot after the
// in-flight TTL, not never.
func TestRedisBudgetsInflightExpires(t *testing.T) {
	db := openBudgetDB(t, redistest.Start(t), testPrefix(t))
	rb := db.Budgets()
	rb.InflightTTL = 200 * time.Millisecond
	l := newRedisBudgets(rb, slog.New(slog.DiscardHandler))
	b := []bridges.Budget{{Key: "bot", Every: time.Millisecond, Window: 100 * time.Millisecond, Max: 1}}
	if _, _, ok := l.Depart(time.Now(), b); !ok {
		t.Fatal("Depart in an empty window refused")
	}
	left := time.Now()
	for {
		_, retry, ok := l.Depart(time.Now(), b)
		if ok {
			break
		}
		if time.Since(left) > 5*time.Second {
			t.Fatal("the dead replica's request still holds the window after 5s")
		}
		time.Sleep(max(time.Until(retry), time.Millisecond))
	}
	// Freed after the TTL plus the window, not before.
	if d := time.Since(left); d < 300*time.Millisecond-budgetTol {
		t.Errorf("slot freed after %s, want after the in-flight TTL and window (300ms)", d)
	}
}

// platformLog records when requests reach a platform, per budget.
type platformLog struct {
	mu  sync.Mutex
	bot []time.Time
	grp map[string][]time.Time
}

// replicaLoad drives one replica's limiter as a live reply's writer does
// (reply.go pace and depart): book a slot on (group, bot), sleep until
// it, check departure, wait when refused, and once departed reach the
// platform after a 0–8 ms transit and report done. It runs workers
// goroutines until stop.
func replicaLoad(l bridges.BudgetState, groups []bridges.Budget, bot bridges.Budget, workers int, until time.Time, pl *platformLog, seed uint64) {
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for time.Now().Before(until) {
				g := groups[rng.IntN(len(groups))]
				bs := []bridges.Budget{g, bot}
				slot, _ := l.Book(time.Now(), bs, -1)
				time.Sleep(time.Until(slot))
				for {
					done, retry, ok := l.Depart(time.Now(), bs)
					if ok {
						time.Sleep(time.Duration(rng.IntN(8)) * time.Millisecond)
						at := time.Now()
						pl.mu.Lock()
						pl.bot = append(pl.bot, at)
						pl.grp[g.Key] = append(pl.grp[g.Key], at)
						pl.mu.Unlock()
						done(time.Now())
						break
					}
					time.Sleep(max(time.Until(retry), time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
}

// TestSharedBudgetThreeReplicas: three limiters, as three replicas, each
// with 8 concurrent writers, drive Telegram's budgets: 30 a second
// bot-wide (the adapter's 36 ms pace, 30 in any rolling second) and 20 in
// any window per group, the minute scaled to 2 s (one per 100 ms) so the
// run is short. On one Redis the departures never exceed either limit in
// any window; with three in-process limiters (the control: per-replica
// budgets) the same load exceeds both, so the test can fail.
func TestSharedBudgetThreeReplicas(t *testing.T) {
	url := redistest.Start(t)
	bot := bridges.Budget{Key: "telegram/main", Every: 36 * time.Millisecond,
		Window: 36 * time.Millisecond * 30 * 100 / 107, Max: 30}
	var groups []bridges.Budget
	for i := range 4 {
		groups = append(groups, bridges.Budget{Key: fmt.Sprint("telegram/main/chat/-", i),
			Every: 100 * time.Millisecond, Window: 2 * time.Second, Max: 20})
	}
	run := func(t *testing.T, mk func(i int) bridges.BudgetState) *platformLog {
		pl := &platformLog{grp: map[string][]time.Time{}}
		until := time.Now().Add(3 * time.Second)
		var wg sync.WaitGroup
		for i := range 3 {
			l := mk(i)
			wg.Go(func() { replicaLoad(l, groups, bot, 8, until, pl, uint64(i)) })
		}
		wg.Wait()
		return pl
	}
	most := func(pl *platformLog) (botMost, grpMost int) {
		for _, ts := range pl.grp {
			grpMost = max(grpMost, ratetest.MostInWindow(ts, 2*time.Second))
		}
		return ratetest.MostInWindow(pl.bot, time.Second), grpMost
	}
	t.Run("shared", func(t *testing.T) {
		pl := run(t, func(i int) bridges.BudgetState {
			db := openBudgetDB(t, url, "shared") // one prefix: one deployment
			return newRedisBudgets(db.Budgets(), slog.New(slog.DiscardHandler))
		})
		b, g := most(pl)
		t.Logf("3 replicas on one Redis: %d requests, at most %d in a second (bot), %d in a group window", len(pl.bot), b, g)
		if b > 30 {
			t.Errorf("%d requests of the bot within one second, want ≤ 30", b)
		}
		if g > 20 {
			t.Errorf("%d requests of one group within its window, want ≤ 20", g)
		}
		// The budgets are used, not starved: 3 s at about 28/s, at least half.
		if len(pl.bot) < 40 {
			t.Errorf("only %d requests in 3 s, want the bot's budget used (≥ 40)", len(pl.bot))
		}
	})
	t.Run("control_local", func(t *testing.T) {
		pl := run(t, func(int) bridges.BudgetState { return bridges.NewLocalBudgets() })
		b, g := most(pl)
		t.Logf("3 replicas with budgets of their own: %d requests, at most %d in a second (bot), %d in a group window", len(pl.bot), b, g)
		if b <= 30 || g <= 20 {
			t.Errorf("per-replica budgets stayed within the limits (bot %d/s, group %d): the load cannot tell a shared budget from none", b, g)
		}
	})
}

// TestSharedQuestionWindows: three relays (three replicas) on one Redis
// share the question rate, the daily quota and the once-a-minute notice:
// a user allowed 2 questions a minute gets 2 answers and one refusal
// whichever replicas the questions reach. The control, three relays with
// windows of their own, answers more than the limit allows.
func TestSharedQuestionWindows(t *testing.T) {
	url := redistest.Start(t)
	type tcase struct {
		policy  bridges.Policy
		asks    int
		asked   int // with shared windows
		control int // with windows per replica
		refusal string
	}
	cases := map[string]tcase{
		"user_rate":   {policy: bridges.Policy{UserRate: bridges.Rate{N: 2, Per: time.Minute}}, asks: 5, asked: 2, control: 5, refusal: "asking faster"},
		"chat_rate":   {policy: bridges.Policy{ChatRate: bridges.Rate{N: 2, Per: time.Minute}}, asks: 4, asked: 2, control: 4, refusal: "This chat is asking faster"},
		"daily_quota": {policy: bridges.Policy{UserDailyQuota: 2}, asks: 4, asked: 2, control: 4, refusal: "today's limit"},
	}
	for name, tc := range cases {
		for _, shared := range []bool{true, false} {
			label := name + "/control_local"
			if shared {
				label = name + "/shared"
			}
			t.Run(label, func(t *testing.T) {
				be := &bridgestest.Backend{Steps: bridgestest.Answer("ok", 1, 0, "conv")}
				var relays []*bridges.Relay
				var hs []bridges.Handler
				var ps []*bridgestest.Platform
				prefix := testPrefix(t)
				for range 3 {
					r, err := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore()})
					if err != nil {
						t.Fatal(err)
					}
					if shared {
						db := openBudgetDB(t, url, prefix)
						b := newRedisBudgets(db.Budgets(), slog.New(slog.DiscardHandler))
						r.ShareBudgets(b, redisWindows{b: b.rb, quota: db.KV("limits")})
					}
					p := bridgestest.NewPlatform(bridges.Limits{MaxLen: 4000})
					relays = append(relays, r)
					ps = append(ps, p)
					hs = append(hs, r.Bind(p, bridges.Route{Backend: be, Policy: tc.policy, Respond: "all"}))
				}
				for i := range tc.asks {
					m := bridges.Message{
						Key:    bridges.Key{Platform: "fake", Instance: "t", Chat: "g1"},
						ChatID: "g1", ID: fmt.Sprint("q", i), UserID: "u1", Text: fmt.Sprint("question ", i),
						Mentioned: true,
					}
					if name == "chat_rate" {
						m.UserID = fmt.Sprint("u", i) // one chat, many users
					}
					if err := hs[i%3].Handle(context.Background(), m); err != nil {
						t.Fatalf("Handle(q%d) = %v", i, err)
					}
				}
				for _, r := range relays {
					if err := r.Shutdown(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				refusals := 0
				for _, p := range ps {
					for _, text := range p.Messages() {
						if strings.Contains(text, tc.refusal) {
							refusals++
						}
					}
				}
				asked := len(be.Requests())
				if !shared {
					if asked != tc.control {
						t.Errorf("backend asked %d times with windows per replica, want %d (each replica counts alone)", asked, tc.control)
					}
					return
				}
				if asked != tc.asked {
					t.Errorf("backend asked %d times over 3 replicas, want %d (one limit for the deployment)", asked, tc.asked)
				}
				wantRefusals := 1 // once a minute per user, deployment-wide
				if name == "chat_rate" {
					wantRefusals = tc.asks - tc.asked // each refused user hears it once
				}
				if refusals != wantRefusals {
					t.Errorf("%d refusals %q shown, want %d", refusals, tc.refusal, wantRefusals)
				}
			})
		}
	}
}

// BenchmarkBudgets measures one request's limiter work (Book on a chat
// and the bot, then Depart and done on the bot's rolling window): in
// process, and on a redis-server over its unix socket (3 EVALSHA).
func BenchmarkBudgets(b *testing.B) {
	url := redistest.Start(b)
	impls := map[string]func() bridges.BudgetState{
		"local": bridges.NewLocalBudgets,
		"redis": func() bridges.BudgetState {
			db := openBudgetDB(b, url, testPrefix(b))
			return newRedisBudgets(db.Budgets(), slog.New(slog.DiscardHandler))
		},
	}
	for _, name := range []string{"local", "redis"} {
		b.Run(name, func(b *testing.B) {
			l := impls[name]()
			bot := bridges.Budget{Key: "bot", Every: time.Nanosecond, Window: time.Second, Max: 1 << 30}
			i := 0
			for b.Loop() {
				i++
				bs := []bridges.Budget{{Key: fmt.Sprint("chat", i%1000), Every: time.Nanosecond}, bot}
				l.Book(time.Now(), bs, -1)
				done, _, ok := l.Depart(time.Now(), bs)
				if !ok {
					b.Fatal("Depart refused")
				}
				done(time.Now())
			}
		})
	}
}

// TestRedisBudgetsFallBack: with the server gone, booking goes on in the
// replica's own limiter (its budgets still hold), and the log says so.
func TestRedisBudgetsFallBack(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{})
	db := openBudgetDB(t, srv.URL, testPrefix(t))
	var logs logtest.Buffer
	l := newRedisBudgets(db.Budgets(), slog.New(slog.NewTextHandler(&logs, nil)))
	b := []bridges.Budget{{Key: "chat", Every: time.Second}}
	if _, ok := l.Book(time.Now(), b, -1); !ok {
		t.Fatal("Book refused")
	}
	srv.Stop()
	t0 := time.Now()
	first, ok1 := l.Book(t0, b, -1)
	second, ok2 := l.Book(t0, b, -1)
	if !ok1 || !ok2 || !near(first, t0) || !near(second, t0.Add(time.Second)) {
		t.Errorf("Book without the server = %v at +%s, %v at +%s; want the local pace (+0, +1s)", ok1, first.Sub(t0), ok2, second.Sub(t0))
	}
	if _, _, ok := l.Depart(time.Now(), b); !ok {
		t.Error("Depart without the server refused")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("falling back took %s, want within the 2s timeout per call", d)
	}
	if !strings.Contains(logs.String(), "shared budgets unreachable") {
		t.Errorf("log = %q, want the fallback named", logs.String())
	}
	// The server back (empty: no persistence in this test), booking goes
	// to it again once retryAfter has passed: another replica sees it.
	srv.Restart()
	l.mu.Lock()
	l.down = time.Now() // as if retryAfter were over
	l.mu.Unlock()
	other := newRedisBudgets(openBudgetDB(t, srv.URL, testPrefix(t)).Budgets(), slog.New(slog.DiscardHandler))
	waitFor(t, "booking on the restarted server", 10*time.Second, func() bool {
		t1 := time.Now()
		l.Book(t1, []bridges.Budget{{Key: "after", Every: time.Hour}}, -1)
		at, _ := other.Book(t1, []bridges.Budget{{Key: "after", Every: time.Hour}}, -1)
		return at.After(t1.Add(30 * time.Minute))
	})
}

// heldCount is how many departures l holds for writers.
func heldCount(l *redisBudgets) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, hs := range l.held {
		n += len(hs)
	}
	return n
}

// TestRedisBudgetsDepartAhead: the writer's Depart after its booking is
// no round trip of its own, for a slot due at once (departed in the
// booking's script) and for one further off (departed the lead before
// the slot); the departure is the real one (the window counts it, Done
// moves it to done); one no writer takes is withdrawn after the keep, so
// it holds no place in the window (else for the 30 s in-flight TTL); and
// a Pause of this replica voids the one held, so Depart sees the pause.
func TestRedisBudgetsDepartAhead(t *testing.T) {
	db := openBudgetDB(t, redistest.Start(t), testPrefix(t))
	cc := redistest.Count(db.Client())
	l := newRedisBudgets(db.Budgets(), slog.New(slog.DiscardHandler))
	l.lead, l.keep = 150*time.Millisecond, 300*time.Millisecond
	win := bridges.Budget{Key: "bot", Every: 400 * time.Millisecond, Window: time.Hour, Max: 3}
	bs := []bridges.Budget{{Key: "chat", Every: time.Millisecond}, win}
	inWindow := func() int64 {
		n, err := db.Client().ZCard(context.Background(), testPrefix(t)+":budget:bot:win").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Due at once: Depart takes the departure booked with it.
	slot, ok := l.Book(time.Now(), bs, -1)
	if !ok || time.Until(slot) > l.lead {
		t.Fatalf("first Book = %v, due in %s; want booked at once", ok, time.Until(slot))
	}
	before := cc.Commands.Load()
	done, _, ok := l.Depart(time.Now(), bs)
	if !ok {
		t.Fatal("Depart after a Book due now refused")
	}
	if n := cc.Commands.Load() - before; n != 0 {
		t.Errorf("Depart after a Book due now sent %d commands, want none (departed with the booking)", n)
	}
	if n := inWindow(); n != 1 {
		t.Errorf("window counts %d, want the departure in flight (1)", n)
	}
	done(time.Now())

	// Due later (the next pace, ~400ms out): departed
	// the lead before the slot, held for the writer.
	slot, ok = l.Book(time.Now(), bs, -1)
	if !ok || time.Until(slot) < l.lead {
		t.Fatalf("second Book = %v, due in %s; want booked further than the lead", ok, time.Until(slot))
	}
	waitFor(t, "the departure checked ahead of the slot", 5*time.Second, func() bool { return heldCount(l) == 1 })
	time.Sleep(time.Until(slot))
	before = cc.Commands.Load()
	done, _, ok = l.Depart(time.Now(), bs)
	if !ok {
		t.Fatal("Depart at a slot checked ahead refused")
	}
	if n := cc.Commands.Load() - before; n != 0 {
		t.Errorf("Depart at a slot checked ahead sent %d commands, want none", n)
	}
	done(time.Now())
	if n := inWindow(); n != 2 {
		t.Errorf("window counts %d, want both requests (2)", n)
	}

	// Booked, never departed (a typing indicator, a draft overtaken by
	// its final): withdrawn after the keep, the window keeps 2.
	l.Book(time.Now(), bs, -1)
	waitFor(t, "the departure checked ahead", 5*time.Second, func() bool { return heldCount(l) == 1 })
	waitFor(t, "the untaken departure withdrawn", 5*time.Second, func() bool { return heldCount(l) == 0 && inWindow() == 2 })

	// A pause of this replica voids a held departure.
	other := []bridges.Budget{{Key: "other", Every: time.Second}}
	l.Book(time.Now(), other, -1)
	if heldCount(l) != 1 {
		t.Fatal("no departure held for a Book due now")
	}
	l.Pause(other[0], time.Now().Add(10*time.Second))
	if _, retry, ok := l.Depart(time.Now(), other); ok || time.Until(retry) < 9*time.Second {
		t.Errorf("Depart after a Pause = %v, retry in %s; want refused for the pause", ok, time.Until(retry))
	}
}

// TestRedisBudgetsEditHerd: 50 live replies of one replica ask for an
// edit slot on a bot-wide budget booked 300 ms ahead, at once, as they
// do when told to ask again at the same instant. Each is refused with
// the server's ask-again time (± the tolerance), yet the herd costs a
// handful of bookings, not 50: an edit the known tats show the server
// would refuse is refused without a round trip. Once the slot is near,
// an edit is booked (on the server) again.
func TestRedisBudgetsEditHerd(t *testing.T) {
	db := openBudgetDB(t, redistest.Start(t), testPrefix(t))
	cc := redistest.Count(db.Client())
	l := newRedisBudgets(db.Budgets(), slog.New(slog.DiscardHandler))
	every := 100 * time.Millisecond
	bot := bridges.Budget{Key: "bot", Every: every}
	t0 := time.Now()
	for range 3 { // the bot booked to +300ms
		l.Book(t0, []bridges.Budget{bot}, -1)
	}
	// The server's answer to an edit now: ask again at +200ms (one pace
	// before the next free slot).
	chat := func(i int) []bridges.Budget {
		return []bridges.Budget{{Key: fmt.Sprint("chat", i), Every: time.Second}, bot}
	}
	before := cc.Commands.Load()
	var wg sync.WaitGroup
	agains := make([]time.Time, 50)
	oks := make([]bool, 50)
	for i := range 50 {
		wg.Go(func() { agains[i], oks[i] = l.Book(time.Now(), chat(i), every) })
	}
	wg.Wait()
	sent := cc.Commands.Load() - before
	for i := range 50 {
		if oks[i] || !near(agains[i], t0.Add(200*time.Millisecond)) {
			t.Errorf("edit %d = %v, ask again at +%s; want refused, again at +200ms", i, oks[i], agains[i].Sub(t0))
		}
	}
	if sent > 5 {
		t.Errorf("50 edits refused at once sent %d commands, want a handful (refused here once the first answer is known)", sent)
	}
	// At the ask-again time the edit goes to the server and is booked.
	time.Sleep(time.Until(t0.Add(200 * time.Millisecond)))
	before = cc.Commands.Load()
	at, ok := l.Book(time.Now(), chat(0), every)
	if !ok || !near(at, t0.Add(300*time.Millisecond)) {
		t.Errorf("edit asking again = %v at +%s, want booked at +300ms", ok, at.Sub(t0))
	}
	if cc.Commands.Load() == before {
		t.Error("edit asking again was not booked on the server")
	}
}
