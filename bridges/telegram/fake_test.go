package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// fakeAPI is a loopback Bot API server speaking the real wire protocol
// (form-encoded POSTs, JSON replies) under /tg/bot<token>/<method>. It
// implements long polling with offset confirmation, messages and edits
// with Telegram's HTML parsing and length rules, drafts, chat actions,
// commands and webhooks, and it enforces flood limits: a token bucket per
// private chat, a sliding window per group and a bot-wide window, counting
// sends and edits, answering 429 with retry_after when exceeded.
type fakeAPI struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	bot   tgbotapi.User

	mu         sync.Mutex
	changed    chan struct{} // closed when updates are queued or state changes
	pending    []queued
	all        []queued // every update ever queued
	nextUpdate int
	poller     chan struct{} // closed to end the in-flight getUpdates with 409
	webhookURL string
	hookSecret string
	hookClient *http.Client
	calls      []fakeCall
	msgs       map[int64][]*fakeMsg
	nextMsg    map[int64]int
	drafts     []fakeDraft
	faults     map[string][]fakeFault
	noDrafts   bool
	limits     fakeLimits
	buckets    map[int64]*bucket
	groupHits  map[int64][]time.Time
	globalHits []time.Time
	flood429   int // 429s answered by flood control
	commands   string
}

type queued struct {
	id  int
	raw json.RawMessage
}

type fakeCall struct {
	Method string
	Params url.Values
	At     time.Time
}

// fakeMsg is a message in a chat: the user's or the bot's.
type fakeMsg struct {
	ID        int
	Chat      int64
	Thread    int
	FromBot   bool
	Text      string // visible text
	Raw       string // as sent (HTML or plain)
	ParseMode string
	ReplyTo   int
	Edits     int
	Versions  []string // visible text of each version
}

type fakeDraft struct {
	Chat    int64
	DraftID string
	Thread  string
	Text    string
}

type fakeFault struct {
	code       int
	desc       string
	retryAfter int
	migrateTo  int64
}

// fakeLimits are the flood limits the fake enforces.
type fakeLimits struct {
	privateEvery time.Duration // token bucket refill, private chats
	privateBurst int           // bucket capacity
	groupMax     int           // per group, within groupWindow
	groupWindow  time.Duration
	globalMax    int // bot-wide, within globalWindow
	globalWindow time.Duration
}

// telegramLimits are Telegram's documented limits.
var telegramLimits = fakeLimits{
	privateEvery: time.Second, privateBurst: 3,
	groupMax: 20, groupWindow: time.Minute,
	globalMax: 30, globalWindow: time.Second,
}

type bucket struct {
	tokens float64
	at     time.Time
}

const testToken = "123456789:AAE-fake_SECRET-token-xyz"

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{
		t:       t,
		token:   testToken,
		bot:     tgbotapi.User{ID: 4242, IsBot: true, FirstName: "Test Bot", UserName: "test_bot"},
		changed: make(chan struct{}),
		msgs:    map[int64][]*fakeMsg{},
		nextMsg: map[int64]int{},
		faults:  map[string][]fakeFault{},
		limits:  telegramLimits,
		buckets: map[int64]*bucket{}, groupHits: map[int64][]time.Time{},
		nextUpdate: 1000,
		hookClient: &http.Client{Timeout: 10 * time.Second},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/tg/", f.serve)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// endpoint is the api_endpoint format for the adapter.
func (f *fakeAPI) endpoint() string { return f.srv.URL + "/tg/bot%s/%s" }

func (f *fakeAPI) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/tg/bot")
	tok, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
		return
	}
	f.mu.Lock()
	want := f.token
	f.mu.Unlock()
	if tok != want {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeErr(w, 400, "Bad Request: bad form", 0)
		return
	}
	p := r.PostForm
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: method, Params: p, At: time.Now()})
	if q := f.faults[method]; len(q) > 0 {
		ft := q[0]
		f.faults[method] = q[1:]
		f.mu.Unlock()
		if ft.migrateTo != 0 {
			writeJSON(w, ft.code, map[string]any{"ok": false, "error_code": ft.code, "description": ft.desc,
				"parameters": map[string]any{"migrate_to_chat_id": ft.migrateTo}})
			return
		}
		writeErr(w, ft.code, ft.desc, ft.retryAfter)
		return
	}
	f.mu.Unlock()
	switch method {
	case "getMe":
		f.mu.Lock()
		me := f.bot
		f.mu.Unlock()
		writeOK(w, me)
	case "getUpdates":
		f.getUpdates(w, r, p)
	case "sendMessage", "editMessageText":
		f.message(w, method, p)
	case "sendMessageDraft":
		f.draft(w, p)
	case "sendChatAction":
		if p.Get("chat_id") == "" || p.Get("action") == "" {
			writeErr(w, 400, "Bad Request: chat_id and action required", 0)
			return
		}
		writeOK(w, true)
	case "deleteMessage":
		writeOK(w, true)
	case "setMessageReaction":
		var rs []struct{ Type, Emoji string }
		if err := json.Unmarshal([]byte(p.Get("reaction")), &rs); err != nil || len(rs) != 1 ||
			rs[0].Type != "emoji" || !strings.Contains("👍👎❤🔥😢🤷👀🙏", rs[0].Emoji) || p.Get("message_id") == "" {
			writeErr(w, 400, "Bad Request: REACTION_INVALID", 0)
			return
		}
		writeOK(w, true)
	case "setMyCommands":
		var cmds []tgbotapi.BotCommand
		if err := json.Unmarshal([]byte(p.Get("commands")), &cmds); err != nil || len(cmds) == 0 {
			writeErr(w, 400, "Bad Request: can't parse commands", 0)
			return
		}
		f.mu.Lock()
		f.commands = p.Get("commands")
		f.mu.Unlock()
		writeOK(w, true)
	case "setWebhook":
		f.mu.Lock()
		f.webhookURL, f.hookSecret = p.Get("url"), p.Get("secret_token")
		if f.poller != nil {
			close(f.poller)
			f.poller = nil
		}
		f.mu.Unlock()
		writeOK(w, true)
	case "deleteWebhook":
		f.mu.Lock()
		f.webhookURL, f.hookSecret = "", ""
		f.mu.Unlock()
		writeOK(w, true)
	default:
		writeErr(w, 404, "Not Found: method not found", 0)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeOK(w http.ResponseWriter, result any) {
	writeJSON(w, 200, map[string]any{"ok": true, "result": result})
}

func writeErr(w http.ResponseWriter, code int, desc string, retryAfter int) {
	body := map[string]any{"ok": false, "error_code": code, "description": desc}
	if retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	writeJSON(w, code, body)
}

// getUpdates implements long polling: updates below offset are confirmed
// and forgotten; with none pending the request blocks up to timeout
// seconds; a newer getUpdates ends an older one with 409.
func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, p url.Values) {
	offset, _ := strconv.Atoi(p.Get("offset"))
	timeout, _ := strconv.Atoi(p.Get("timeout"))
	if au := p.Get("allowed_updates"); au != "" && au != "null" {
		var kinds []string
		if err := json.Unmarshal([]byte(au), &kinds); err != nil {
			writeErr(w, 400, "Bad Request: can't parse allowed_updates", 0)
			return
		}
	}
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	f.mu.Lock()
	if f.webhookURL != "" {
		f.mu.Unlock()
		writeErr(w, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 0)
		return
	}
	if f.poller != nil {
		close(f.poller)
	}
	mine := make(chan struct{})
	f.poller = mine
	if offset > 0 {
		i := 0
		for i < len(f.pending) && f.pending[i].id < offset {
			i++
		}
		f.pending = f.pending[i:]
	}
	for {
		if len(f.pending) > 0 {
			n := min(len(f.pending), 100)
			out := make([]json.RawMessage, n)
			for i := range n {
				out[i] = f.pending[i].raw
			}
			if f.poller == mine {
				f.poller = nil
			}
			f.mu.Unlock()
			writeOK(w, out)
			return
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-mine:
			writeErr(w, 409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", 0)
			return
		case <-r.Context().Done():
			f.mu.Lock()
			if f.poller == mine {
				f.poller = nil
			}
			f.mu.Unlock()
			return
		case <-deadline.C:
			f.mu.Lock()
			if f.poller == mine {
				f.poller = nil
			}
			f.mu.Unlock()
			writeOK(w, []any{})
			return
		}
		f.mu.Lock()
	}
}

// floodLocked applies the flood limits to one send or edit in chat; it
// returns the retry_after to answer, or 0 when allowed (and counted).
func (f *fakeAPI) floodLocked(chat int64) int {
	now := time.Now()
	l := f.limits
	retry := func(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }
	// bot-wide window
	f.globalHits = pruneHits(f.globalHits, now.Add(-l.globalWindow))
	if len(f.globalHits) >= l.globalMax {
		f.flood429++
		return retry(f.globalHits[0].Add(l.globalWindow).Sub(now))
	}
	if chat > 0 {
		b := f.buckets[chat]
		if b == nil {
			b = &bucket{tokens: float64(l.privateBurst), at: now}
			f.buckets[chat] = b
		}
		b.tokens = math.Min(float64(l.privateBurst), b.tokens+float64(now.Sub(b.at))/float64(l.privateEvery))
		b.at = now
		if b.tokens < 1 {
			f.flood429++
			return retry(time.Duration((1 - b.tokens) * float64(l.privateEvery)))
		}
		b.tokens--
	} else {
		hits := pruneHits(f.groupHits[chat], now.Add(-l.groupWindow))
		f.groupHits[chat] = hits
		if len(hits) >= l.groupMax {
			f.flood429++
			return retry(hits[0].Add(l.groupWindow).Sub(now))
		}
		f.groupHits[chat] = append(hits, now)
	}
	f.globalHits = append(f.globalHits, now)
	return 0
}

func pruneHits(h []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(h) && !h[i].After(since) {
		i++
	}
	return h[i:]
}

// message implements sendMessage and editMessageText.
func (f *fakeAPI) message(w http.ResponseWriter, method string, p url.Values) {
	chat, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil {
		writeErr(w, 400, "Bad Request: chat not found", 0)
		return
	}
	raw, mode := p.Get("text"), p.Get("parse_mode")
	visible := raw
	switch mode {
	case "":
	case "HTML":
		v, perr := parseTelegramHTML(raw)
		if perr != nil {
			writeErr(w, 400, "Bad Request: can't parse entities: "+perr.Error(), 0)
			return
		}
		visible = v
	default:
		writeErr(w, 400, "Bad Request: unsupported parse_mode", 0)
		return
	}
	if strings.TrimSpace(visible) == "" {
		writeErr(w, 400, "Bad Request: message text is empty", 0)
		return
	}
	if len(utf16.Encode([]rune(visible))) > 4096 {
		writeErr(w, 400, "Bad Request: message is too long", 0)
		return
	}
	if lpo := p.Get("link_preview_options"); lpo != "" {
		var v map[string]any
		if json.Unmarshal([]byte(lpo), &v) != nil {
			writeErr(w, 400, "Bad Request: can't parse link preview options", 0)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if method == "editMessageText" {
		id, _ := strconv.Atoi(p.Get("message_id"))
		m := f.findLocked(chat, id)
		if m == nil || !m.FromBot {
			writeErr(w, 400, "Bad Request: message to edit not found", 0)
			return
		}
		if m.Raw == raw && m.ParseMode == mode {
			writeErr(w, 400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message", 0)
			return
		}
		if ra := f.floodLocked(chat); ra > 0 {
			writeErr(w, 429, fmt.Sprintf("Too Many Requests: retry after %d", ra), ra)
			return
		}
		m.Raw, m.Text, m.ParseMode = raw, visible, mode
		m.Edits++
		m.Versions = append(m.Versions, visible)
		writeOK(w, f.jsonMsgLocked(m))
		return
	}
	thread, _ := strconv.Atoi(p.Get("message_thread_id"))
	replyTo := 0
	if rp := p.Get("reply_parameters"); rp != "" {
		var v struct {
			MessageID int  `json:"message_id"`
			Allow     bool `json:"allow_sending_without_reply"`
		}
		if err := json.Unmarshal([]byte(rp), &v); err != nil || v.MessageID == 0 {
			writeErr(w, 400, "Bad Request: can't parse reply parameters", 0)
			return
		}
		if f.findLocked(chat, v.MessageID) == nil && !v.Allow {
			writeErr(w, 400, "Bad Request: message to be replied not found", 0)
			return
		}
		replyTo = v.MessageID
	}
	if ra := f.floodLocked(chat); ra > 0 {
		writeErr(w, 429, fmt.Sprintf("Too Many Requests: retry after %d", ra), ra)
		return
	}
	m := &fakeMsg{ID: f.newMsgIDLocked(chat), Chat: chat, Thread: thread, FromBot: true,
		Text: visible, Raw: raw, ParseMode: mode, ReplyTo: replyTo, Versions: []string{visible}}
	f.msgs[chat] = append(f.msgs[chat], m)
	writeOK(w, f.jsonMsgLocked(m))
}

func (f *fakeAPI) draft(w http.ResponseWriter, p url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noDrafts {
		writeErr(w, 404, "Not Found: method not found", 0)
		return
	}
	chat, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil || chat <= 0 {
		writeErr(w, 400, "Bad Request: drafts can be sent only to private chats", 0)
		return
	}
	if id, _ := strconv.ParseInt(p.Get("draft_id"), 10, 64); id == 0 {
		writeErr(w, 400, "Bad Request: draft_id must be non-zero", 0)
		return
	}
	if len(utf16.Encode([]rune(p.Get("text")))) > 4096 {
		writeErr(w, 400, "Bad Request: text is too long", 0)
		return
	}
	f.drafts = append(f.drafts, fakeDraft{Chat: chat, DraftID: p.Get("draft_id"), Thread: p.Get("message_thread_id"), Text: p.Get("text")})
	writeOK(w, true)
}

func (f *fakeAPI) findLocked(chat int64, id int) *fakeMsg {
	for _, m := range f.msgs[chat] {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (f *fakeAPI) newMsgIDLocked(chat int64) int {
	f.nextMsg[chat]++
	return f.nextMsg[chat]
}

func (f *fakeAPI) jsonMsgLocked(m *fakeMsg) map[string]any {
	typ := "private"
	if m.Chat < 0 {
		typ = "supergroup"
	}
	out := map[string]any{
		"message_id": m.ID, "date": time.Now().Unix(), "text": m.Text,
		"chat": map[string]any{"id": m.Chat, "type": typ},
		"from": map[string]any{"id": f.bot.ID, "is_bot": true, "first_name": f.bot.FirstName, "username": f.bot.UserName},
	}
	if m.Thread != 0 {
		out["message_thread_id"] = m.Thread
		out["is_topic_message"] = true
	}
	return out
}

// in describes an incoming user message.
type in struct {
	Chat     int64
	ChatType string // "private" (default for Chat > 0), "group", "supergroup"
	From     int64
	Name     string
	IsBot    bool
	Text     string
	Entities []tgbotapi.MessageEntity
	ReplyTo  int  // message ID replied to
	Thread   int  // forum topic
	Topic    bool // is_topic_message
	Raw      map[string]any
}

// queue adds an incoming message update and returns the message ID.
func (f *fakeAPI) queue(m in) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.ChatType == "" {
		m.ChatType = "private"
		if m.Chat < 0 {
			m.ChatType = "supergroup"
		}
	}
	if m.From == 0 {
		m.From = m.Chat
	}
	if m.Name == "" {
		m.Name = "user" + strconv.FormatInt(m.From, 10)
	}
	id := f.newMsgIDLocked(m.Chat)
	msg := map[string]any{
		"message_id": id, "date": time.Now().Unix(),
		"chat": map[string]any{"id": m.Chat, "type": m.ChatType, "title": "Group"},
		"from": map[string]any{"id": m.From, "is_bot": m.IsBot, "first_name": m.Name, "username": m.Name},
	}
	if m.Text != "" {
		msg["text"] = m.Text
	}
	if len(m.Entities) > 0 {
		msg["entities"] = m.Entities
	}
	if m.ReplyTo != 0 {
		r := map[string]any{"message_id": m.ReplyTo, "date": time.Now().Unix(), "chat": msg["chat"]}
		if orig := f.findLocked(m.Chat, m.ReplyTo); orig != nil && orig.FromBot {
			r["from"] = f.bot
			r["text"] = orig.Text
		} else {
			r["from"] = map[string]any{"id": 777, "is_bot": false, "first_name": "someone"}
		}
		msg["reply_to_message"] = r
	}
	if m.Thread != 0 {
		msg["message_thread_id"] = m.Thread
		if m.Topic {
			msg["is_topic_message"] = true
		}
	}
	for k, v := range m.Raw {
		msg[k] = v
	}
	f.msgs[m.Chat] = append(f.msgs[m.Chat], &fakeMsg{ID: id, Chat: m.Chat, Thread: m.Thread, Text: m.Text})
	f.queueLocked(map[string]any{"message": msg})
	return id
}

// queueLocked appends an update and returns its update_id.
func (f *fakeAPI) queueLocked(u map[string]any) int {
	f.nextUpdate++
	u["update_id"] = f.nextUpdate
	raw, err := json.Marshal(u)
	if err != nil {
		f.t.Fatalf("marshal update: %v", err)
	}
	if f.webhookURL != "" {
		go f.deliver(raw)
	} else {
		f.pending = append(f.pending, queued{id: f.nextUpdate, raw: raw})
	}
	f.all = append(f.all, queued{id: f.nextUpdate, raw: raw})
	f.notifyLocked()
	return f.nextUpdate
}

// redeliverFrom makes every update from id on pending again, as if
// Telegram had never received the confirming getUpdates.
func (f *fakeAPI) redeliverFrom(id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = nil
	for _, q := range f.all {
		if q.id >= id {
			f.pending = append(f.pending, q)
		}
	}
	f.notifyLocked()
}

// deliver posts a webhook update to the registered URL with the secret
// token, as Telegram does.
func (f *fakeAPI) deliver(raw []byte) {
	f.mu.Lock()
	u, secret := f.webhookURL, f.hookSecret
	f.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	resp, err := f.hookClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
}

// mention returns text with a mention entity of the bot at its start.
func mention(username, rest string) (string, []tgbotapi.MessageEntity) {
	s := "@" + username
	return s + " " + rest, []tgbotapi.MessageEntity{{Type: "mention", Offset: 0, Length: len(utf16.Encode([]rune(s)))}}
}

// command returns text with a bot_command entity at its start.
func command(cmd, rest string) (string, []tgbotapi.MessageEntity) {
	t := cmd
	if rest != "" {
		t += " " + rest
	}
	return t, []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: len(utf16.Encode([]rune(cmd)))}}
}

// --- accessors for assertions ---

func (f *fakeAPI) callsOf(method string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []url.Values
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c.Params)
		}
	}
	return out
}

// botMsgs returns copies of the bot's messages in chat.
func (f *fakeAPI) botMsgs(chat int64) []fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMsg
	for _, m := range f.msgs[chat] {
		if m.FromBot {
			c := *m
			c.Versions = append([]string(nil), m.Versions...)
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAPI) draftsOf(chat int64) []fakeDraft {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeDraft
	for _, d := range f.drafts {
		if d.Chat == chat {
			out = append(out, d)
		}
	}
	return out
}

func (f *fakeAPI) floodCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flood429
}

func (f *fakeAPI) pendingCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// fail makes the next n calls of method answer code/desc.
func (f *fakeAPI) fail(method string, n, code int, desc string, retryAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults[method] = append(f.faults[method], fakeFault{code: code, desc: desc, retryAfter: retryAfter})
	}
}

// waitFor polls cond (under no lock) until it holds or the deadline.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", d, what)
		case <-tick.C:
		}
	}
}

// parseTelegramHTML checks text the way Telegram parses parse_mode HTML
// (supported tags only, balanced, entities escaped) and returns the
// visible text.
func parseTelegramHTML(s string) (string, error) {
	allowed := map[string]bool{"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
		"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true, "a": true,
		"code": true, "pre": true, "blockquote": true, "tg-emoji": true}
	var out strings.Builder
	var stack []string
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return "", fmt.Errorf("unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+j]
			if strings.HasPrefix(tag, "/") {
				name := tag[1:]
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return "", fmt.Errorf("unexpected end tag at byte offset %d", i)
				}
				stack = stack[:len(stack)-1]
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				if !allowed[name] {
					return "", fmt.Errorf("unsupported start tag %q at byte offset %d", name, i)
				}
				if strings.ContainsAny(attrs, "<&") && !strings.Contains(attrs, "&amp;") && !strings.Contains(attrs, "&quot;") && !strings.Contains(attrs, "&lt;") && !strings.Contains(attrs, "&gt;") {
					return "", fmt.Errorf("bad attribute at byte offset %d", i)
				}
				if name == "pre" || name == "code" {
					for _, open := range stack {
						if open == "code" || (open == "pre" && name == "pre") {
							return "", fmt.Errorf("can't nest %s in %s", name, open)
						}
					}
				}
				stack = append(stack, name)
			}
			i += j + 1
		case '>':
			return "", fmt.Errorf("unexpected '>' at byte offset %d", i)
		case '&':
			j := strings.IndexByte(s[i:], ';')
			if j < 0 {
				return "", fmt.Errorf("character entity expected at byte offset %d", i)
			}
			ent := s[i+1 : i+j]
			switch {
			case ent == "lt":
				out.WriteByte('<')
			case ent == "gt":
				out.WriteByte('>')
			case ent == "amp":
				out.WriteByte('&')
			case ent == "quot":
				out.WriteByte('"')
			case strings.HasPrefix(ent, "#"):
				n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(ent[1:], "x"), "X"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(ent[1:], "x") || strings.HasPrefix(ent[1:], "X")], 32)
				if err != nil {
					return "", fmt.Errorf("bad numeric entity at byte offset %d", i)
				}
				out.WriteRune(rune(n))
			default:
				return "", fmt.Errorf("unsupported entity %q at byte offset %d", ent, i)
			}
			i += j + 1
		default:
			out.WriteByte(c)
			i++
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("can't find end tag corresponding to start tag %q", stack[len(stack)-1])
	}
	return out.String(), nil
}
