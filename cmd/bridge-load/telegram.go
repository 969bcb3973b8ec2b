package main

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// Telegram's flood rules as the fake enforces them (see docs/performance.md):
//
//   - private chat: a token bucket per chat refilled at 1 token/s, holding
//     at most privateBurst tokens; each sendMessage/editMessageText takes one;
//   - group: at most groupMax sendMessage/editMessageText per chat in any
//     sliding groupWindow;
//   - bot-wide: at most botMax sendMessage/editMessageText in any sliding
//     botWindow, all chats together;
//   - sendMessageDraft costs nothing (Telegram documents no limit), unless
//     draftCost is set, then it counts on the bot-wide window.
//
// A request over a limit is answered 429 with parameters.retry_after (whole
// seconds, rounded up, at least 1) and has no effect.
const (
	privateEvery = time.Second
	privateBurst = 3
	groupMax     = 20
	groupWindow  = time.Minute
	botMax       = 30
	botWindow    = time.Second
	// headroom is the share of the bot-wide window below which the
	// bot-wide budget counts as open for the latency measurement.
	headroom = 0.8
)

// tgFake is a loopback Telegram Bot API server for the bridge under load:
// getMe, setMyCommands, deleteWebhook, long-polling getUpdates with offset
// confirmation, sendMessage, editMessageText, sendMessageDraft,
// sendChatAction and deleteMessage, with the flood rules above, Telegram's
// HTML parsing and "message is not modified". It measures every request
// against the conversation it answers.
type tgFake struct {
	token     string
	prefix    string // URL path prefix, "/tg"
	group     bool
	drafts    bool // the generated config has drafts on
	draftCost bool // drafts count on the bot-wide window
	editIv    time.Duration
	draftIv   time.Duration
	chats     map[int64]*chat // fixed after setup: read without a lock

	umu      sync.Mutex
	pending  []json.RawMessage // updates not yet confirmed, in update_id order
	firstID  int               // update_id of pending[0]
	nextID   int
	changed  chan struct{}
	polled   chan struct{} // closed at the first getUpdates
	pollOnce sync.Once

	gmu    sync.Mutex
	bot    window // enforced bot-wide window
	botMax int    // requests allowed in the bot-wide window
	demand window // every request the adapter charges to its bot-wide budget

	counters
}

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

// chat is one Telegram chat with its single user, answered one question
// at a time.
type chat struct {
	id    int64
	user  int64
	group bool

	convo   // mu also guards the fields below
	nextMsg int
	tokens  float64
	tokAt   time.Time
	hits    window
	msgs    map[int]*botMsg
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

func newTGFake(token string, n int, group, drafts, draftCost bool, editIv, draftIv time.Duration) *tgFake {
	f := &tgFake{
		token: token, prefix: "/tg", group: group, drafts: drafts, draftCost: draftCost,
		editIv: editIv, draftIv: draftIv,
		chats: make(map[int64]*chat, n), changed: make(chan struct{}), polled: make(chan struct{}),
		nextID: 1, firstID: 1, botMax: botMax,
	}
	for i := range n {
		c := &chat{id: int64(1_000_000 + i), user: int64(1_000_000 + i), group: group, msgs: map[int]*botMsg{}, tokens: privateBurst}
		if group {
			c.id = -c.id
		}
		f.chats[c.id] = c
	}
	return f
}

func chatID(i int, group bool) int64 {
	id := int64(1_000_000 + i)
	if group {
		return -id
	}
	return id
}

// ask queues the user's question as an update and makes rep the chat's
// current reply.
func (f *tgFake) ask(i int, rep *replyRec) {
	c := f.chats[chatID(i, f.group)]
	c.mu.Lock()
	c.nextMsg++
	msgID := c.nextMsg
	c.cur = rep
	c.mu.Unlock()
	typ := "private"
	title := ""
	if c.group {
		typ, title = "supergroup", `,"title":"load group"`
	}
	f.umu.Lock()
	id := f.nextID
	f.nextID++
	raw := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":%d,"chat":{"id":%d,"type":%q%s},"from":{"id":%d,"is_bot":false,"first_name":"User"},"text":%q}}`,
		id, msgID, time.Now().Unix(), c.id, typ, title, c.user, rep.question)
	f.pending = append(f.pending, json.RawMessage(raw))
	close(f.changed)
	f.changed = make(chan struct{})
	f.umu.Unlock()
}

var _ fakePlatform = (*tgFake)(nil)

func (f *tgFake) conv(i int) *convo {
	c := f.chats[chatID(i, f.group)]
	if c == nil {
		return nil
	}
	return &c.convo
}

func (f *tgFake) ready() <-chan struct{} { return f.polled }

func (f *tgFake) result() PlatformResult { return f.base() }

func (f *tgFake) model() budgetModel {
	per := 1 / privateEvery.Seconds()
	switch {
	case f.group:
		per = float64(groupMax) / groupWindow.Seconds()
	case f.drafts:
		per = 1 / f.draftIv.Seconds()
	}
	return budgetModel{
		PerReply: per, Shared: float64(f.botMax) / botWindow.Seconds(), SharedName: "bot-wide",
		Counted: func(m string) bool { return m != "sendMessageDraft" || f.draftCost },
	}
}

func (f *tgFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, f.prefix+"/bot")
	tok, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || r.Method != http.MethodPost {
		tgErr(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	if tok != f.token {
		tgErr(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	if err := r.ParseForm(); err != nil {
		tgErr(w, http.StatusBadRequest, "Bad Request: bad form", 0)
		return
	}
	f.count(method)
	p := r.PostForm
	switch method {
	case "getMe":
		tgOK(w, `{"id":4242,"is_bot":true,"first_name":"Load Bot","username":"load_bot","can_read_all_group_messages":true}`)
	case "setMyCommands", "deleteWebhook", "deleteMessage":
		tgOK(w, "true")
	case "sendChatAction":
		if p.Get("chat_id") == "" || p.Get("action") == "" {
			tgErr(w, http.StatusBadRequest, "Bad Request: chat_id and action required", 0)
			return
		}
		tgOK(w, "true")
	case "getUpdates":
		f.getUpdates(w, r)
	case "sendMessage", "editMessageText", "sendMessageDraft":
		f.message(w, method, r)
	default:
		tgErr(w, http.StatusNotFound, "Not Found: method not found", 0)
	}
}

func tgOK(w http.ResponseWriter, result string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"result":%s}`, result)
}

func tgErr(w http.ResponseWriter, code int, desc string, retryAfter int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	params := ""
	if retryAfter > 0 {
		params = fmt.Sprintf(`,"parameters":{"retry_after":%d}`, retryAfter)
	}
	fmt.Fprintf(w, `{"ok":false,"error_code":%d,"description":%q%s}`, code, desc, params)
}

// getUpdates confirms the updates below offset and returns up to limit
// (default 100) pending ones, blocking up to timeout seconds for the first.
func (f *tgFake) getUpdates(w http.ResponseWriter, r *http.Request) {
	f.pollOnce.Do(func() { close(f.polled) })
	p := r.PostForm
	offset, _ := strconv.Atoi(p.Get("offset"))
	timeout, _ := strconv.Atoi(p.Get("timeout"))
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	deadline := time.NewTimer(time.Duration(min(timeout, 60)) * time.Second)
	defer deadline.Stop()
	for {
		f.umu.Lock()
		if offset > f.firstID {
			n := min(offset-f.firstID, len(f.pending))
			f.pending = f.pending[n:]
			f.firstID += n
		}
		if len(f.pending) > 0 {
			n := min(len(f.pending), limit)
			var b strings.Builder
			b.WriteByte('[')
			for i, u := range f.pending[:n] {
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(u)
			}
			b.WriteByte(']')
			f.umu.Unlock()
			tgOK(w, b.String())
			return
		}
		ch := f.changed
		f.umu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		case <-deadline.C:
			tgOK(w, "[]")
			return
		}
	}
}

// visibleText parses Telegram HTML (the tags the bridge uses and the four
// named entities plus numeric ones) into the text a user sees.
func visibleText(raw, mode string) (string, error) {
	if mode == "" {
		return raw, nil
	}
	if mode != "HTML" {
		return "", fmt.Errorf("unsupported parse_mode")
	}
	var b strings.Builder
	for raw != "" {
		i := strings.IndexByte(raw, '<')
		if i < 0 {
			b.WriteString(raw)
			break
		}
		b.WriteString(raw[:i])
		j := strings.IndexByte(raw[i:], '>')
		if j < 0 {
			return "", fmt.Errorf("can't find end of the tag at byte offset %d", i)
		}
		raw = raw[i+j+1:]
	}
	return html.UnescapeString(b.String()), nil
}

// message implements sendMessage, editMessageText and sendMessageDraft.
func (f *tgFake) message(w http.ResponseWriter, method string, r *http.Request) {
	arrival := time.Now()
	p := r.PostForm
	id, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	c := f.chats[id]
	if err != nil || c == nil {
		f.badRequests.Add(1)
		tgErr(w, http.StatusBadRequest, "Bad Request: chat not found", 0)
		return
	}
	raw, mode := p.Get("text"), p.Get("parse_mode")
	visible, err := visibleText(raw, mode)
	if err != nil {
		f.badRequests.Add(1)
		tgErr(w, http.StatusBadRequest, "Bad Request: can't parse entities: "+err.Error(), 0)
		return
	}
	draft := method == "sendMessageDraft"
	if draft {
		if c.group {
			f.badRequests.Add(1)
			tgErr(w, http.StatusBadRequest, "Bad Request: drafts can be sent only to private chats", 0)
			return
		}
		if d, _ := strconv.ParseInt(p.Get("draft_id"), 10, 64); d == 0 {
			f.badRequests.Add(1)
			tgErr(w, http.StatusBadRequest, "Bad Request: draft_id must be non-zero", 0)
			return
		}
	} else if strings.TrimSpace(visible) == "" {
		f.badRequests.Add(1)
		tgErr(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	}
	if len(utf16.Encode([]rune(visible))) > 4096 {
		f.badRequests.Add(1)
		tgErr(w, http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}

	c.mu.Lock()
	var m *botMsg
	rep := c.cur
	if method == "editMessageText" {
		mid, _ := strconv.Atoi(p.Get("message_id"))
		m = c.msgs[mid]
		if m == nil {
			c.mu.Unlock()
			f.badRequests.Add(1)
			tgErr(w, http.StatusBadRequest, "Bad Request: message to edit not found", 0)
			return
		}
		rep = m.rep
		if m.raw == raw && m.mode == mode {
			if rep != nil {
				rep.lastReq = time.Now()
			}
			c.mu.Unlock()
			f.notModified.Add(1)
			tgErr(w, http.StatusBadRequest, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message", 0)
			return
		}
	}
	if ra := f.floodLocked(c, arrival, draft); ra > 0 {
		if rep != nil {
			rep.n429++
			rep.lastReq = time.Now()
		}
		c.mu.Unlock()
		f.n429.Add(1)
		tgErr(w, http.StatusTooManyRequests, fmt.Sprintf("Too Many Requests: retry after %d", ra), ra)
		return
	}
	var result string
	switch method {
	case "sendMessage":
		c.nextMsg++
		m = &botMsg{rep: rep}
		c.msgs[c.nextMsg] = m
		if rep != nil {
			rep.msgs = append(rep.msgs, m)
		}
		result = fmt.Sprintf(`{"message_id":%d,"date":%d,"chat":{"id":%d,"type":"private"},"text":""}`, c.nextMsg, arrival.Unix(), c.id)
	case "editMessageText":
		result = fmt.Sprintf(`{"message_id":%s,"date":%d,"chat":{"id":%d,"type":"private"},"text":""}`, p.Get("message_id"), arrival.Unix(), c.id)
	default:
		result = "true"
	}
	if m != nil {
		m.raw, m.mode, m.visible = raw, mode, visible
	}
	if rep == nil {
		f.other.Add(1)
	} else {
		rep.request(arrival, method, visible, mode == "HTML", m)
		rep.lastReq = time.Now()
	}
	c.mu.Unlock()
	tgOK(w, result)
}

// floodLocked applies the flood rules to one request in c at now; it
// returns the retry_after to answer, or 0 when the request is allowed (and
// counted). c.mu is held.
func (f *tgFake) floodLocked(c *chat, now time.Time, draft bool) int {
	retry := func(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }
	f.gmu.Lock()
	defer f.gmu.Unlock()
	f.demand.prune(now, botWindow)
	f.demand.t = append(f.demand.t, now)
	if draft && !f.draftCost {
		return 0
	}
	f.bot.prune(now, botWindow)
	if len(f.bot.t) >= f.botMax {
		return retry(f.bot.t[0].Add(botWindow).Sub(now))
	}
	if !draft {
		if c.group {
			c.hits.prune(now, groupWindow)
			if len(c.hits.t) >= groupMax {
				return retry(c.hits.t[0].Add(groupWindow).Sub(now))
			}
			c.hits.t = append(c.hits.t, now)
		} else {
			c.tokens = math.Min(privateBurst, c.tokens+float64(now.Sub(c.tokAt))/float64(privateEvery))
			c.tokAt = now
			if c.tokens < 1 {
				return retry(time.Duration((1 - c.tokens) * float64(privateEvery)))
			}
			c.tokens--
		}
	}
	f.bot.t = append(f.bot.t, now)
	return 0
}

// windowOpenLocked reports whether a request for rep in c could go at now
// without waiting: the reply's own interval since its previous request has
// passed, the chat's rule has room, and the bot-wide budget has headroom.
// c.mu is held.
func (f *tgFake) windowOpenLocked(i int, rep *replyRec, now time.Time) bool {
	c := f.chats[chatID(i, f.group)]
	draftMode := f.drafts && !c.group && len(rep.msgs) == 0
	iv := f.editIv
	if draftMode {
		iv = f.draftIv
	}
	if !rep.lastReq.IsZero() && now.Sub(rep.lastReq) < iv {
		return false
	}
	if !draftMode || f.draftCost {
		if c.group {
			n := 0
			for _, t := range c.hits.t {
				if t.After(now.Add(-groupWindow)) {
					n++
				}
			}
			if n >= groupMax {
				return false
			}
		} else if math.Min(privateBurst, c.tokens+float64(now.Sub(c.tokAt))/float64(privateEvery)) < 1 {
			return false
		}
	}
	f.gmu.Lock()
	defer f.gmu.Unlock()
	f.demand.prune(now, botWindow)
	return float64(len(f.demand.t)) < headroom*float64(f.botMax)
}
