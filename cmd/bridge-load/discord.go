package main

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// The Discord side of the load tool is bridges/discord/discordtest, the
// project's one fake of Discord (REST under /dc/api/v9/, the gateway
// under /dc/gateway, Discord's rate limits: per channel route buckets of
// 5 requests per 5 s, 50 requests per second for the bot, 429s with
// Discord's headers and body). This file is only the glue between it and
// the tool: conversations, the replies the fake backend streams, and the
// "window open" rule of the latency figures.
const (
	dcToken        = "load-test-discord-token"
	dcBotID        = discordtest.BotID
	dcGuild        = "800"
	dcPrefix       = "/dc"
	dcAPIPath      = dcPrefix + "/api/v9/"
	dcChanMax      = discordtest.MessageLimit
	dcChanWindow   = discordtest.MessageWindow
	dcGlobalMax    = discordtest.GlobalLimit
	dcGlobalWindow = discordtest.GlobalWindow
	dcAdapterEdit  = time.Second // bridges/discord Limits.EditInterval
	// dcHeadroom is the share of the global limit below which a request
	// counts as not waiting on it.
	dcHeadroom = 0.8

	dcRoutePost  = "POST /channels/{channel}/messages"
	dcRoutePatch = "PATCH /channels/{channel}/messages/{message}"
)

// discordFake runs discordtest for the tool. Each conversation is a DM
// channel (no guild_id) or, with --group, a guild channel where the user
// mentions the bot.
type discordFake struct {
	*discordtest.Server
	counters
	n429Global atomic.Int64
	group      bool
	convs      []*dcConv
	byChannel  map[string]*dcConv // fixed after setup
	ids        atomic.Int64       // snowflakes of the questions

	shards int

	gmu   sync.Mutex
	gmirr gcra // mirror of the adapter's bot budget
}

type dcConv struct {
	convo   // mu also guards the fields below
	channel string
	user    string
	mirror  gcra // the adapter's channel budget (1 s, burst 4)
	msgs    map[string]*botMsg
}

// newDiscordFake serves shards gateway shards (GET gateway/bot
// recommends that many, and as many may identify at once).
func newDiscordFake(n int, group bool, shards int, activity *atomic.Int64) *discordFake {
	shards = max(1, shards)
	f := &discordFake{group: group, byChannel: make(map[string]*dcConv, n), shards: shards,
		gmirr: gcra{every: 20 * time.Millisecond, burst: 10}}
	f.activity = activity
	f.ids.Store(1_000_000)
	for i := range n {
		c := &dcConv{channel: strconv.Itoa(10_000_000 + i), user: strconv.Itoa(20_000_000 + i),
			mirror: gcra{every: time.Second, burst: 4}, msgs: map[string]*botMsg{}}
		f.convs = append(f.convs, c)
		f.byChannel[c.channel] = c
	}
	f.Server = discordtest.New(discordtest.Options{Prefix: dcPrefix, Token: dcToken, OnRequest: f.observe, Shards: shards, MaxConcurrency: shards})
	return f
}

var _ fakePlatform = (*discordFake)(nil)

func (f *discordFake) conv(i int) *convo {
	if i < 0 || i >= len(f.convs) {
		return nil
	}
	return &f.convs[i].convo
}

func (f *discordFake) ready(int) bool {
	for k := range f.shards {
		if !f.Ready(k) {
			return false
		}
	}
	return true
}

func (f *discordFake) result() PlatformResult {
	r := f.base()
	r.TooManyGlobal = f.n429Global.Load()
	return r
}

func (f *discordFake) model() budgetModel {
	return budgetModel{
		PerReply: float64(dcChanMax) / dcChanWindow.Seconds(), Shared: float64(dcGlobalMax) / dcGlobalWindow.Seconds(),
		SharedName: "global",
		Counted:    func(m string) bool { return m == "POST messages" || m == "PATCH messages" },
	}
}

func (f *discordFake) close() { f.Server.Close() }

// ask dispatches MESSAGE_CREATE with the question.
func (f *discordFake) ask(i int, rep *replyRec) {
	c := f.convs[i]
	id := strconv.FormatInt(f.ids.Add(1), 10)
	c.mu.Lock()
	c.cur = rep
	c.mu.Unlock()
	guild, content := "", rep.question
	if f.group {
		guild, content = dcGuild, "<@"+dcBotID+"> "+rep.question
	}
	d := discordtest.MessageCreate(id, c.channel, guild, c.user, content)
	d["timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	if err := f.Dispatch("MESSAGE_CREATE", d); err != nil {
		f.other.Add(1)
	}
}

// shortName names a route in the tool's table.
func shortName(route string) string {
	switch route {
	case dcRoutePost:
		return "POST messages"
	case dcRoutePatch:
		return "PATCH messages"
	case "":
		return "unknown"
	}
	// The first segment of the path, or what follows a channel.
	method, path, _ := strings.Cut(route, " ")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if segs[0] == "channels" && len(segs) == 3 {
		return method + " " + segs[2]
	}
	return method + " " + segs[0]
}

// observe accounts one request discordtest answered to the reply it
// belongs to.
func (f *discordFake) observe(r discordtest.Request) {
	f.count(shortName(r.Route))
	isMsg := r.Route == dcRoutePost || r.Route == dcRoutePatch
	c := f.byChannel[r.Major]
	switch {
	case r.Status == 429:
		f.n429.Add(1)
		if r.Scope == "global" {
			f.n429Global.Add(1)
		}
		if c == nil || !isMsg {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		rep := c.cur
		if r.Route == dcRoutePatch {
			if m := c.msgs[r.Path[strings.LastIndex(r.Path, "/")+1:]]; m != nil {
				rep = m.rep
			}
		}
		if rep != nil {
			rep.n429++
			rep.lastReq = time.Now()
		}
	case r.Status >= 400:
		f.badRequests.Add(1)
	case isMsg:
		if c == nil {
			f.other.Add(1)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		m := c.botMessage(c.msgs, r.MessageID, "markdown")
		c.mirror.take(r.At)
		f.gmu.Lock()
		f.gmirr.take(r.At)
		f.gmu.Unlock()
		content := r.Content()
		m.raw, m.visible = content, content
		if m.rep == nil {
			f.other.Add(1)
			return
		}
		m.rep.request(r.At, shortName(r.Route), content, false, m)
		m.rep.lastReq = time.Now()
	}
}

// windowOpenLocked: the reply's edit interval has passed, the channel's
// bucket for the next request has room, and the adapter's channel and
// bot budgets would not make the request wait.
func (f *discordFake) windowOpenLocked(i int, rep *replyRec, now time.Time) bool {
	c := f.convs[i]
	if !rep.lastReq.IsZero() && now.Sub(rep.lastReq) < dcAdapterEdit {
		return false
	}
	route := dcRoutePost
	if len(rep.msgs) > 0 {
		route = dcRoutePatch
	}
	if left, resetAt := f.Bucket(route, c.channel); left <= 0 && now.Before(resetAt) {
		return false
	}
	if !c.mirror.open(now, mirrorMargin) {
		return false
	}
	f.gmu.Lock()
	defer f.gmu.Unlock()
	return f.gmirr.open(now, mirrorMargin) && float64(f.GlobalUsed()) < dcHeadroom*dcGlobalMax
}
