package telegramtest

import (
	"math"
	"sync"
	"time"
)

// Limits are the flood limits the fake enforces on sendMessage and
// editMessageText, as Telegram does:
//
//   - private chat: a token bucket per chat holding at most PrivateBurst
//     tokens, refilled at one token per PrivateEvery;
//   - group (a negative chat ID): at most GroupMax requests in any rolling
//     GroupWindow;
//   - bot-wide: at most BotMax requests in any rolling BotWindow, all chats
//     together.
//
// sendMessageDraft is not counted unless Options.DraftsCount is set; then
// it counts on the bot-wide window only. A request over a limit is
// answered 429 with parameters.retry_after (whole seconds, rounded up, at
// least 1) and has no effect.
type Limits struct {
	PrivateEvery time.Duration
	PrivateBurst int
	GroupMax     int
	GroupWindow  time.Duration
	BotMax       int
	BotWindow    time.Duration
}

// TelegramLimits are Telegram's limits for an ordinary bot (Bot FAQ: about
// one message a second per chat, 20 a minute per group, 30 a second in
// all).
var TelegramLimits = Limits{
	PrivateEvery: time.Second, PrivateBurst: 3,
	GroupMax: 20, GroupWindow: time.Minute,
	BotMax: 30, BotWindow: time.Second,
}

// Scopes of a 429, as Stats.TooMany counts them.
const (
	ScopeBot     = "bot"
	ScopePrivate = "private"
	ScopeGroup   = "group"
)

// limiter applies Limits. It has its own lock so that the load tool can
// ask whether a window is open while it holds locks of its own.
type limiter struct {
	mu      sync.Mutex
	on      bool
	l       Limits
	drafts  bool // drafts count on the bot-wide window
	bot     []time.Time
	demand  []time.Time // every message request that reached the check
	buckets map[int64]*bucket
	groups  map[int64][]time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(l Limits, on, drafts bool) *limiter {
	return &limiter{on: on, l: l, drafts: drafts, buckets: map[int64]*bucket{}, groups: map[int64][]time.Time{}}
}

func retrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

func prune(h []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(h) && !h[i].After(since) {
		i++
	}
	if i == 0 {
		return h
	}
	return append(h[:0], h[i:]...)
}

// take counts one request in chat at now; it returns the retry_after to
// answer and the scope refused, or 0 when the request is allowed (and
// counted).
func (lm *limiter) take(chat int64, now time.Time, draft bool) (int, string) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	l := lm.l
	lm.demand = prune(lm.demand, now.Add(-l.BotWindow))
	lm.demand = append(lm.demand, now)
	if !lm.on || draft && !lm.drafts {
		return 0, ""
	}
	lm.bot = prune(lm.bot, now.Add(-l.BotWindow))
	if len(lm.bot) >= l.BotMax {
		return retrySeconds(lm.bot[0].Add(l.BotWindow).Sub(now)), ScopeBot
	}
	if !draft {
		if chat > 0 {
			b := lm.buckets[chat]
			if b == nil {
				b = &bucket{tokens: float64(l.PrivateBurst), at: now}
				lm.buckets[chat] = b
			}
			b.tokens = math.Min(float64(l.PrivateBurst), b.tokens+float64(now.Sub(b.at))/float64(l.PrivateEvery))
			b.at = now
			if b.tokens < 1 {
				return retrySeconds(time.Duration((1 - b.tokens) * float64(l.PrivateEvery))), ScopePrivate
			}
			b.tokens--
		} else {
			hits := prune(lm.groups[chat], now.Add(-l.GroupWindow))
			if len(hits) >= l.GroupMax {
				lm.groups[chat] = hits
				return retrySeconds(hits[0].Add(l.GroupWindow).Sub(now)), ScopeGroup
			}
			lm.groups[chat] = append(hits, now)
		}
	}
	lm.bot = append(lm.bot, now)
	return 0, ""
}

// chatHasRoom reports whether chat's own rule would let a request through
// at now, without counting one.
func (lm *limiter) chatHasRoom(chat int64, now time.Time) bool {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if !lm.on {
		return true
	}
	l := lm.l
	if chat > 0 {
		b := lm.buckets[chat]
		if b == nil {
			return true
		}
		return math.Min(float64(l.PrivateBurst), b.tokens+float64(now.Sub(b.at))/float64(l.PrivateEvery)) >= 1
	}
	n := 0
	for _, t := range lm.groups[chat] {
		if t.After(now.Add(-l.GroupWindow)) {
			n++
		}
	}
	return n < l.GroupMax
}

// recentDemand is how many message requests reached the check within the
// bot-wide window before now.
func (lm *limiter) recentDemand(now time.Time) int {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	n := 0
	for _, t := range lm.demand {
		if t.After(now.Add(-lm.l.BotWindow)) {
			n++
		}
	}
	return n
}
