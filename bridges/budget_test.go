package bridges

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/internal/ratetest"
)

func TestLimiterPacesAndBursts(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := []Budget{{Key: "chat", Every: time.Second, Burst: 2}}
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, l.reserve(t0, b).Sub(t0))
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reservation %d at +%s, want +%s (burst 2, then one per second)", i, got[i], want[i])
		}
	}
}

func TestLimiterNestedBudgets(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	global := Budget{Key: "bot", Every: 100 * time.Millisecond}
	// 50 chats, each with its own budget, all under one bot-wide budget:
	// the bot-wide pace holds across them.
	var last time.Time
	for i := 0; i < 50; i++ {
		chat := Budget{Key: "chat" + string(rune('A'+i)), Every: time.Second}
		at := l.reserve(t0, []Budget{chat, global})
		if i > 0 && at.Sub(last) < 100*time.Millisecond {
			t.Fatalf("request %d only %s after the previous, want the bot-wide 100ms", i, at.Sub(last))
		}
		last = at
	}
	// A second request in chat A waits for chat A's own budget too.
	at := l.reserve(t0, []Budget{{Key: "chatA", Every: time.Second}, global})
	if at.Before(t0.Add(5 * time.Second)) {
		t.Errorf("second request in chat A at +%s, want after the bot-wide queue", at.Sub(t0))
	}
}

func TestLimiterPause(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := Budget{Key: "chat", Every: time.Second, Burst: 5}
	l.pause(b, t0.Add(30*time.Second))
	if at := l.reserve(t0, []Budget{b}); !at.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("reservation during a retry-after pause at +%s, want +30s", at.Sub(t0))
	}
	other := Budget{Key: "other", Every: time.Second}
	if at := l.reserve(t0, []Budget{other}); !at.Equal(t0) {
		t.Errorf("another scope paused too: +%s", at.Sub(t0))
	}
}

// TestLimiterWindow checks the budget never allows more than the platform's
// window: 20 per minute per group at Every=3s.
func TestLimiterWindow(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := []Budget{{Key: "group", Every: 3 * time.Second}}
	var times []time.Time
	for i := 0; i < 100; i++ {
		times = append(times, l.reserve(t0.Add(time.Duration(i)*100*time.Millisecond), b))
	}
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Minute; j++ {
			n++
		}
		if n > 20 {
			t.Fatalf("%d requests within a minute from request %d, want <= 20", n, i)
		}
	}
}

// wakeSim replays requests booked on a limiter against a slow scheduler:
// request i is booked urgently at book(i), and its goroutine wakes at
// wake(i, slot) (at or after its slot: late by whatever the scheduler
// does). At each wake-up it asks depart; refused, it wakes again at the
// instant depart gives. A request that departs reaches the platform
// transit(i) later and is done 1 ms after that. It returns the arrival
// instants at the platform, by request.
type wakeSim struct {
	l       *limiter
	n       int
	budgets func(i int) []Budget
	book    func(i int) time.Time
	wake    func(i int, slot time.Time) time.Time
	transit func(i int) time.Duration
	naive   bool // depart at the first wake-up, no departure check
}

func (s wakeSim) run(t *testing.T) []time.Time {
	t.Helper()
	type ev struct {
		at   time.Time
		i    int
		done func(time.Time) // nil: a wake-up of request i
	}
	var evs []ev
	for i := range s.n {
		slot := s.l.reserve(s.book(i), s.budgets(i))
		evs = append(evs, ev{at: s.wake(i, slot), i: i})
	}
	arrived := make([]time.Time, s.n)
	for steps := 0; len(evs) > 0; steps++ {
		if steps > 100*s.n {
			t.Fatal("requests never depart")
		}
		slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
		e := evs[0]
		evs = evs[1:]
		if e.done != nil {
			e.done(e.at)
			continue
		}
		if s.naive {
			arrived[e.i] = e.at.Add(s.transit(e.i))
			continue
		}
		done, retry, ok := s.l.depart(e.at, s.budgets(e.i))
		if !ok {
			if !retry.After(e.at) {
				t.Fatalf("request %d refused at %v with a retry at %v", e.i, e.at, retry)
			}
			evs = append(evs, ev{at: retry, i: e.i})
			continue
		}
		arrived[e.i] = e.at.Add(s.transit(e.i))
		evs = append(evs, ev{at: arrived[e.i].Add(time.Millisecond), i: e.i, done: done})
	}
	return arrived
}

// TestLimiterLateWakersCannotBunch: 120 finals booked at once on the
// bot-wide budget (36 ms apart, 30 in any second). A slow scheduler wakes
// the first 40 only at +1.3 s, all together, while the later ones wake on
// time, and the transport adds up to 40 ms on the way: booked slots alone
// would let 70 arrive within a second. Checked at departure against what
// actually left, no second at the platform sees more than 30.
func TestLimiterLateWakersCannotBunch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bot := Budget{Key: "bot", Every: 36 * time.Millisecond, Window: time.Second, Max: 30}
	sim := wakeSim{
		n:       120,
		budgets: func(int) []Budget { return []Budget{bot} },
		book:    func(int) time.Time { return t0 },
		wake: func(i int, slot time.Time) time.Time {
			if i < 40 {
				return t0.Add(1300 * time.Millisecond)
			}
			return slot
		},
		transit: func(i int) time.Duration { return time.Duration(i%5) * 10 * time.Millisecond },
	}
	naive := sim
	naive.l, naive.naive = newLimiter(), true
	if n := ratetest.MostInWindow(naive.run(t), time.Second); n <= 30 {
		t.Fatalf("the scenario does not bunch: %d in a second without the departure check", n)
	}
	sim.l = newLimiter()
	arrived := sim.run(t)
	if n := ratetest.MostInWindow(arrived, time.Second); n > 30 {
		t.Errorf("%d requests reached the platform within one second, want ≤ 30", n)
	}
	last := slices.MaxFunc(arrived, func(a, b time.Time) int { return a.Compare(b) })
	// 120 requests at 30 a second (plus transit) need 4 s; the check
	// must not stall them much longer.
	if d := last.Sub(t0); d > 6*time.Second {
		t.Errorf("last request at +%s, want within 6s", d)
	}
}

// TestLimiterNestedWindowsUnderLateWakes: 10 groups (20 in any minute
// each) under one bot (30 in any second), 400 requests booked as they
// come, each woken late by a pseudo-random 0..900 ms and carried in
// 0..40 ms: both limits hold at the platform, and the departure check
// counts each request in both at once.
func TestLimiterNestedWindowsUnderLateWakes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bot := Budget{Key: "bot", Every: 36 * time.Millisecond, Window: time.Second, Max: 30}
	group := func(i int) Budget {
		return Budget{Key: fmt.Sprint("group", i%10), Every: 3 * time.Second, Window: time.Minute, Max: 20}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	late := make([]time.Duration, 400)
	for i := range late {
		late[i] = time.Duration(rng.IntN(900)) * time.Millisecond
		if i%7 == 0 {
			late[i] = 0
		}
	}
	sim := wakeSim{
		l:       newLimiter(),
		n:       400,
		budgets: func(i int) []Budget { return []Budget{group(i), bot} },
		book:    func(i int) time.Time { return t0.Add(time.Duration(i) * 50 * time.Millisecond) },
		wake:    func(i int, slot time.Time) time.Time { return slot.Add(late[i]) },
		transit: func(i int) time.Duration { return time.Duration(i%5) * 10 * time.Millisecond },
	}
	arrived := sim.run(t)
	if n := ratetest.MostInWindow(arrived, time.Second); n > 30 {
		t.Errorf("%d requests of the bot within one second, want ≤ 30", n)
	}
	for g := range 10 {
		var ts []time.Time
		for i := g; i < len(arrived); i += 10 {
			ts = append(ts, arrived[i])
		}
		if n := ratetest.MostInWindow(ts, time.Minute); n > 20 {
			t.Errorf("group %d: %d requests within one minute, want ≤ 20", g, n)
		}
	}
	sim.l.mu.Lock()
	defer sim.l.mu.Unlock()
	for k, bk := range sim.l.buckets {
		if bk.win != nil && bk.inflight != 0 {
			t.Errorf("budget %s: %d requests still counted in flight after all were done", k, bk.inflight)
		}
	}
}

// TestLimiterDepartWaitsForPause: a slot booked before a retry-after pause
// began does not let its request run into the pause.
func TestLimiterDepartWaitsForPause(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := []Budget{{Key: "chat", Every: time.Second}}
	slot := l.reserve(t0, b)
	l.pause(b[0], t0.Add(5*time.Second))
	if _, retry, ok := l.depart(slot, b); ok || !retry.Equal(t0.Add(5*time.Second)) {
		t.Errorf("depart during a pause = %v, retry at +%s; want refused until +5s", ok, retry.Sub(t0))
	}
	if _, _, ok := l.depart(t0.Add(5*time.Second), b); !ok {
		t.Error("depart refused after the pause")
	}
}

// TestLimiterFirstTextOvertakesEdits: ten replies' intermediate edits
// want the bot-wide budget at once; a first text (or final) asked for
// after them is booked within two slots, ahead of the eight edits still
// waiting, and each waiting edit is told when to ask again, not booked.
func TestLimiterFirstTextOvertakesEdits(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	every := 100 * time.Millisecond
	bot := Budget{Key: "bot", Every: every}
	nest := func(i int) []Budget { return []Budget{{Key: fmt.Sprint("chat", i), Every: time.Second}, bot} }
	type edit struct {
		i     int
		again time.Time
	}
	var waiting []edit
	booked := 0
	for i := range 10 {
		at, ok := l.book(t0, nest(i), time.Second)
		if ok {
			booked++
			continue
		}
		if !at.After(t0) {
			t.Fatalf("edit %d refused with ask-again at +%s", i, at.Sub(t0))
		}
		waiting = append(waiting, edit{i, at})
	}
	if booked > 2 {
		t.Errorf("%d intermediate edits booked ahead, want at most one slot beyond now", booked)
	}
	first := l.reserve(t0, nest(10))
	if d := first.Sub(t0); d > 2*every {
		t.Errorf("first text booked at +%s, want within two slots (+%s) despite %d edits waiting", d, 2*every, len(waiting))
	}
	// The waiting edits, asking again when told, all come after it.
	for steps := 0; len(waiting) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("edits never booked")
		}
		slices.SortStableFunc(waiting, func(a, b edit) int { return a.again.Compare(b.again) })
		e := waiting[0]
		at, ok := l.book(e.again, nest(e.i), time.Second)
		if !ok {
			waiting[0].again = at
			continue
		}
		if !at.After(first) {
			t.Errorf("edit %d booked at +%s, before the first text at +%s", e.i, at.Sub(t0), first.Sub(t0))
		}
		waiting = waiting[1:]
	}
}

// TestLimiterEditsWithinHorizon: an intermediate edit whose slot lies
// beyond its horizon is refused with when to ask again, and books nothing.
func TestLimiterEditsWithinHorizon(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := []Budget{{Key: "group", Every: 3 * time.Second}}
	l.reserve(t0, b)
	l.reserve(t0, b) // the next free slot is +6s
	if at, ok := l.book(t0, b, time.Second); ok || !at.Equal(t0.Add(5*time.Second)) {
		t.Errorf("edit with 1s horizon = %v, ask again at +%s; want refused, +5s", ok, at.Sub(t0))
	}
	if at, ok := l.book(t0.Add(5*time.Second), b, time.Second); !ok || !at.Equal(t0.Add(6*time.Second)) {
		t.Errorf("edit asking again = %v at +%s, want booked at +6s", ok, at.Sub(t0))
	}
}

// streamPlatform is a platform with native drafts (like Telegram's
// sendMessageDraft) that records when each chat's drafts and messages go.
type streamPlatform struct {
	lim, draft Limits

	mu     sync.Mutex
	drafts map[string][]time.Time // chat → each draft update
	finals []time.Time            // every final message, all chats
}

func (p *streamPlatform) Run(context.Context, Handler) error { return nil }
func (p *streamPlatform) Limits(*Message) Limits             { return p.lim }
func (p *streamPlatform) Send(_ context.Context, m *Message, out Out) (Sent, error) {
	if out.Final {
		p.mu.Lock()
		p.finals = append(p.finals, time.Now())
		p.mu.Unlock()
	}
	return Sent{ChatID: m.ChatID, ID: "1"}, nil
}
func (p *streamPlatform) Edit(context.Context, Sent, Out) error { return nil }
func (p *streamPlatform) OpenStream(_ context.Context, m *Message) (NativeStream, error) {
	return &fakeDraft{p: p, m: m}, nil
}

type fakeDraft struct {
	p *streamPlatform
	m *Message
}

func (d *fakeDraft) Limits() Limits { return d.p.draft }
func (d *fakeDraft) Update(context.Context, string) error {
	d.p.mu.Lock()
	d.p.drafts[d.m.ChatID] = append(d.p.drafts[d.m.ChatID], time.Now())
	d.p.mu.Unlock()
	return nil
}
func (d *fakeDraft) Finish(ctx context.Context, out Out) (Sent, error) {
	return d.p.Send(ctx, d.m, out)
}
func (d *fakeDraft) Message() (Sent, bool) { return Sent{}, false }

// streamReplies runs n live replies in chats 0..n-1 on p, all asked at
// once: each gets a longer text every 50 ms for answer, then its final.
func streamReplies(p *streamPlatform, n int, answer time.Duration) {
	l := newLimiter()
	log := slog.New(slog.DiscardHandler)
	var wg sync.WaitGroup
	for i := range n {
		m := &Message{ChatID: fmt.Sprint(i), Private: true}
		r := newReply(p, m, p.lim, 0, l, log)
		wg.Go(func() { r.run(context.Background()) })
		wg.Go(func() {
			text := ""
			for range answer / (50 * time.Millisecond) {
				time.Sleep(50 * time.Millisecond)
				text += "word "
				r.update(text)
			}
			r.finish(text + "end.")
			r.wait()
		})
	}
	wg.Wait()
}

// TestReplyFirstDraftsFirst: 20 answers start at once on a shared draft
// budget of one draft per 100 ms. Every chat sees its first draft within
// about the time the budget needs to give each chat one (20 × 100 ms),
// not after other chats' later drafts.
func TestReplyFirstDraftsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &streamPlatform{
			lim:    Limits{MaxLen: 10000, EditInterval: time.Second, Budgets: []Budget{{Key: "bot", Every: 10 * time.Millisecond}}},
			draft:  Limits{MaxLen: 10000, EditInterval: 200 * time.Millisecond, Budgets: []Budget{{Key: "all-drafts", Every: 100 * time.Millisecond}}},
			drafts: map[string][]time.Time{},
		}
		start := time.Now()
		streamReplies(p, 20, 6*time.Second)
		var last time.Duration
		for i := range 20 {
			ds := p.drafts[fmt.Sprint(i)]
			if len(ds) == 0 {
				t.Fatalf("chat %d got no draft", i)
			}
			last = max(last, ds[0].Sub(start))
		}
		// The first text is due at +50 ms; 20 slots of 100 ms follow.
		if want := 50*time.Millisecond + 20*100*time.Millisecond; last > want {
			t.Errorf("the last chat's first draft came at +%s, want within +%s (one slot per chat)", last, want)
		}
	})
}

// TestReplyFinalAfterDraftBooksMessageBudget: 20 drafted answers end at
// the same instant, each while waiting for its next draft slot. Each
// final is a real message: it is booked on the message budget (one per
// 100 ms), never sent on the draft's slot, so the finals stay 100 ms
// apart.
func TestReplyFinalAfterDraftBooksMessageBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &streamPlatform{
			lim:    Limits{MaxLen: 10000, EditInterval: time.Second, Budgets: []Budget{{Key: "bot", Every: 100 * time.Millisecond, Window: time.Second, Max: 10}}},
			draft:  Limits{MaxLen: 10000, EditInterval: 400 * time.Millisecond, Budgets: []Budget{{Key: "all-drafts", Every: 5 * time.Millisecond}}},
			drafts: map[string][]time.Time{},
		}
		streamReplies(p, 20, 3*time.Second)
		if len(p.finals) != 20 {
			t.Fatalf("%d finals, want 20", len(p.finals))
		}
		slices.SortFunc(p.finals, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(p.finals); i++ {
			if d := p.finals[i].Sub(p.finals[i-1]); d < 100*time.Millisecond {
				t.Errorf("finals %d and %d %s apart, want ≥ 100 ms (the message budget)", i-1, i, d)
			}
		}
	})
}

// TestReplyFinalDoesNotWaitForDraftSlot: drafts are scarce (one per
// second for all chats) and 10 short answers end at +1 s while most
// replies still wait for their first draft slot. Their finals book on the
// message budget at once, not after the draft slots they were waiting for.
func TestReplyFinalDoesNotWaitForDraftSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &streamPlatform{
			lim:    Limits{MaxLen: 10000, EditInterval: time.Second, Budgets: []Budget{{Key: "bot", Every: 50 * time.Millisecond}}},
			draft:  Limits{MaxLen: 10000, EditInterval: 400 * time.Millisecond, Budgets: []Budget{{Key: "all-drafts", Every: time.Second}}},
			drafts: map[string][]time.Time{},
		}
		start := time.Now()
		streamReplies(p, 10, time.Second)
		if len(p.finals) != 10 {
			t.Fatalf("%d finals, want 10", len(p.finals))
		}
		last := slices.MaxFunc(p.finals, func(a, b time.Time) int { return a.Compare(b) })
		// Done at +1 s, then 10 finals 50 ms apart; the draft slots run
		// to +10 s.
		if d := last.Sub(start); d > 2*time.Second {
			t.Errorf("last final at +%s, want by +2s (not behind the draft queue)", d)
		}
	})
}

// countingState is a BudgetState that counts the calls it gets.
type countingState struct {
	BudgetState
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingState) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *countingState) Book(at time.Time, bs []Budget, h time.Duration) (time.Time, bool) {
	c.count("book")
	return c.BudgetState.Book(at, bs, h)
}

func (c *countingState) Depart(now time.Time, bs []Budget) (func(time.Time), time.Time, bool) {
	c.count("depart")
	return c.BudgetState.Depart(now, bs)
}

func (c *countingState) Peek(at time.Time, bs []Budget) time.Time {
	c.count("peek")
	return c.BudgetState.Peek(at, bs)
}

func (c *countingState) Pause(b Budget, until time.Time) {
	c.count("pause")
	c.BudgetState.Pause(b, until)
}

// TestLimiterSharedState: with a shared BudgetState (cluster mode) every
// booking, departure, peek and pause goes to it, and the limiter keeps no
// budget of its own; two limiters on one state share its budgets.
func TestLimiterSharedState(t *testing.T) {
	state := &countingState{BudgetState: NewLocalBudgets(), calls: map[string]int{}}
	a, b := newLimiter(), newLimiter()
	a.shared, b.shared = state, state
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	chat := []Budget{{Key: "chat", Every: time.Second}}
	if at := a.reserve(t0, chat); !at.Equal(t0) {
		t.Errorf("first reservation at +%s, want +0", at.Sub(t0))
	}
	if at := b.reserve(t0, chat); !at.Equal(t0.Add(time.Second)) {
		t.Errorf("the other limiter's reservation at +%s, want +1s (one budget)", at.Sub(t0))
	}
	b.pause(chat[0], t0.Add(10*time.Second))
	if at := a.peek(t0, chat); !at.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("peek after the other limiter's pause = +%s, want +10s", at.Sub(t0))
	}
	if _, retry, ok := a.depart(t0.Add(time.Second), chat); ok || !retry.Equal(t0.Add(10*time.Second)) {
		t.Errorf("depart during the other's pause = %v, retry +%s; want refused until +10s", ok, retry.Sub(t0))
	}
	want := map[string]int{"book": 2, "pause": 1, "peek": 1, "depart": 1}
	if !maps.Equal(state.calls, want) {
		t.Errorf("shared state calls = %v, want %v", state.calls, want)
	}
	if len(a.buckets)+len(b.buckets) != 0 {
		t.Errorf("limiters kept %d budgets of their own, want none", len(a.buckets)+len(b.buckets))
	}
}
