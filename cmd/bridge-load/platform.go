package main

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// fakePlatform is a loopback fake of one chat platform, serving its API
// under a path prefix of the tool's server. Conversations are numbered
// 0..N-1; the backend fake finds the reply it must stream through conv.
type fakePlatform interface {
	http.Handler
	// conv returns conversation i (nil when out of range).
	conv(i int) *convo
	// ask sends the user's question of rep in conversation i to the bridge
	// and makes rep the conversation's current reply.
	ask(i int, rep *replyRec)
	// ready reports whether the bridge's replicas are connected: polling
	// or the webhook set (Telegram), a Socket Mode connection per replica
	// (Slack), every gateway shard READY (Discord).
	ready(replicas int) bool
	// windowOpenLocked reports whether a request for rep in conversation
	// i could go at now without waiting on any rule (the reply's edit
	// interval, the platform's limits, the adapter's own budgets). The
	// conversation's mu is held.
	windowOpenLocked(i int, rep *replyRec, now time.Time) bool
	// result counts what the fake answered.
	result() PlatformResult
	// model is the platform's budget, for the budget-use figures.
	model() budgetModel
}

// convo is one conversation's lock and current reply, shared by the
// platform fake and the backend fake. The lock guards the conversation's
// replies too.
type convo struct {
	mu  sync.Mutex
	cur *replyRec
}

// budgetModel is the part of a platform's rules the budget-use figures
// are computed against.
type budgetModel struct {
	// PerReply is the most requests per second one reply may make by the
	// platform's per-chat rule.
	PerReply float64
	// Shared is the shared budget (bot-wide, workspace-wide), requests per
	// second, split fairly among the answers streaming at each instant.
	Shared float64
	// SharedName names the shared budget in the table.
	SharedName string
	// Counted tells which methods count, per reply and on the shared
	// budget.
	Counted func(method string) bool
}

// counters are the request counters every fake keeps.
type counters struct {
	n429, notModified, badRequests, other atomic.Int64
	methods                               sync.Map // method → *atomic.Int64
	// activity is the UnixNano of the latest platform request or backend
	// chunk: the run stops when nothing happens for too long.
	activity *atomic.Int64
}

func (c *counters) count(method string) {
	v, _ := c.methods.LoadOrStore(method, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	if c.activity != nil {
		c.activity.Store(time.Now().UnixNano())
	}
}

func (c *counters) methodCounts() map[string]int64 {
	out := map[string]int64{}
	c.methods.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func (c *counters) base() PlatformResult {
	return PlatformResult{
		TooMany: c.n429.Load(), NotModified: c.notModified.Load(), BadRequests: c.badRequests.Load(),
		Methods: c.methodCounts(),
	}
}

// gcra mirrors one of the adapter's budgets (bridges/budget.go): a
// request may go at t when t >= tat - burst·every, and moves tat on by
// every. The fakes feed it the requests they accept, to tell when the
// adapter's own budget would make a request wait.
type gcra struct {
	every time.Duration
	burst int
	tat   time.Time
}

func (g *gcra) take(at time.Time) {
	if g.tat.Before(at) {
		g.tat = at
	}
	g.tat = g.tat.Add(g.every)
}

// open reports whether a request at now would not wait, with margin to
// spare for the clocks of the two processes.
func (g *gcra) open(now time.Time, margin time.Duration) bool {
	return !g.tat.Add(-time.Duration(g.burst) * g.every).After(now.Add(-margin))
}

// mirrorMargin is the slack given to the gcra mirrors.
const mirrorMargin = 20 * time.Millisecond

// botMessage returns the message of msgs with id, adding it as a new
// message of the conversation's current reply (shown in mode) when it is
// not there: Slack and Discord tell a reply's messages by their IDs only.
// The conversation's mu is held.
func (c *convo) botMessage(msgs map[string]*botMsg, id, mode string) *botMsg {
	m := msgs[id]
	if m == nil {
		m = &botMsg{rep: c.cur, mode: mode}
		msgs[id] = m
		if c.cur != nil {
			c.cur.msgs = append(c.cur.msgs, m)
		}
	}
	return m
}
