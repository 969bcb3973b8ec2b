package discordtest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Discord's rate limits, as the fake enforces them (Discord documents
// the mechanism, not the numbers: these are the observed ones):
//
//   - route buckets per top-level resource: each route below has a
//     bucket per channel (or interaction token) allowing Limit requests
//     in a window of Window that opens at the bucket's first request;
//     POST and PATCH messages are separate buckets, as observed;
//   - global: at most Global requests of the bot in any GlobalWindow,
//     every route but interaction responses and follow-ups.
//
// Every answer on a bucketed route carries X-RateLimit-Limit, -Remaining,
// -Reset (epoch seconds), -Reset-After (seconds) and -Bucket. Over a
// limit the answer is 429 with Retry-After (whole seconds, rounded up),
// X-RateLimit-Scope ("user" for a bucket, "global"), X-RateLimit-Global
// for the global limit, and the body
// {"message":"You are being rate limited.","retry_after":S,"global":G};
// the request has no effect. A global 429 has no Reset-After, as in
// Discord's documentation.
//
// Against Discord's documentation (topics/rate-limits) the model is
// looser in one way: GET routes (channel, guild, roles, member, history
// lookups) have no bucket of their own here, while Discord limits them
// too, with numbers it does not publish; they count on the global limit,
// as on Discord. It is no stricter: the global window is rolling (Discord
// says 50 per second, without saying how the second is measured), and
// the 5 per 5 s of the message, typing, thread and reaction routes are
// the figures observed, not documented ones.
type Limits struct {
	// Limit requests per Window in each route bucket; default 5 per 5 s.
	Limit  int
	Window time.Duration
	// Global requests per GlobalWindow for the bot; default 50 per 1 s.
	Global       int
	GlobalWindow time.Duration
}

// Discord's limits (the defaults).
const (
	MessageLimit  = 5
	MessageWindow = 5 * time.Second
	GlobalLimit   = 50
	GlobalWindow  = time.Second
)

// bucketed are the routes with a bucket per top-level resource.
var bucketed = map[string]bool{
	"POST /channels/{channel}/messages":                                true,
	"PATCH /channels/{channel}/messages/{message}":                     true,
	"DELETE /channels/{channel}/messages/{message}":                    true,
	"POST /channels/{channel}/typing":                                  true,
	"POST /channels/{channel}/messages/{message}/threads":              true,
	"PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me": true,
	"PATCH /webhooks/{app}/{token}/messages/{message}":                 true,
	"POST /webhooks/{app}/{token}":                                     true,
}

// exempt are the routes the global limit does not count (interaction
// endpoints).
func exempt(route string) bool {
	return strings.Contains(route, " /interactions/") || strings.Contains(route, " /webhooks/")
}

type limiter struct {
	lim     Limits
	mu      sync.Mutex
	buckets map[string]*routeBucket // route + " " + major
	global  []time.Time             // accepted requests in the last GlobalWindow
}

type routeBucket struct {
	count   int
	resetAt time.Time
}

func (l *limiter) init(lim Limits) {
	if lim.Limit <= 0 {
		lim.Limit = MessageLimit
	}
	if lim.Window <= 0 {
		lim.Window = MessageWindow
	}
	if lim.Global <= 0 {
		lim.Global = GlobalLimit
	}
	if lim.GlobalWindow <= 0 {
		lim.GlobalWindow = GlobalWindow
	}
	l.lim = lim
	l.buckets = map[string]*routeBucket{}
}

func (l *limiter) pruneLocked(now time.Time) {
	i := 0
	for i < len(l.global) && !l.global[i].After(now.Add(-l.lim.GlobalWindow)) {
		i++
	}
	l.global = l.global[i:]
}

// take counts req, setting the rate-limit headers on h, or returns how
// long until it may go and the 429's scope.
func (l *limiter) take(req *Request, h http.Header, now time.Time) (time.Duration, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	global := !exempt(req.Route)
	if global {
		l.pruneLocked(now)
		if len(l.global) >= l.lim.Global {
			d := l.global[0].Add(l.lim.GlobalWindow).Sub(now)
			h.Set("X-RateLimit-Global", "true")
			setRetry(h, d, "global")
			return d, "global"
		}
	}
	if bucketed[req.Route] && req.Major != "" {
		key := req.Route + " " + req.Major
		b := l.buckets[key]
		if b == nil {
			b = &routeBucket{}
			l.buckets[key] = b
		}
		if !now.Before(b.resetAt) {
			b.count, b.resetAt = 0, now.Add(l.lim.Window)
		}
		h.Set("X-RateLimit-Limit", strconv.Itoa(l.lim.Limit))
		h.Set("X-RateLimit-Bucket", bucketHash(req.Route))
		h.Set("X-RateLimit-Reset", fmt.Sprintf("%.3f", float64(b.resetAt.UnixMilli())/1000))
		h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", b.resetAt.Sub(now).Seconds()))
		if b.count >= l.lim.Limit {
			d := b.resetAt.Sub(now)
			h.Set("X-RateLimit-Remaining", "0")
			setRetry(h, d, "user")
			return d, "user"
		}
		b.count++
		h.Set("X-RateLimit-Remaining", strconv.Itoa(l.lim.Limit-b.count))
	}
	if global {
		l.global = append(l.global, now)
	}
	return 0, ""
}

// bucket returns the state of the bucket of route for major: requests
// left in its window and when the window ends.
func (l *limiter) bucket(route, major string, now time.Time) (int, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[route+" "+major]
	if b == nil || !now.Before(b.resetAt) {
		return l.lim.Limit, time.Time{}
	}
	return l.lim.Limit - b.count, b.resetAt
}

func (l *limiter) globalUsed(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
	return len(l.global)
}

// bucketHash is a stable stand-in for Discord's opaque bucket hash.
func bucketHash(route string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(route); i++ {
		h = (h ^ uint32(route[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

func setRetry(h http.Header, d time.Duration, scope string) {
	h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
	h.Set("X-RateLimit-Scope", scope)
}

func limitedBody(d time.Duration, global bool) string {
	return fmt.Sprintf(`{"message":"You are being rate limited.","retry_after":%.3f,"global":%t}`, d.Seconds(), global)
}

// Bucket returns the state of the bucket of route (a template) for the
// top-level resource major (a channel ID): requests left in the current
// window and when it ends (zero when no window is open).
func (s *Server) Bucket(route, major string) (remaining int, resetAt time.Time) {
	return s.limits.bucket(route, major, s.opts.Now())
}

// GlobalUsed returns how many requests count on the global limit now.
func (s *Server) GlobalUsed() int { return s.limits.globalUsed(s.opts.Now()) }

// Limits returns the limits the fake enforces.
func (s *Server) Limits() Limits { return s.limits.lim }
