package bridges

import (
	"sync"
	"time"
)

// limiter holds every shared Budget of the process by key. Each budget is
// a GCRA (virtual scheduling) limiter: a request may go at t when
// t >= tat - Burst*Every, and each request moves tat on by Every. A
// request draws from several nested budgets at once (a chat's and the
// bot's), and is scheduled at the first instant all of them allow.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	calls   int
	// live counts the live replies drawing on each budget key now.
	live map[string]int
}

type bucket struct {
	tat    time.Time // theoretical arrival time
	paused time.Time // no request before this (a platform's retry-after)
	every  time.Duration
	burst  int
}

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
	return bk
}

// reserve books one request on every budget in bs, no earlier than at, and
// returns the time it may be sent. The booking is final: the caller sleeps
// until then and sends its latest text.
func (l *limiter) reserve(at time.Time, bs []Budget) time.Time {
	t, _ := l.book(at, bs, -1)
	return t
}

// book is reserve, except that with horizon >= 0 it books nothing when the
// first free slot is more than horizon after at, and reports false. Live
// replies book intermediate edits this way, so that they never queue far
// ahead of the first messages and final texts of other replies.
func (l *limiter) book(at time.Time, bs []Budget, horizon time.Duration) (time.Time, bool) {
	if len(bs) == 0 {
		return at, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%4096 == 0 {
		l.prune(at)
	}
	t := at
	for _, b := range bs {
		bk := l.bucket(b)
		if e := bk.tat.Add(-time.Duration(bk.burst) * bk.every); e.After(t) {
			t = e
		}
		if bk.paused.After(t) {
			t = bk.paused
		}
	}
	if horizon >= 0 && t.Sub(at) > horizon {
		return t, false
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

// peek returns when a request on bs could go, no earlier than at,
// without booking it.
func (l *limiter) peek(at time.Time, bs []Budget) time.Time {
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
	l.mu.Lock()
	defer l.mu.Unlock()
	bk := l.bucket(b)
	if until.After(bk.paused) {
		bk.paused = until
	}
}

// prune forgets budgets idle long enough to be back at full burst.
func (l *limiter) prune(now time.Time) {
	for k, bk := range l.buckets {
		if bk.tat.Before(now) && bk.paused.Before(now) {
			delete(l.buckets, k)
		}
	}
}
