package bridges

import (
	"time"
)

// BudgetState is where the limiter keeps the state of every shared Budget:
// GCRA bookings, retry-after pauses and rolling windows. By default each
// relay keeps its own in memory (NewLocalBudgets); in cluster mode one
// shared implementation (Redis, on the server's clock) makes every budget
// one budget for the whole deployment, so N replicas together stay within
// the platform's limits.
//
// The methods are the limiter's contract (budget.go). They are called by
// the writers of live replies, concurrently; an implementation must be
// safe for concurrent use. They may block for a network round trip, and
// never return an error: an implementation that cannot reach its shared
// state decides for itself (the Redis one falls back to a local limiter
// and says so in the log).
type BudgetState interface {
	// Book books one request on every budget in bs at once, no earlier
	// than at, and returns when it may be sent. With horizon < 0 the
	// request is urgent (a first text or a final) and takes the first
	// free slot however far; with horizon >= 0 it is an intermediate
	// edit: it books nothing and reports false, with when to ask again,
	// when its slot is more than horizon after at or more than one Every
	// ahead in any budget.
	Book(at time.Time, bs []Budget, horizon time.Duration) (time.Time, bool)
	// Depart checks, just before a request on bs leaves at now, that no
	// budget is paused and every rolling window has room, and counts the
	// request in flight on every windowed budget at once. done, called
	// with the instant the answer came back, counts it within its window
	// from then. When the request may not leave, Depart returns when to
	// check again.
	Depart(now time.Time, bs []Budget) (done func(time.Time), retry time.Time, ok bool)
	// Peek returns when an intermediate edit on bs could go, no earlier
	// than at, without booking it.
	Peek(at time.Time, bs []Budget) time.Time
	// Pause stops every request on b until until (a platform's
	// retry-after).
	Pause(b Budget, until time.Time)
}

// NewLocalBudgets returns the in-process BudgetState: the state of one
// process only, which is every relay's default.
func NewLocalBudgets() BudgetState { return localBudgets{newLimiter()} }

// localBudgets is a limiter's own state as a BudgetState.
type localBudgets struct{ l *limiter }

var _ BudgetState = localBudgets{}

func (b localBudgets) Book(at time.Time, bs []Budget, horizon time.Duration) (time.Time, bool) {
	return b.l.book(at, bs, horizon)
}

func (b localBudgets) Depart(now time.Time, bs []Budget) (func(time.Time), time.Time, bool) {
	return b.l.depart(now, bs)
}

func (b localBudgets) Peek(at time.Time, bs []Budget) time.Time { return b.l.peek(at, bs) }

func (b localBudgets) Pause(bd Budget, until time.Time) { b.l.pause(bd, until) }

// SharedWindows counts questions and notices in windows shared by the
// whole deployment (cluster mode): per-user and per-chat question rates,
// daily quotas, and the once-a-minute notice and error windows. Keys are
// the relay's own, already namespaced per window kind. The counts are on
// the implementation's clock (the Redis server's), not the relay's
// Config.Now. Methods are safe for concurrent use and do one network
// round trip; on an error the relay counts in memory instead, as it does
// without shared windows.
type SharedWindows interface {
	// Allow counts one event for key if fewer than r.N were counted within
	// the last r.Per, and reports whether it did.
	Allow(key string, r Rate) (bool, error)
	// AllowDaily counts one event for key on day (UTC, "2006-01-02") if
	// fewer than quota were counted that day, and reports whether it did.
	AllowDaily(key, day string, quota int) (bool, error)
}

// ShareBudgets makes every budget, retry-after pause, question rate, daily
// quota and notice window of r one for the deployment: the budgets in b,
// the windows in w (either may be nil: that part stays in memory). Call it
// once, before r handles messages.
func (r *Relay) ShareBudgets(b BudgetState, w SharedWindows) {
	r.budgets.shared = b
	if w == nil {
		return
	}
	r.rates.shared, r.rates.ns = w, "rate/"
	r.errs.shared, r.errs.ns = w, "error/"
	r.notice.shared, r.notice.ns = w, "notice/"
	warn := func(op string, err error) {
		r.log.Warn("shared window: "+op+" failed; counting in this replica only", "err", err)
		r.met.StoreError(op)
	}
	if r.errs.onErr == nil {
		r.errs.onErr = warn
	}
	if r.notice.onErr == nil {
		r.notice.onErr = warn
	}
}
