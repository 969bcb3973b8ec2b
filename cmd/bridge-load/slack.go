package main

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// The Slack run uses bridges/slack/slacktest with Slack's rate limits on
// (see its package doc): chat.update 50 in any minute per workspace,
// chat.postMessage 1/s per channel with a burst of 3, chat.appendStream
// 100 a minute per workspace; over a limit, 429 with an integer
// Retry-After and {"ok":false,"error":"ratelimited"}. This file is only
// the glue between the fake and the load tool: conversations, the
// questions, and the "window open" bookkeeping of the latency figures.
const (
	slackPingEvery  = 10 * time.Second
	slackBotToken   = "xoxb-load-test-token"
	slackAppToken   = "xapp-load-test-token"
	slackBotUser    = "UBOT"
	slackBotID      = "BBOT"
	slackTeam       = "T0LOAD"
	slackAdapterEdt = 1500 * time.Millisecond // bridges/slack editInterval
	slackAdapterStr = time.Second             // bridges/slack streamInterval
)

// slackFake is the load tool's view of a slacktest.Server mounted under
// /slack/ (Web API at /slack/api/, Socket Mode at /slack/ws/). Each
// conversation is a DM channel (D…, message.im events, answered at top
// level) or, with --group, a public channel (C…, app_mention events,
// answered in the question's thread).
type slackFake struct {
	counters
	srv              *slacktest.Server
	group, streaming bool
	convs            []*slackConv
	byChannel        map[string]*slackConv // fixed after setup

	gmu    sync.Mutex
	team   gcra // mirror of the adapter's team budget (posts and updates)
	stream gcra // mirror of its stream budget (appends)
}

type slackConv struct {
	convo   // mu also guards the fields below
	i       int
	channel string
	user    string
	thread  string             // the current question's ts (channels: the reply's thread)
	msgs    map[string]*botMsg // ts → message
}

func newSlackFake(n int, group, streaming bool, activity *atomic.Int64) *slackFake {
	f := &slackFake{
		group: group, streaming: streaming, byChannel: make(map[string]*slackConv, n),
		team:   gcra{every: 1250 * time.Millisecond, burst: 2},
		stream: gcra{every: 700 * time.Millisecond, burst: 3},
	}
	f.activity = activity
	f.srv = slacktest.New(slacktest.Options{
		Prefix: "/slack", BotToken: slackBotToken, AppToken: slackAppToken,
		TeamID: slackTeam, Team: "Load", BotUser: slackBotUser, BotID: slackBotID,
		RateLimits: true, PingEvery: slackPingEvery, Observe: f.observe,
	})
	for i := range n {
		c := &slackConv{i: i, channel: slackChannel(i, group), user: fmt.Sprintf("U%08d", i), msgs: map[string]*botMsg{}}
		f.convs = append(f.convs, c)
		f.byChannel[c.channel] = c
	}
	return f
}

func slackChannel(i int, group bool) string {
	if group {
		return fmt.Sprintf("C%08d", i)
	}
	return fmt.Sprintf("D%08d", i)
}

var _ fakePlatform = (*slackFake)(nil)

func (f *slackFake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.srv.ServeHTTP(w, r) }

func (f *slackFake) conv(i int) *convo {
	if i < 0 || i >= len(f.convs) {
		return nil
	}
	return &f.convs[i].convo
}

func (f *slackFake) ready(replicas int) bool { return f.srv.Connections() >= replicas }

func (f *slackFake) result() PlatformResult {
	r := f.base()
	r.TooMany = int64(f.srv.TooMany())
	r.Envelopes, r.Acked = f.srv.Envelopes()
	return r
}

// model: chat.update's 50/min is the shared budget; each reply may edit
// at most once a second (the bound of the per-reply figure: Slack states
// no per-message limit, and the adapter edits every 1.5 s). Streamed
// thread replies count chat.appendStream against its 100/min instead.
func (f *slackFake) model() budgetModel {
	l := slacktest.DefaultLimits
	if f.streaming && f.group {
		return budgetModel{
			PerReply: 1, Shared: float64(l.AppendPerMinute) / slacktest.Window.Seconds(), SharedName: "workspace chat.appendStream",
			Counted: func(m string) bool { return m == "chat.appendStream" },
		}
	}
	return budgetModel{
		PerReply: 1, Shared: float64(l.UpdatePerMinute) / slacktest.Window.Seconds(), SharedName: "workspace chat.update",
		Counted: func(m string) bool { return m == "chat.update" },
	}
}

// close ends the Socket Mode connection and its pings.
func (f *slackFake) close() { f.srv.Close() }

// ask delivers the question as an events_api envelope: message.im in a
// DM, app_mention in a channel.
func (f *slackFake) ask(i int, rep *replyRec) {
	c := f.convs[i]
	ts := f.srv.NewTS()
	c.mu.Lock()
	c.cur, c.thread = rep, ts
	c.mu.Unlock()
	ev := slacktest.MessageEvent("im", c.channel, c.user, rep.question, ts, "")
	if f.group {
		ev = slacktest.MentionEvent(c.channel, c.user, "<@"+slackBotUser+"> "+rep.question, ts, "")
	}
	// Slack spreads an app's envelopes over its connections (one per
	// replica); with one connection EnvelopeOn is that one.
	if _, err := f.srv.EnvelopeOn(i+rep.round, fmt.Sprintf("Ev%d_%d", i, rep.round), 0, ev); err != nil {
		f.other.Add(1)
	}
}

// observe books one Web API request the fake answered on the reply it
// belongs to (slacktest calls it with no lock of its own held).
func (f *slackFake) observe(call slacktest.Call) {
	f.count(call.Method)
	switch call.Method {
	case "chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream":
	default:
		return
	}
	c := f.byChannel[call.Form.Get("channel")]
	if c == nil {
		f.badRequests.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if call.Status == http.StatusTooManyRequests {
		if m := c.msgs[call.Form.Get("ts")]; m != nil && m.rep != nil {
			m.rep.n429++
			m.rep.lastReq = time.Now()
		} else if c.cur != nil {
			c.cur.n429++
		}
		return
	}
	if call.Error != "" || call.Message == nil {
		f.badRequests.Add(1)
		return
	}
	f.gmu.Lock()
	switch call.Method {
	case "chat.postMessage", "chat.update":
		f.team.take(call.At)
	case "chat.appendStream":
		f.stream.take(call.At)
	}
	f.gmu.Unlock()
	sm := call.Message
	m := c.botMessage(c.msgs, sm.TS, "mrkdwn")
	m.raw, m.md, m.streaming, m.stopped = sm.Text, sm.Markdown, sm.Streaming, sm.Stopped
	m.visible = sm.Visible()
	if m.rep == nil {
		f.other.Add(1)
		return
	}
	m.rep.request(call.At, call.Method, m.visible, false, m)
	m.rep.lastReq = time.Now()
}

// windowOpenLocked: the reply's interval since its previous request has
// passed, and the limit and the adapter's budget of its next request
// (post, update or append) have room.
func (f *slackFake) windowOpenLocked(i int, rep *replyRec, now time.Time) bool {
	c := f.convs[i]
	streaming := len(rep.msgs) > 0 && rep.msgs[0].streaming && !rep.msgs[0].stopped
	iv := slackAdapterEdt
	if streaming {
		iv = slackAdapterStr
	}
	if !rep.lastReq.IsZero() && now.Sub(rep.lastReq) < iv {
		return false
	}
	f.gmu.Lock()
	defer f.gmu.Unlock()
	switch {
	case len(rep.msgs) == 0:
		return f.srv.WouldLimit("chat.postMessage", c.channel, now) == 0 && f.team.open(now, mirrorMargin)
	case streaming:
		return f.srv.WouldLimit("chat.appendStream", c.channel, now) == 0 && f.stream.open(now, mirrorMargin)
	default:
		return f.srv.WouldLimit("chat.update", c.channel, now) == 0 && f.team.open(now, mirrorMargin)
	}
}
