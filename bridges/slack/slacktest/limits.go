package slacktest

import (
	"sync"
	"time"
)

// Limits are Slack's rate limits as the fake enforces them (with
// Options.RateLimits). Slack states them per method per workspace per
// app (https://docs.slack.dev/apis/web-api/rate-limits).
type Limits struct {
	// PostEvery and PostBurst: chat.postMessage, "1 per second per
	// channel, short bursts allowed" — a token bucket per channel
	// refilled one token per PostEvery, PostBurst deep.
	PostEvery time.Duration
	PostBurst int
	// UpdatePerMinute: chat.update (Tier 3, "50+ per minute"), at most
	// this many in any sliding minute for the whole workspace.
	UpdatePerMinute int
	// AppendPerMinute: chat.appendStream (Tier 4, "100+ per minute"),
	// the same for the whole workspace.
	AppendPerMinute int
}

// DefaultLimits are the limits Slack documents. chat.startStream,
// chat.stopStream (Tier 2), chat.delete (Tier 3), reactions.add,
// assistant.threads.setStatus, auth.test and apps.connections.open are
// not limited by the fake.
var DefaultLimits = Limits{PostEvery: time.Second, PostBurst: 3, UpdatePerMinute: 50, AppendPerMinute: 100}

// Window is the span of the per-minute limits.
const Window = time.Minute

// limiter holds the state of the limits. Its own lock lets callers that
// hold locks of their own ask WouldLimit without ordering against s.mu.
type limiter struct {
	mu      sync.Mutex
	l       Limits
	posts   map[string]*bucket // channel → bucket
	updates window
	appends window
}

func (l *limiter) init(lim Limits) {
	l.l = lim
	l.posts = map[string]*bucket{}
}

// take applies the limits to a request of method in channel at now: 0
// when it may go (and is counted), else how long until it could and the
// scope it is limited in.
func (l *limiter) take(method, channel string, now time.Time) (time.Duration, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.check(method, channel, now, true)
}

func (l *limiter) check(method, channel string, now time.Time, take bool) (time.Duration, string) {
	switch method {
	case "chat.postMessage":
		b := l.posts[channel]
		if b == nil {
			b = &bucket{every: l.l.PostEvery, size: float64(l.l.PostBurst)}
			if take {
				l.posts[channel] = b
			}
		}
		if d := b.wait(now); d > 0 {
			return d, "channel"
		}
		if take {
			b.take(now)
		}
	case "chat.update":
		if d := l.updates.wait(now, l.l.UpdatePerMinute); d > 0 {
			return d, "workspace"
		}
		if take {
			l.updates.t = append(l.updates.t, now)
		}
	case "chat.appendStream":
		if d := l.appends.wait(now, l.l.AppendPerMinute); d > 0 {
			return d, "workspace"
		}
		if take {
			l.appends.t = append(l.appends.t, now)
		}
	}
	return 0, ""
}

// WouldLimit reports how long a request of method in channel would have
// to wait at now under the rate limits (0: it would go), without counting
// it. It is 0 for every request when the limits are off.
func (s *Server) WouldLimit(method, channel string, now time.Time) time.Duration {
	if !s.opts.RateLimits {
		return 0
	}
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	d, _ := s.lim.check(method, channel, now, false)
	return d
}

// window is a sliding window of accepted request times.
type window struct{ t []time.Time }

// wait prunes the window to the last minute and returns how long until a
// request is allowed with at most max in the window.
func (w *window) wait(now time.Time, max int) time.Duration {
	i := 0
	for i < len(w.t) && now.Sub(w.t[i]) >= Window {
		i++
	}
	w.t = w.t[i:]
	if len(w.t) < max {
		return 0
	}
	return w.t[len(w.t)-max].Add(Window).Sub(now)
}

// bucket is a token bucket: refilled one token per every, holding at
// most size.
type bucket struct {
	every  time.Duration
	size   float64
	tokens float64
	at     time.Time
	init   bool
}

func (b *bucket) level(now time.Time) float64 {
	if !b.init {
		return b.size
	}
	return min(b.size, b.tokens+float64(now.Sub(b.at))/float64(b.every))
}

// wait returns how long until a token is there.
func (b *bucket) wait(now time.Time) time.Duration {
	if l := b.level(now); l < 1 {
		return time.Duration((1 - l) * float64(b.every))
	}
	return 0
}

func (b *bucket) take(now time.Time) {
	b.tokens, b.at, b.init = b.level(now)-1, now, true
}
