package discord

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Discord's limits, as the bridge keeps to them (research/platforms.md
// §1.1). Discord documents 50 requests per second for the bot, all routes
// but the interaction endpoints; per route it documents the mechanism
// (a bucket per top-level resource, read from the X-RateLimit headers),
// not the numbers, which for a channel's message writes, typing, thread
// starts and reactions are observed at 5 per 5 s.
//
// Every REST request of the adapter draws from the bot's global budget
// and, on those routes, from the channel's budget of the route, all on
// one bridges.BudgetState (Deps.Budgets: the relay's; in cluster mode the
// deployment's, in Redis), so that the replicas' requests together keep
// to the limits. The core books the replies' own requests (Send, Edit,
// Delete: the channel's message budget and the global one, in Limits)
// and the typing indicator's global slot; the transport (rest.go) books
// every other request before it leaves: lookups (channel, guild, roles,
// member, thread history), thread starts, reactions, gateway discovery,
// command registration and Check. Lookups are cached (receive.go,
// context.go), so a warm process makes few.

const (
	// globalEvery paces the bot's requests: 45 a second, no burst, room
	// for network jitter under Discord's 50.
	globalEvery = 22 * time.Millisecond
	// globalMax requests may leave in any globalWindow: under Discord's
	// 50, two kept for the clocks of the bridge and Discord disagreeing.
	globalMax    = 48
	globalWindow = time.Second
	// channelMax requests of one route may leave in any channelWindow
	// into one channel (messages: posts, edits and deletes together).
	channelMax    = 5
	channelWindow = 5 * time.Second
)

// globalBudget is the budget every request of the bot draws from.
func (a *Adapter) globalBudget() bridges.Budget {
	return bridges.Budget{Key: Platform + "/" + a.cfg.Name, Every: globalEvery, Window: globalWindow, Max: globalMax}
}

// channelBudget is the budget of route ("channel": its messages; "typing",
// "threads", "reactions") in channel: one a second, at most channelMax
// in any channelWindow.
func (a *Adapter) channelBudget(route, channel string) bridges.Budget {
	return bridges.Budget{Key: Platform + "/" + a.cfg.Name + "/" + route + "/" + channel,
		Every: time.Second, Burst: channelMax - 1, Window: channelWindow, Max: channelMax}
}

// booking says who books a REST request on the budgets.
type booking int

const (
	// bookHere: the transport books the request (every request the core
	// does not make).
	bookHere booking = iota
	// bookedByCore: the core booked the request on every budget of
	// Limits.Budgets and checked its departure (a reply's post, edit or
	// delete).
	bookedByCore
	// typingSlot: the core booked the typing indicator's slot on the
	// global budget (Limits.TypingBudgets); the transport checks its
	// departure, and skips the indicator when a window is full.
	typingSlot
)

type bookingKey struct{}

// withBooking marks the REST requests of ctx as booked by b.
func withBooking(ctx context.Context, b booking) context.Context {
	return context.WithValue(ctx, bookingKey{}, b)
}

// errTypingSkipped is the error of a typing indicator not sent because
// its channel's or the bot's window was full.
var errTypingSkipped = errors.New("typing indicator skipped: the rate limit's window is full")

// budgetsOf returns the budgets a request draws from: method and path,
// relative to the API's prefix ("channels/C1/typing").
func (a *Adapter) budgetsOf(method, path string) []bridges.Budget {
	p := strings.Split(strings.Trim(path, "/"), "/")
	switch p[0] {
	case "interactions", "webhooks":
		// Interaction endpoints (the callback, the response and its
		// follow-ups, by the interaction's token) are exempt from the
		// global limit. The core books the answers on the channel's
		// budget.
		return nil
	}
	g := a.globalBudget()
	if p[0] == "channels" && len(p) >= 3 {
		c := p[1]
		switch {
		case method == http.MethodPost && len(p) == 3 && p[2] == "typing":
			return []bridges.Budget{a.channelBudget("typing", c), g}
		case method == http.MethodPost && len(p) == 5 && p[2] == "messages" && p[4] == "threads":
			return []bridges.Budget{a.channelBudget("threads", c), g}
		case method == http.MethodPut && len(p) >= 6 && p[2] == "messages" && p[4] == "reactions":
			return []bridges.Budget{a.channelBudget("reactions", c), g}
		case method != http.MethodGet && p[2] == "messages":
			return []bridges.Budget{a.channelBudget("channel", c), g}
		}
	}
	return []bridges.Budget{g}
}

// book books the REST request req (path relative to the API's prefix) as
// its context says (booking), waiting for its slot, and returns the
// function to call with its answer (nil: none came).
func (a *Adapter) book(req *http.Request, path string) (func(*http.Response), error) {
	mode, _ := req.Context().Value(bookingKey{}).(booking)
	if mode == bookedByCore {
		return func(*http.Response) {}, nil
	}
	bs := a.budgetsOf(req.Method, path)
	if len(bs) == 0 {
		return func(*http.Response) {}, nil
	}
	var done func(time.Time)
	if mode == typingSlot {
		d, _, ok := a.budgets.Depart(time.Now(), bs)
		if !ok {
			return nil, errTypingSkipped
		}
		done = d
	} else {
		d, err := bridges.Take(req.Context(), a.budgets, bs)
		if err != nil {
			return nil, err
		}
		done = d
	}
	return func(resp *http.Response) {
		done(time.Now())
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			a.limited(resp, bs)
		}
	}, nil
}

// limited pauses the budget a 429 to a request the adapter booked
// applies to: the global one, or the route's in the channel. (The core
// pauses its own on the *bridges.RateLimitError.)
func (a *Adapter) limited(resp *http.Response, bs []bridges.Budget) {
	wait := time.Second
	for _, h := range []string{"Retry-After", "X-RateLimit-Reset-After"} {
		if s, err := strconv.ParseFloat(resp.Header.Get(h), 64); err == nil && s > 0 {
			wait = time.Duration(s * float64(time.Second))
			break
		}
	}
	b := bs[len(bs)-1]
	global := resp.Header.Get("X-RateLimit-Global") == "true" || resp.Header.Get("X-RateLimit-Scope") == "global"
	if !global && len(bs) > 1 {
		b = bs[0]
	} else if !global {
		// A route without a budget of the bridge: discordgo keeps its
		// bucket (this process only).
		return
	}
	a.budgets.Pause(b, time.Now().Add(wait))
	a.log.Warn("Discord rate limit on the bridge's own request; pausing its budget",
		"budget", b.Key, "retry_after", wait, "global", global)
}
