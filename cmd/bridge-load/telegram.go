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

// botMsg is one message the bot made, as the platform shows it.
type botMsg struct {
	raw, mode, visible string
	rep                *replyRec
	asker              *tgAsker // Telegram: whose question it answers
	// Slack's native streaming: the streamed Markdown shows while the
	// message's blocks hold it.
	md                 string
	streaming, stopped bool
}

// tgFake is the load tool's Telegram: chats, each with its askers (one
// user in a private chat; --per-group users in a group), each asker
// answered one question at a time. The load tool's conversations are the
// askers, numbered 0..N·perGroup-1; asker i is in chat i/perGroup.
type tgFake struct {
	*telegramtest.Server
	group     bool
	drafts    bool // the generated config has drafts on
	draftCost bool // drafts count on the bot-wide window
	webhook   bool // the bridge receives through a webhook (cluster mode)
	editIv    time.Duration
	draftIv   time.Duration
	// botMax is the bot-wide limit per second; run sets it after
	// newTGFake, and the first request applies it to the server.
	botMax    int
	applyOnce sync.Once
	perGroup  int
	chats     []*tgChat  // fixed after setup: read without a lock
	askers    []*tgAsker // fixed after setup: read without a lock

	counters
}

// tgChat is one chat and the bot's messages in it. Its mu is taken before
// any of its askers' convo.mu.
type tgChat struct {
	id   int64
	mu   sync.Mutex
	msgs map[int]*botMsg // the bot's messages, by ID
	// askerOf is the asker of each question (by the question's message
	// ID): a group's replies are matched to their question by
	// reply_parameters.
	askerOf map[int]int
	first   int // the chat's first asker
	// lastPoster is the asker whose reply posted the chat's latest first
	// message: a later part (no reply_parameters) is that reply's, as
	// the bridge posts a reply's messages before the next reply's.
	lastPoster int
}

// tgAsker is one user asking in a chat: a conversation of the load tool.
type tgAsker struct {
	convo
	chat *tgChat
}

func chatID(i int, group bool) int64 {
	id := int64(1_000_000 + i)
	if group {
		return -id
	}
	return id
}

func newTGFake(token string, n, perGroup int, group, drafts, draftCost bool, editIv, draftIv time.Duration) *tgFake {
	perGroup = max(1, perGroup)
	f := &tgFake{group: group, drafts: drafts, draftCost: draftCost, editIv: editIv, draftIv: draftIv, botMax: botMax,
		perGroup: perGroup, chats: make([]*tgChat, n), askers: make([]*tgAsker, n*perGroup)}
	for i := range n {
		f.chats[i] = &tgChat{id: chatID(i, group), msgs: map[int]*botMsg{}, askerOf: map[int]int{}, first: i * perGroup, lastPoster: i * perGroup}
	}
	for i := range f.askers {
		f.askers[i] = &tgAsker{chat: f.chats[i/perGroup]}
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

// chatOf returns the chat of a chat ID, nil when none.
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
	if i < 0 || i >= len(f.askers) {
		return nil
	}
	return &f.askers[i].convo
}

// ask queues the user's question as an update and makes rep the asker's
// current reply.
func (f *tgFake) ask(i int, rep *replyRec) {
	a := f.askers[i]
	a.mu.Lock()
	a.cur = rep
	a.mu.Unlock()
	m := telegramtest.In{Chat: a.chat.id, From: chatID(i, false), Name: "User", Text: rep.question}
	if f.group {
		m.Title = "load group"
	}
	// The chat's lock orders the question's ID before the reply to it.
	a.chat.mu.Lock()
	a.chat.askerOf[f.Queue(m)] = i
	a.chat.mu.Unlock()
}

func (f *tgFake) ready(int) bool {
	if f.webhook {
		return f.WebhookURL() != ""
	}
	select {
	case <-f.Polled():
		return true
	default:
		return false
	}
}

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
// none of its locks; the asker's lock orders it with the backend fake.
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
	var m *botMsg
	var a *tgAsker
	var rep *replyRec
	switch {
	case r.Method == "editMessageText":
		if m = c.msgs[r.MessageID]; m != nil {
			rep, a = m.rep, m.asker
		}
	case f.perGroup == 1:
		a = f.askers[c.first]
	case r.Method == "sendMessage" && r.Status == http.StatusOK:
		// Several askers share the chat: the reply's question is the
		// message it replies to.
		if q := f.replyTo(r.Chat, r.MessageID); q == 0 {
			a = f.askers[c.lastPoster]
		} else if i, ok := c.askerOf[q]; ok {
			a, c.lastPoster = f.askers[i], i
		}
	}
	if a == nil {
		switch r.Status {
		case http.StatusTooManyRequests:
			f.n429.Add(1)
		case http.StatusOK:
			f.other.Add(1)
		default:
			f.badRequests.Add(1)
		}
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if rep == nil {
		rep = a.cur
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
		m = &botMsg{rep: rep, asker: a}
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

// replyTo returns the message the bot's message id in chat replies to, 0
// when none.
func (f *tgFake) replyTo(chat int64, id int) int {
	for _, bm := range f.BotMessages(chat) {
		if bm.ID == id {
			return bm.ReplyTo
		}
	}
	return 0
}

func isNotModified(desc string) bool {
	const p = "Bad Request: message is not modified"
	return len(desc) >= len(p) && desc[:len(p)] == p
}

// windowOpenLocked reports whether a request for rep in conversation i
// could go at now without waiting: the reply's own interval since its
// previous request has passed, the chat's rule has room, and the bot-wide
// budget has headroom. The asker's mu is held.
func (f *tgFake) windowOpenLocked(i int, rep *replyRec, now time.Time) bool {
	c := f.askers[i].chat
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
