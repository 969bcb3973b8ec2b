package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// The Telegram platform of the load tool is bridges/telegram/telegramtest,
// the one fake of the Bot API (its flood limits are Telegram's, see
// telegramtest.Limits). This file is the glue that implements
// fakePlatform on top of it: it numbers the chats, queues the questions
// and measures every request against the reply it carries.

// Shared with the other platforms' fakes (discord.go, slack.go) and
// backend.go.
const (
	// botMax is Telegram's bot-wide limit per second.
	botMax = 30
	// headroom is the share of the bot-wide window below which the
	// bot-wide budget counts as open for the latency measurement.
	headroom = 0.8
)

// window is a sliding log of request times.
type window struct{ t []time.Time }

func (w *window) prune(now time.Time, span time.Duration) {
	i := 0
	for i < len(w.t) && !w.t[i].After(now.Add(-span)) {
		i++
	}
	if i > 0 {
		w.t = append(w.t[:0], w.t[i:]...)
	}
}

// botMsg is one message the bot made, as the platform shows it.
type botMsg struct {
	raw, mode, visible string
	rep                *replyRec
	// Slack's native streaming: the streamed Markdown shows while the
	// message's blocks hold it.
	md                 string
	streaming, stopped bool
}

// tgFake is the load tool's Telegram: N chats, each with its single user,
// answered one question at a time.
type tgFake struct {
	*telegramtest.Server
	group     bool
	drafts    bool // the generated config has drafts on
	draftCost bool // drafts count on the bot-wide window
	editIv    time.Duration
	draftIv   time.Duration
	// botMax is the bot-wide limit per second; run sets it after
	// newTGFake, and the first request applies it to the server.
	botMax    int
	applyOnce sync.Once
	chats     []*tgChat // fixed after setup: read without a lock

	counters
}

// tgChat is one conversation: its chat and the bot's messages in it.
type tgChat struct {
	id int64
	convo
	msgs map[int]*botMsg // guarded by convo.mu
}

func chatID(i int, group bool) int64 {
	id := int64(1_000_000 + i)
	if group {
		return -id
	}
	return id
}

func newTGFake(token string, n int, group, drafts, draftCost bool, editIv, draftIv time.Duration) *tgFake {
	f := &tgFake{group: group, drafts: drafts, draftCost: draftCost, editIv: editIv, draftIv: draftIv, botMax: botMax,
		chats: make([]*tgChat, n)}
	for i := range n {
		f.chats[i] = &tgChat{id: chatID(i, group), msgs: map[int]*botMsg{}}
	}
	f.Server = telegramtest.New(telegramtest.Options{
		Token: token, Prefix: "/tg", Limits: telegramtest.TelegramLimits, DraftsCount: draftCost,
		Bot:       telegramtest.User{ID: 4242, IsBot: true, FirstName: "Load Bot", UserName: "load_bot", CanReadAllGroupMessages: true},
		OnRequest: f.observe,
	})
	return f
}

var _ fakePlatform = (*tgFake)(nil)

// ServeHTTP serves the Bot API (telegramtest) under /tg.
func (f *tgFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.applyOnce.Do(func() {
		l := f.Limits()
		l.BotMax = f.botMax
		f.SetLimits(l)
	})
	f.Server.ServeHTTP(w, r)
}

// chatOf returns the conversation of a chat ID, nil when none.
func (f *tgFake) chatOf(id int64) *tgChat {
	i := int(id - 1_000_000)
	if f.group {
		i = int(-id - 1_000_000)
	}
	if i < 0 || i >= len(f.chats) {
		return nil
	}
	return f.chats[i]
}

func (f *tgFake) conv(i int) *convo {
	if i < 0 || i >= len(f.chats) {
		return nil
	}
	return &f.chats[i].convo
}

// ask queues the user's question as an update and makes rep the chat's
// current reply.
func (f *tgFake) ask(i int, rep *replyRec) {
	c := f.chats[i]
	c.mu.Lock()
	c.cur = rep
	c.mu.Unlock()
	m := telegramtest.In{Chat: c.id, From: chatID(i, false), Name: "User", Text: rep.question}
	if f.group {
		m.Title = "load group"
	}
	f.Queue(m)
}

func (f *tgFake) ready() <-chan struct{} { return f.Polled() }

func (f *tgFake) result() PlatformResult {
	r := f.base()
	st := f.Stats()
	r.TooMany = 0
	for _, n := range st.TooMany {
		r.TooMany += int64(n)
	}
	return r
}

func (f *tgFake) model() budgetModel {
	l := f.Limits()
	per := 1 / l.PrivateEvery.Seconds()
	switch {
	case f.group:
		per = float64(l.GroupMax) / l.GroupWindow.Seconds()
	case f.drafts:
		per = 1 / f.draftIv.Seconds()
	}
	return budgetModel{
		PerReply: per, Shared: float64(f.botMax) / l.BotWindow.Seconds(), SharedName: "bot-wide",
		Counted: func(m string) bool { return m != "sendMessageDraft" || f.draftCost },
	}
}

// observe is telegramtest's OnRequest: it counts every request and
// records the ones carrying text against their reply. The server holds
// none of its locks; the chat's lock orders it with the backend fake.
func (f *tgFake) observe(r telegramtest.Request) {
	f.count(r.Method)
	switch r.Method {
	case "sendMessage", "editMessageText", "sendMessageDraft":
	default:
		return
	}
	c := f.chatOf(r.Chat)
	if c == nil {
		if r.Status != http.StatusOK {
			f.badRequests.Add(1)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rep := c.cur
	var m *botMsg
	if r.Method == "editMessageText" {
		if m = c.msgs[r.MessageID]; m != nil {
			rep = m.rep
		}
	}
	switch {
	case r.Status == http.StatusTooManyRequests:
		f.n429.Add(1)
		if rep != nil {
			rep.n429++
			rep.lastReq = time.Now()
		}
		return
	case r.Status == http.StatusBadRequest && m != nil && isNotModified(r.Description):
		f.notModified.Add(1)
		if rep != nil {
			rep.lastReq = time.Now()
		}
		return
	case r.Status != http.StatusOK:
		f.badRequests.Add(1)
		return
	}
	if r.Method == "sendMessage" {
		m = &botMsg{rep: rep}
		c.msgs[r.MessageID] = m
		if rep != nil {
			rep.msgs = append(rep.msgs, m)
		}
	}
	if m != nil {
		m.raw, m.mode, m.visible = r.Text, r.ParseMode, r.Text
	}
	if rep == nil {
		f.other.Add(1)
		return
	}
	rep.request(r.At, r.Method, r.Text, r.ParseMode == "HTML", m)
	rep.lastReq = time.Now()
}

func isNotModified(desc string) bool {
	const p = "Bad Request: message is not modified"
	return len(desc) >= len(p) && desc[:len(p)] == p
}

// windowOpenLocked reports whether a request for rep in conversation i
// could go at now without waiting: the reply's own interval since its
// previous request has passed, the chat's rule has room, and the bot-wide
// budget has headroom. The chat's mu is held.
func (f *tgFake) windowOpenLocked(i int, rep *replyRec, now time.Time) bool {
	c := f.chats[i]
	draftMode := f.drafts && !f.group && len(rep.msgs) == 0
	iv := f.editIv
	if draftMode {
		iv = f.draftIv
	}
	if !rep.lastReq.IsZero() && now.Sub(rep.lastReq) < iv {
		return false
	}
	if (!draftMode || f.draftCost) && !f.ChatHasRoom(c.id, now) {
		return false
	}
	return float64(f.Demand(now)) < headroom*float64(f.botMax)
}
