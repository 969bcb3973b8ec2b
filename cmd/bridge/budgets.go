package main

import (
	"context"
	"log/slog"
	"os"
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
type redisBudgets struct {
	rb         *redisstore.Budgets
	local      bridges.BudgetState
	log        *slog.Logger
	timeout    time.Duration
	retryAfter time.Duration

	mu     sync.Mutex
	warned time.Time
	down   time.Time // local only until then
}

var (
	_ bridges.BudgetState   = (*redisBudgets)(nil)
	_ bridges.SharedWindows = redisWindows{}
)

func newRedisBudgets(rb *redisstore.Budgets, log *slog.Logger) *redisBudgets {
	return &redisBudgets{rb: rb, local: bridges.NewLocalBudgets(), log: log, timeout: 2 * time.Second, retryAfter: 5 * time.Second}
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
	ctx, cancel := r.ctx()
	defer cancel()
	now := time.Now()
	wait, ok, err := r.rb.Book(ctx, at.Sub(now), toRedis(bs), horizon)
	if err != nil && r.failed(err) {
		return r.local.Book(at, bs, horizon)
	}
	return now.Add(wait), ok
}

func (r *redisBudgets) Depart(now time.Time, bs []bridges.Budget) (func(time.Time), time.Time, bool) {
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
	if !d.Windowed() {
		return func(time.Time) {}, now, true
	}
	var once sync.Once
	return func(at time.Time) {
		once.Do(func() {
			if r.away() {
				return // in flight on the server until its TTL
			}
			ctx, cancel := r.ctx()
			defer cancel()
			if err := d.Done(ctx, time.Since(at)); err != nil {
				// The request stays in flight until the in-flight TTL.
				r.failed(err)
			}
		})
	}, now, true
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
	if r.away() {
		return
	}
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.rb.Pause(ctx, b.Key, time.Until(until)); err != nil {
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
