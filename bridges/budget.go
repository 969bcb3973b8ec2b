package bridges

import (
	"slices"
	"sync"
	"time"
)

// limiter holds every shared Budget of the process by key.
//
// Booking: each budget is a GCRA (virtual scheduling) limiter: a request
// may go at t when t >= tat - Burst*Every, and each booking moves tat on
// by Every. A request draws from several nested budgets at once (a chat's
// and the bot's) and is booked, atomically, at the first instant all of
// them allow. First texts and final texts (urgent bookings) take the first
// free slot however far; an intermediate edit books only a slot at most
// one Every ahead in each budget, so edits never queue ahead of urgent
// texts: a first text or final booked later overtakes every edit still
// waiting, and waits behind at most one edit slot per budget.
//
// Departure: a booked slot is when to wake, not a licence to send. Just
// before the request leaves, depart checks again, against what actually
// left: no retry-after pause has begun since, and every rolling window
// (Budget.Window, Budget.Max) has room. A request that may not leave yet
// is told when to check again; one that leaves is counted in flight until
// its answer is back, then within its window from that instant.
//
// State: by default the limiter keeps all of this in memory, for its
// process. In cluster mode a shared BudgetState (budget_state.go; Redis,
// on the server's clock) holds it instead, so every replica books on the
// same budgets; only the count of live replies per budget (join, sharing)
// stays per process.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	calls   int
	// live counts the live replies drawing on each budget key now (of
	// this process: it only steers when a reply posts).
	live map[string]int
	// shared, when set, holds the budgets' state instead (cluster mode:
	// one budget for the deployment); book, depart, peek and pause go to
	// it.
	shared BudgetState
}

type bucket struct {
	tat    time.Time // theoretical arrival time
	paused time.Time // no request before this (a platform's retry-after)
	every  time.Duration
	burst  int
	*win   // nil unless the budget is a rolling window
}

// win is the rolling window of a bucket: requests in flight, and when each
// request that left within the last window was done (ascending).
type win struct {
	window   time.Duration
	max      int
	inflight int
	done     []time.Time
}

// windowed reports whether the bucket enforces a rolling window.
func (bk *bucket) windowed() bool { return bk.win != nil }

// busy reports whether requests of the window are in flight or were done
// within it at now.
func (w *win) busy(now time.Time) bool {
	return w != nil && (w.inflight > 0 || len(w.done) > 0 && w.done[len(w.done)-1].After(now.Add(-w.window)))
}

// openAt returns the first instant, no earlier than now, at which one more
// request may leave within the window: while fewer than max requests are
// in flight or were done after that instant minus the window. When the
// window is full of requests still in flight the instant is unknown; it
// returns a short retry then.
func (w *win) openAt(now time.Time) time.Time {
	cut := now.Add(-w.window)
	i := 0
	for i < len(w.done) && !w.done[i].After(cut) {
		i++
	}
	if i > 0 {
		w.done = append(w.done[:0], w.done[i:]...)
	}
	n := w.inflight + len(w.done)
	if n < w.max {
		return now
	}
	// k more requests must age out of the window.
	if k := n - w.max + 1; k <= len(w.done) {
		return w.done[k-1].Add(w.window)
	}
	return now.Add(inflightRetry)
}

// inflightRetry is how soon a request checks again when a window is full
// of requests still in flight.
const inflightRetry = 20 * time.Millisecond

func newLimiter() *limiter {
	return &limiter{buckets: map[string]*bucket{}, live: map[string]int{}}
}

// join counts one more live reply on key and returns the function that
// counts it out.
func (l *limiter) join(key string) func() {
	l.mu.Lock()
	l.live[key]++
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		if l.live[key]--; l.live[key] <= 0 {
			delete(l.live, key)
		}
		l.mu.Unlock()
	}
}

// sharing returns how many live replies draw on key now.
func (l *limiter) sharing(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live[key]
}

func (l *limiter) bucket(b Budget) *bucket {
	bk, ok := l.buckets[b.Key]
	if !ok {
		bk = &bucket{}
		l.buckets[b.Key] = bk
	}
	bk.every, bk.burst = b.Every, b.Burst
	switch {
	case b.Window > 0 && b.Max > 0 && bk.win == nil:
		bk.win = &win{window: b.Window, max: b.Max}
	case b.Window > 0 && b.Max > 0:
		bk.window, bk.max = b.Window, b.Max
	default:
		// Requests in flight hold their own *win.
		bk.win = nil
	}
	return bk
}

// reserve books one urgent request on every budget in bs, no earlier than
// at, and returns the time it may be sent.
func (l *limiter) reserve(at time.Time, bs []Budget) time.Time {
	t, _ := l.book(at, bs, -1)
	return t
}

// book books one request on every budget in bs, no earlier than at, and
// returns when it may be sent. With horizon < 0 the request is urgent (a
// first text or a final text): it books the first free slot however far.
// With horizon >= 0 it is an intermediate edit: it books nothing, and
// reports false with the instant to ask again, when its slot is more than
// horizon after at or more than one Every ahead in any budget (other
// requests are queued there), so that edits never hold slots that first
// texts and finals booked after them could use.
func (l *limiter) book(at time.Time, bs []Budget, horizon time.Duration) (time.Time, bool) {
	if len(bs) == 0 {
		return at, true
	}
	if l.shared != nil {
		return l.shared.Book(at, bs, horizon)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%4096 == 0 {
		l.prune(at)
	}
	t, again := at, at
	for _, b := range bs {
		bk := l.bucket(b)
		e := bk.tat.Add(-time.Duration(bk.burst) * bk.every)
		if e.After(t) {
			t = e
		}
		if a := e.Add(-bk.every); a.After(again) {
			again = a
		}
		if bk.paused.After(t) {
			t = bk.paused
		}
	}
	if horizon >= 0 {
		if a := t.Add(-horizon); a.After(again) {
			again = a
		}
		if again.After(at) {
			return again, false
		}
	}
	for _, b := range bs {
		bk := l.buckets[b.Key]
		if bk.tat.Before(t) {
			bk.tat = t
		}
		bk.tat = bk.tat.Add(bk.every)
	}
	return t, true
}

// depart is the check just before a request on bs leaves at now: no
// budget is paused and every rolling window has room, counted over the
// requests that actually left. When the request may go it is counted in
// flight on every windowed budget, atomically across bs, and depart
// returns the function to call with the instant its answer came back.
// Otherwise it returns when to check again.
func (l *limiter) depart(now time.Time, bs []Budget) (done func(time.Time), retry time.Time, ok bool) {
	if len(bs) == 0 {
		return func(time.Time) {}, now, true
	}
	if l.shared != nil {
		return l.shared.Depart(now, bs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	retry = now
	var ws []*win
	for _, b := range bs {
		bk := l.bucket(b)
		if bk.paused.After(retry) {
			retry = bk.paused
		}
		if bk.windowed() {
			if t := bk.openAt(now); t.After(retry) {
				retry = t
			}
			ws = append(ws, bk.win)
		}
	}
	if retry.After(now) {
		return nil, retry, false
	}
	for _, w := range ws {
		w.inflight++
	}
	var once bool
	return func(at time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if once {
			return
		}
		once = true
		for _, w := range ws {
			w.inflight--
			i := len(w.done)
			for i > 0 && w.done[i-1].After(at) {
				i--
			}
			w.done = slices.Insert(w.done, i, at)
		}
	}, now, true
}

// peek returns when an intermediate edit on bs could go, no earlier than
// at, without booking it.
func (l *limiter) peek(at time.Time, bs []Budget) time.Time {
	if l.shared != nil {
		return l.shared.Peek(at, bs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := at
	for _, b := range bs {
		bk, ok := l.buckets[b.Key]
		if !ok {
			continue
		}
		if e := bk.tat.Add(-time.Duration(b.Burst) * b.Every); e.After(t) {
			t = e
		}
		if bk.paused.After(t) {
			t = bk.paused
		}
	}
	return t
}

// pause stops every request on b until until.
func (l *limiter) pause(b Budget, until time.Time) {
	if l.shared != nil {
		l.shared.Pause(b, until)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	bk := l.bucket(b)
	if until.After(bk.paused) {
		bk.paused = until
	}
}

// prune forgets budgets idle long enough to be back at full burst, with
// nothing in flight or left in their window.
func (l *limiter) prune(now time.Time) {
	for k, bk := range l.buckets {
		if bk.tat.Before(now) && bk.paused.Before(now) && !bk.win.busy(now) {
			delete(l.buckets, k)
		}
	}
}
