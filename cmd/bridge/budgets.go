package main

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
)

// localBudgetsEnv, set to 1, keeps per-replica budgets even with the
// Redis store. It is for tests only: the control run that shows N
// replicas with budgets of their own draw the platforms' 429s.
const localBudgetsEnv = "CHATBRIDGE_LOCAL_BUDGETS"

// shareBudgets makes the relay's budgets, pauses, question rates, daily
// quotas and notice windows one for the deployment when the store is
// Redis (unless localBudgetsEnv is set).
func shareBudgets(relay *bridges.Relay, db bridgeStore, log *slog.Logger) {
	rs, ok := db.(redisStore)
	if !ok {
		return
	}
	if os.Getenv(localBudgetsEnv) == "1" {
		log.Warn("budgets per replica (" + localBudgetsEnv + "=1, for tests): replicas together may exceed the platforms' limits")
		return
	}
	b := newRedisBudgets(rs.Budgets(), log)
	relay.ShareBudgets(b, redisWindows{b: b.rb, quota: rs.DB.KV("limits")})
}

// redisBudgets is bridges.BudgetState on Redis: each call is one script
// on the server's clock. When the server cannot be reached it books on a
// local limiter instead (this replica alone keeps within the limits, the
// deployment may not), for retryAfter before it tries the server again,
// so that an unreachable server costs one timeout now and then, not one
// per request; it logs that at most every 10 s.
//
// An edit (a booking with a horizon) that the server would refuse, by
// the tats its bookings answered, is refused here, with no round trip:
// many live replies asking for the same bot-wide slot at once (each told
// to ask again then) cost one booking, not one each. Only refusals are
// decided here; every slot is booked on the server.
//
// A booking's departure is checked ahead, so that the writer's Depart at
// the slot takes it with no round trip of its own: in the booking's own
// script when the slot is due within departLead (Budgets.BookDepart),
// else departLead before the slot. A request is so counted in flight
// from at most departLead before it leaves: a rolling window counts it
// longer, never shorter. The departure is held for the writer until
// departKeep after its slot; one not taken by then
// (the writer sent something else, or nothing: a typing indicator books
// and never departs) is withdrawn (Departure.Cancel), and so is one on a
// budget this replica pauses, so that Depart checks the pause on the
// server.
type redisBudgets struct {
	rb         *redisstore.Budgets
	local      bridges.BudgetState
	log        *slog.Logger
	timeout    time.Duration
	retryAfter time.Duration

	mu     sync.Mutex
	warned time.Time
	down   time.Time // local only until then
	// held are the departures booked with their slot, by budget keys,
	// oldest first.
	held map[string][]*heldDeparture
	// lead and keep are departLead and departKeep (tests change them).
	lead, keep time.Duration
	// tats is, per budget key, a time no later than its tat on the
	// server (as the last booking answered), so that an edit the server
	// would refuse is refused here; inflight, per budget key, is closed
	// when the edit being booked on it has its answer.
	tats     map[string]time.Time
	inflight map[string]chan struct{}
}

// heldDeparture is a departure booked with its slot, for the writer's
// Depart.
type heldDeparture struct {
	d     redisstore.Departure
	keys  []string
	timer *time.Timer
}

const (
	// departLead is how far ahead a booked slot may be and still depart
	// in the booking's script: counted in flight that much early at most.
	departLead = 40 * time.Millisecond
	// departKeep is how long after its slot a held departure waits for
	// the writer's Depart.
	departKeep = 250 * time.Millisecond
	// editSlack is how much later than asked an edit's slot may be and
	// still be booked (store/redis askSlack): an edit is refused here
	// only when the server would refuse it.
	editSlack = 5 * time.Millisecond
	// maxKnownTats is how many budgets' tats are kept before the ones
	// passed are forgotten.
	maxKnownTats = 4096
)

var (
	_ bridges.BudgetState   = (*redisBudgets)(nil)
	_ bridges.SharedWindows = redisWindows{}
)

func newRedisBudgets(rb *redisstore.Budgets, log *slog.Logger) *redisBudgets {
	return &redisBudgets{rb: rb, local: bridges.NewLocalBudgets(), log: log, timeout: 2 * time.Second, retryAfter: 5 * time.Second,
		held: map[string][]*heldDeparture{}, lead: departLead, keep: departKeep,
		tats: map[string]time.Time{}, inflight: map[string]chan struct{}{}}
}

func toRedis(bs []bridges.Budget) []redisstore.Budget {
	out := make([]redisstore.Budget, len(bs))
	for i, b := range bs {
		out[i] = redisstore.Budget{Key: b.Key, Every: b.Every, Burst: b.Burst, Window: b.Window, Max: b.Max}
	}
	return out
}

func (r *redisBudgets) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.timeout)
}

// away reports whether the server failed within retryAfter.
func (r *redisBudgets) away() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Now().Before(r.down)
}

// failed logs err, now and then, books locally for retryAfter, and
// reports true.
func (r *redisBudgets) failed(err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.down = now.Add(r.retryAfter)
	if now.Sub(r.warned) >= 10*time.Second {
		r.warned = now
		r.log.Warn("shared budgets unreachable; booking in this replica only", "err", err)
	}
	return true
}

func (r *redisBudgets) Book(at time.Time, bs []bridges.Budget, horizon time.Duration) (time.Time, bool) {
	if r.away() {
		return r.local.Book(at, bs, horizon)
	}
	if horizon >= 0 && len(bs) > 0 {
		// An edit: while another edit of this replica on the same widest
		// budget is being booked, wait for its answer; then refuse here
		// what the server would refuse.
		if again, refused := r.edit(at, bs, horizon); refused {
			return again, false
		}
		defer r.flying(bs[len(bs)-1].Key)()
	}
	ctx, cancel := r.ctx()
	defer cancel()
	now := time.Now()
	bk, err := r.rb.BookDepart(ctx, at.Sub(now), toRedis(bs), horizon, r.lead)
	if err != nil && r.failed(err) {
		return r.local.Book(at, bs, horizon)
	}
	r.learn(now, bs, bk.Tats)
	slot := now.Add(bk.Wait)
	switch {
	case bk.Departed:
		r.hold(bk.Departure, bs, time.Until(slot)+r.keep)
	case bk.Booked && bk.Wait > r.lead:
		// (Due within the lead and not departed: the window had no
		// room; the writer's Depart checks again.)
		r.departAhead(bs, slot)
	}
	return slot, bk.Booked
}

// departAhead checks the departure of a request booked at slot
// departLead before it, and holds it for the writer's Depart at slot.
func (r *redisBudgets) departAhead(bs []bridges.Budget, slot time.Time) {
	bs = slices.Clone(bs)
	time.AfterFunc(time.Until(slot)-r.lead, func() {
		if r.away() {
			return
		}
		ctx, cancel := r.ctx()
		defer cancel()
		d, _, ok, err := r.rb.Depart(ctx, toRedis(bs))
		if err != nil {
			r.failed(err)
			return
		}
		if ok {
			r.hold(d, bs, time.Until(slot)+r.keep)
		}
	})
}

// learn keeps each budget's tat as the server answered it, read at
// asked or later: asked plus the answer is never later than the server's
// tat, on this replica's clock.
func (r *redisBudgets) learn(asked time.Time, bs []bridges.Budget, tats []time.Duration) {
	if len(tats) != len(bs) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tats) > maxKnownTats {
		for k, t := range r.tats {
			if t.Before(asked) {
				delete(r.tats, k)
			}
		}
	}
	for i, b := range bs {
		if t := asked.Add(tats[i]); t.After(r.tats[b.Key]) {
			r.tats[b.Key] = t
		}
	}
}

// edit waits for an edit being booked on the widest of bs, if any, then
// reports whether the server would refuse an edit on bs at at with
// horizon, by the tats known (each no later than the server's, which
// only move on), and when to ask again. It refuses only what the server
// would refuse; it never books.
func (r *redisBudgets) edit(at time.Time, bs []bridges.Budget, horizon time.Duration) (time.Time, bool) {
	r.mu.Lock()
	wait := r.inflight[bs[len(bs)-1].Key]
	r.mu.Unlock()
	if wait != nil {
		<-wait
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	slot, again := at, at
	for _, b := range bs {
		tat, ok := r.tats[b.Key]
		if !ok {
			continue
		}
		e := tat.Add(-time.Duration(b.Burst) * b.Every)
		if e.After(slot) {
			slot = e
		}
		if a := e.Add(-b.Every); a.After(again) {
			again = a
		}
	}
	if a := slot.Add(-horizon); a.After(again) {
		again = a
	}
	return again, again.After(at.Add(editSlack))
}

// flying marks an edit being booked on key, until the returned function
// is called.
func (r *redisBudgets) flying(key string) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight[key] != nil {
		return func() {} // another one's: the first marks
	}
	ch := make(chan struct{})
	r.inflight[key] = ch
	return func() {
		r.mu.Lock()
		delete(r.inflight, key)
		r.mu.Unlock()
		close(ch)
	}
}

// budgetKeys names the budgets of bs, for held departures.
func budgetKeys(bs []bridges.Budget) []string {
	keys := make([]string, len(bs))
	for i, b := range bs {
		keys[i] = b.Key
	}
	return keys
}

// hold keeps d, departed on bs, for the writer's Depart, for keep; then
// withdraws it.
func (r *redisBudgets) hold(d redisstore.Departure, bs []bridges.Budget, keep time.Duration) {
	h := &heldDeparture{d: d, keys: budgetKeys(bs)}
	sig := strings.Join(h.keys, "\x00")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[sig] = append(r.held[sig], h)
	h.timer = time.AfterFunc(keep, func() {
		if r.drop(sig, h) {
			r.cancel(d)
		}
	})
}

// drop removes h from the held departures and reports whether it was
// there (nobody took it yet).
func (r *redisBudgets) drop(sig string, h *heldDeparture) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropLocked(sig, h)
}

func (r *redisBudgets) dropLocked(sig string, h *heldDeparture) bool {
	hs := r.held[sig]
	i := slices.Index(hs, h)
	if i < 0 {
		return false
	}
	if hs = slices.Delete(hs, i, i+1); len(hs) == 0 {
		delete(r.held, sig)
	} else {
		r.held[sig] = hs
	}
	return true
}

// take returns the oldest held departure on bs, if any.
func (r *redisBudgets) take(bs []bridges.Budget) (*heldDeparture, bool) {
	sig := strings.Join(budgetKeys(bs), "\x00")
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := r.held[sig]
	if len(hs) == 0 {
		return nil, false
	}
	h := hs[0]
	r.dropLocked(sig, h)
	h.timer.Stop()
	return h, true
}

func (r *redisBudgets) Depart(now time.Time, bs []bridges.Budget) (func(time.Time), time.Time, bool) {
	if h, ok := r.take(bs); ok {
		return r.doneFunc(h.d), now, true
	}
	if r.away() {
		return r.local.Depart(now, bs)
	}
	ctx, cancel := r.ctx()
	defer cancel()
	start := time.Now()
	d, retry, ok, err := r.rb.Depart(ctx, toRedis(bs))
	if err != nil && r.failed(err) {
		return r.local.Depart(now, bs)
	}
	if !ok {
		return nil, start.Add(retry), false
	}
	return r.doneFunc(d), now, true
}

// doneFunc returns the function that reports d done, once.
func (r *redisBudgets) doneFunc(d redisstore.Departure) func(time.Time) {
	if !d.Windowed() {
		return func(time.Time) {}
	}
	var once sync.Once
	return func(at time.Time) { once.Do(func() { r.done(d, at) }) }
}

// done reports d done at at.
func (r *redisBudgets) done(d redisstore.Departure, at time.Time) {
	if !d.Windowed() || r.away() {
		return // in flight on the server until its TTL
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := d.Done(ctx, time.Since(at)); err != nil {
		// The request stays in flight until the in-flight TTL.
		r.failed(err)
	}
}

func (r *redisBudgets) Peek(at time.Time, bs []bridges.Budget) time.Time {
	if r.away() {
		return r.local.Peek(at, bs)
	}
	ctx, cancel := r.ctx()
	defer cancel()
	now := time.Now()
	wait, err := r.rb.Peek(ctx, at.Sub(now), toRedis(bs))
	if err != nil && r.failed(err) {
		return r.local.Peek(at, bs)
	}
	return now.Add(wait)
}

func (r *redisBudgets) Pause(b bridges.Budget, until time.Time) {
	// The local limiter keeps the pause too, for when Redis is away.
	r.local.Pause(b, until)
	r.void(b.Key)
	if r.away() {
		return
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.rb.Pause(ctx, b.Key, time.Until(until)); err != nil {
		r.failed(err)
	}
}

// void withdraws every held departure on key, so that the writer's
// Depart checks the pause on the server.
func (r *redisBudgets) void(key string) {
	var voided []redisstore.Departure
	r.mu.Lock()
	for sig, hs := range r.held {
		for _, h := range slices.Clone(hs) {
			if slices.Contains(h.keys, key) && r.dropLocked(sig, h) {
				h.timer.Stop()
				voided = append(voided, h.d)
			}
		}
	}
	r.mu.Unlock()
	for _, d := range voided {
		r.cancel(d)
	}
}

// cancel withdraws d, a departure that never left.
func (r *redisBudgets) cancel(d redisstore.Departure) {
	if !d.Windowed() || r.away() {
		return // in flight on the server until its TTL
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := d.Cancel(ctx); err != nil {
		r.failed(err)
	}
}

// redisWindows is bridges.SharedWindows on Redis: rolling windows as
// sorted sets, daily quotas as KV.CountDaily counters.
type redisWindows struct {
	b     *redisstore.Budgets
	quota *redisstore.KV
}

func (w redisWindows) Allow(key string, r bridges.Rate) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return w.b.Allow(ctx, key, r.N, r.Per)
}

func (w redisWindows) AllowDaily(key, day string, quota int) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ok, _, err := w.quota.CountDaily(ctx, key, day, quota)
	return ok, err
}
