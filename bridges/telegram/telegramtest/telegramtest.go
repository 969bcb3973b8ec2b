// Package telegramtest is a loopback fake of the Telegram Bot API for
// tests and the load tool, in the manner of net/http/httptest: one wire
// model of the platform (form-encoded POSTs to <prefix>/bot<token>/<method>,
// JSON answers) with
//
//   - the methods the bridge uses: getMe, getUpdates (long polling with
//     offset confirmation, 409 for a second poller or an active webhook),
//     setWebhook/deleteWebhook/getWebhookInfo (webhook delivery with the
//     X-Telegram-Bot-Api-Secret-Token header), setMyCommands (a menu per
//     language_code, two-letter codes only), sendMessage,
//     editMessageText ("message is not modified"), sendMessageDraft,
//     sendChatAction, deleteMessage, setMessageReaction and getChatMember;
//   - Telegram's HTML parsing (a malformed text is refused with 400 "can't
//     parse entities") and its 4096-character limit;
//   - Telegram's flood limits (see Limits), switchable off;
//   - a timeline per chat of what a user sees: every message the bot
//     posted with each version in order, deletions and drafts;
//   - users' messages with their language_code, replies (reply_to_message
//     carries the original's author and text), media (In.Raw) and edits
//     (EditUser: an edited_message update);
//   - fault injection (Fail, FailWith) and counters (Stats).
//
// It imports only the standard library and the fakes' shared fault
// queue, bridges/internal/platformtest.
package telegramtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/chat-bridge/chat-bridge/bridges/internal/platformtest"
)

// DefaultToken is the bot token of a Server whose Options give none.
const DefaultToken = "123456789:AAE-fake_SECRET-token-xyz"

// User is a Telegram user (the bot's own, from getMe).
type User struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	UserName                string `json:"username,omitempty"`
	CanReadAllGroupMessages bool   `json:"can_read_all_group_messages,omitempty"`
}

// DefaultBot is the bot of a Server whose Options give none.
var DefaultBot = User{ID: 4242, IsBot: true, FirstName: "Test Bot", UserName: "test_bot"}

// Options configure a Server. The zero value is Telegram as it is.
type Options struct {
	// Token is the bot token the server accepts; empty means DefaultToken.
	Token string
	// Prefix is the URL path prefix of the API; empty means "/tg".
	Prefix string
	// Bot is what getMe answers; zero means DefaultBot.
	Bot User
	// Limits are the flood limits; zero means TelegramLimits.
	Limits Limits
	// NoLimits switches the flood limits off (unit tests).
	NoLimits bool
	// DraftsCount counts sendMessageDraft on the bot-wide window.
	DraftsCount bool
	// NoDrafts makes sendMessageDraft unknown, as on an old local Bot API
	// server (404 "Not Found: method not found").
	NoDrafts bool
	// MaxPollTimeout caps the timeout of getUpdates; zero means 50 s, as
	// Telegram does.
	MaxPollTimeout time.Duration
	// Now is the clock of the flood limits and message dates; nil means
	// time.Now.
	Now func() time.Time
	// HookClient posts webhook updates; nil means a client with a 10 s
	// timeout.
	HookClient *http.Client
	// OnRequest, when set, is called for every request once it is
	// answered, before the answer is written, with no lock of the server
	// held.
	OnRequest func(Request)
}

// Request is one request the server answered, as OnRequest sees it.
type Request struct {
	Method string
	// At is when the request arrived.
	At time.Time
	// Chat and MessageID are the chat_id and the message the request made
	// or changed (sendMessage, editMessageText); 0 when none.
	Chat      int64
	MessageID int
	// Text is the visible text and ParseMode the parse_mode of a
	// sendMessage, editMessageText or sendMessageDraft.
	Text      string
	ParseMode string
	// Status is the HTTP status answered; Description and RetryAfter are
	// the error's, Scope the limit a 429 came from.
	Status      int
	Description string
	RetryAfter  int
	Scope       string
}

// Message is a message in a chat, the user's or the bot's.
type Message struct {
	ID        int
	Chat      int64
	Thread    int
	FromBot   bool
	From      int64  // the user who wrote it (0 for the bot's)
	Name      string // the user's name
	Text      string // visible text now
	Raw       string // as sent (HTML or plain)
	ParseMode string
	ReplyTo   int
	Edits     int
	Versions  []string // visible text of each version, in order
	Deleted   bool
}

// Draft is one sendMessageDraft.
type Draft struct {
	Chat    int64
	DraftID string
	Thread  string
	Text    string
	At      time.Time
}

// Event is one step of a chat's timeline, as a user sees it.
type Event struct {
	At        time.Time
	Kind      string // "send", "edit", "delete", "draft", "user"
	MessageID int    // 0 for a draft
	Text      string // visible text after the event
}

// Call is one request as it arrived.
type Call struct {
	Method string
	Params url.Values
	At     time.Time
}

// Fault is an answer forced on a method by FailWith.
type Fault struct {
	// Code is the HTTP status and error_code.
	Code int
	// Description is Telegram's description.
	Description string
	// RetryAfter, when set, goes into parameters.retry_after.
	RetryAfter int
	// MigrateTo, when set, goes into parameters.migrate_to_chat_id.
	MigrateTo int64
	// Body, when set, is sent as is instead of the JSON error (an answer
	// without error_code, a proxy's HTML page).
	Body string
}

// Stats are the server's counters.
type Stats struct {
	// Methods counts requests per method, as they arrived.
	Methods map[string]int
	// TooMany counts 429s of the flood limits by scope (ScopeBot,
	// ScopePrivate, ScopeGroup); injected faults are not counted.
	TooMany     map[string]int
	NotModified int
	BadRequests int
}

// Server is a fake Bot API.
type Server struct {
	opts   Options
	prefix string
	now    func() time.Time
	lim    *limiter
	srv    *httptest.Server
	hooks  sync.WaitGroup

	mu         sync.Mutex
	token      string
	bot        User
	noDrafts   bool
	changed    chan struct{} // closed and replaced when updates are queued
	pending    []queued
	all        []queued
	nextUpdate int
	poller     chan struct{} // closed to end the in-flight getUpdates with 409
	polls      int           // getUpdates in flight
	polled     chan struct{} // closed at the first getUpdates
	pollOnce   sync.Once
	webhookURL string
	hookSecret string
	calls      []Call
	msgs       map[int64][]*Message
	nextMsg    map[int64]int
	drafts     []Draft
	timeline   map[int64][]Event
	faults     platformtest.Faults[Fault]
	commands   map[string]string // language_code → JSON of the last setMyCommands
	members    map[[2]int64]string
	userMsgs   map[[2]int64]map[string]any // the users' messages as queued, for EditUser
	stats      Stats
	closed     bool
}

type queued struct {
	id  int
	raw json.RawMessage
}

// New returns a server that is not listening: mount it (it is an
// http.Handler serving Prefix) on a server of your own.
func New(o Options) *Server {
	s := &Server{
		opts: o, prefix: o.Prefix, now: o.Now, token: o.Token, bot: o.Bot, noDrafts: o.NoDrafts,
		changed: make(chan struct{}), polled: make(chan struct{}),
		msgs: map[int64][]*Message{}, nextMsg: map[int64]int{}, timeline: map[int64][]Event{},
		members:  map[[2]int64]string{},
		commands: map[string]string{}, userMsgs: map[[2]int64]map[string]any{},
		nextUpdate: 1000,
		stats:      Stats{Methods: map[string]int{}, TooMany: map[string]int{}},
	}
	if s.prefix == "" {
		s.prefix = "/tg"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.token == "" {
		s.token = DefaultToken
	}
	if s.bot == (User{}) {
		s.bot = DefaultBot
	}
	l := o.Limits
	if l == (Limits{}) {
		l = TelegramLimits
	}
	s.lim = newLimiter(l, !o.NoLimits, o.DraftsCount)
	if s.opts.HookClient == nil {
		s.opts.HookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if s.opts.MaxPollTimeout <= 0 {
		s.opts.MaxPollTimeout = 50 * time.Second
	}
	return s
}

// NewServer returns a server listening on a loopback port. Close it when
// done.
func NewServer(o Options) *Server {
	s := New(o)
	mux := http.NewServeMux()
	mux.Handle(s.prefix+"/", s)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close stops a server made by NewServer, ends the long polls in flight
// and waits for webhook deliveries.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.notifyLocked()
	s.mu.Unlock()
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
	s.hooks.Wait()
}

// URL is the server's base URL (NewServer only).
func (s *Server) URL() string { return s.srv.URL }

// Endpoint is the api_endpoint format for the adapter: two %s, the token
// then the method (NewServer only).
func (s *Server) Endpoint() string { return s.srv.URL + s.prefix + "/bot%s/%s" }

// Token is the token the server accepts.
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// SetToken changes the token the server accepts (a revoked token).
func (s *Server) SetToken(t string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = t
}

// Bot is what getMe answers.
func (s *Server) Bot() User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bot
}

// SetBot changes what getMe answers.
func (s *Server) SetBot(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bot = u
}

// SetDrafts makes sendMessageDraft known (true) or unknown.
func (s *Server) SetDrafts(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noDrafts = !on
}

// SetChatMember sets what getChatMember answers for user in chat:
// "creator", "administrator", "member" (the default), "restricted",
// "left" or "kicked".
func (s *Server) SetChatMember(chat, user int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[[2]int64{chat, user}] = status
}

// Fail makes the next n requests of method answer code with desc (and
// retry_after when retryAfter > 0); n < 0 means every request until Heal.
func (s *Server) Fail(method string, n, code int, desc string, retryAfter int) {
	s.FailWith(method, n, Fault{Code: code, Description: desc, RetryAfter: retryAfter})
}

// FailWith makes the next n requests of method answer f; n < 0 means
// every request until Heal.
func (s *Server) FailWith(method string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(method, n, f)
}

// Heal removes every fault of method.
func (s *Server) Heal(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Clear(method)
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// answer is what a method handler decided; serve reports it and writes it.
type answer struct {
	status int
	result any // on success
	body   []byte
	req    Request
}

func ok(result any) answer { return answer{status: http.StatusOK, result: result} }

func apiErr(code int, desc string) answer {
	return answer{status: code, req: Request{Description: desc}}
}

func (a answer) write(w http.ResponseWriter, migrateTo int64) {
	if a.body != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		w.Write(a.body)
		return
	}
	if a.status == http.StatusOK {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": a.result})
		return
	}
	body := map[string]any{"ok": false, "error_code": a.status, "description": a.req.Description}
	params := map[string]any{}
	if a.req.RetryAfter > 0 {
		params["retry_after"] = a.req.RetryAfter
	}
	if migrateTo != 0 {
		params["migrate_to_chat_id"] = migrateTo
	}
	if len(params) > 0 {
		body["parameters"] = params
	}
	writeJSON(w, a.status, body)
}

// ServeHTTP serves the Bot API under the prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := s.now()
	rest, ok1 := strings.CutPrefix(r.URL.Path, s.prefix+"/bot")
	tok, method, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || (r.Method != http.MethodPost && r.Method != http.MethodGet) {
		apiErr(http.StatusNotFound, "Not Found").write(w, 0)
		return
	}
	if err := r.ParseForm(); err != nil {
		apiErr(http.StatusBadRequest, "Bad Request: bad form").write(w, 0)
		return
	}
	p := r.Form
	s.mu.Lock()
	want := s.token
	s.stats.Methods[method]++
	s.calls = append(s.calls, Call{Method: method, Params: p, At: at})
	var fault *Fault
	if tok == want {
		if f, ok := s.faults.Next(method); ok {
			fault = &f
		}
	}
	s.mu.Unlock()
	var a answer
	var migrateTo int64
	switch {
	case tok != want:
		a = apiErr(http.StatusUnauthorized, "Unauthorized")
	case fault != nil:
		a = apiErr(fault.Code, fault.Description)
		a.req.RetryAfter = fault.RetryAfter
		migrateTo = fault.MigrateTo
		if fault.Body != "" {
			a.body = []byte(fault.Body)
		}
	case method == "getUpdates":
		s.getUpdates(w, r, p, at)
		return
	default:
		a = s.handle(method, p, at)
	}
	a.req.Method, a.req.At, a.req.Status = method, at, a.status
	if a.req.Chat == 0 {
		a.req.Chat, _ = strconv.ParseInt(p.Get("chat_id"), 10, 64)
	}
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(a.req)
	}
	a.write(w, migrateTo)
}

func (s *Server) handle(method string, p url.Values, at time.Time) answer {
	switch method {
	case "getMe":
		return ok(s.Bot())
	case "sendMessage", "editMessageText":
		return s.message(method, p, at)
	case "sendMessageDraft":
		return s.draft(p, at)
	case "sendChatAction":
		if p.Get("chat_id") == "" || p.Get("action") == "" {
			return s.bad("Bad Request: chat_id and action required")
		}
		return ok(true)
	case "deleteMessage":
		return s.deleteMessage(p, at)
	case "setMessageReaction":
		var rs []struct{ Type, Emoji string }
		if err := json.Unmarshal([]byte(p.Get("reaction")), &rs); err != nil || len(rs) != 1 ||
			rs[0].Type != "emoji" || !strings.Contains("👍👎❤🔥😢🤷👀🙏", rs[0].Emoji) || p.Get("message_id") == "" {
			return s.bad("Bad Request: REACTION_INVALID")
		}
		return ok(true)
	case "setMyCommands":
		var cmds []struct {
			Command     string `json:"command"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal([]byte(p.Get("commands")), &cmds); err != nil || len(cmds) == 0 {
			return s.bad("Bad Request: can't parse commands")
		}
		for _, c := range cmds {
			if c.Command == "" || len(c.Command) > 32 || strings.ToLower(c.Command) != c.Command || c.Description == "" || len([]rune(c.Description)) > 256 {
				return s.bad("Bad Request: BOT_COMMAND_INVALID")
			}
		}
		// Telegram takes a two-letter ISO 639-1 code or none.
		lang := p.Get("language_code")
		if lang != "" && (len(lang) != 2 || strings.Trim(lang, "abcdefghijklmnopqrstuvwxyz") != "") {
			return s.bad("Bad Request: LANG_CODE_INVALID")
		}
		s.mu.Lock()
		s.commands[lang] = p.Get("commands")
		s.mu.Unlock()
		return ok(true)
	case "setWebhook":
		u := p.Get("url")
		if pu, err := url.Parse(u); u != "" && (err != nil || pu.Host == "") {
			return s.bad("Bad Request: bad webhook: invalid URL")
		}
		s.mu.Lock()
		s.webhookURL, s.hookSecret = u, p.Get("secret_token")
		if s.poller != nil {
			close(s.poller)
			s.poller = nil
		}
		s.mu.Unlock()
		return ok(true)
	case "getWebhookInfo":
		s.mu.Lock()
		defer s.mu.Unlock()
		pending := 0
		if s.webhookURL == "" {
			pending = len(s.pending)
		}
		return ok(map[string]any{"url": s.webhookURL, "has_custom_certificate": false, "pending_update_count": pending})
	case "deleteWebhook":
		s.mu.Lock()
		s.webhookURL, s.hookSecret = "", ""
		if p.Get("drop_pending_updates") == "true" {
			s.pending = nil
		}
		s.mu.Unlock()
		return ok(true)
	case "getChatMember":
		chat, err1 := strconv.ParseInt(p.Get("chat_id"), 10, 64)
		user, err2 := strconv.ParseInt(p.Get("user_id"), 10, 64)
		if err1 != nil || err2 != nil {
			return s.bad("Bad Request: chat not found")
		}
		s.mu.Lock()
		st := s.members[[2]int64{chat, user}]
		s.mu.Unlock()
		if st == "" {
			st = "member"
		}
		return ok(map[string]any{"status": st, "user": map[string]any{"id": user, "is_bot": false, "first_name": "user" + strconv.FormatInt(user, 10)}})
	default:
		return apiErr(http.StatusNotFound, "Not Found: method not found")
	}
}

func (s *Server) bad(desc string) answer {
	s.mu.Lock()
	s.stats.BadRequests++
	s.mu.Unlock()
	return apiErr(http.StatusBadRequest, desc)
}

// message implements sendMessage and editMessageText.
func (s *Server) message(method string, p url.Values, at time.Time) answer {
	chat, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil || chat == 0 {
		return s.bad("Bad Request: chat not found")
	}
	raw, mode := p.Get("text"), p.Get("parse_mode")
	visible := raw
	switch mode {
	case "":
	case "HTML":
		v, perr := VisibleHTML(raw)
		if perr != nil {
			return s.bad("Bad Request: can't parse entities: " + perr.Error())
		}
		visible = v
	default:
		return s.bad("Bad Request: unsupported parse_mode")
	}
	if strings.TrimSpace(visible) == "" {
		return s.bad("Bad Request: message text is empty")
	}
	if len(utf16.Encode([]rune(visible))) > 4096 {
		return s.bad("Bad Request: message is too long")
	}
	if lpo := p.Get("link_preview_options"); lpo != "" {
		var v map[string]any
		if json.Unmarshal([]byte(lpo), &v) != nil {
			return s.bad("Bad Request: can't parse link preview options")
		}
	}
	req := Request{Chat: chat, Text: visible, ParseMode: mode}
	if method == "editMessageText" {
		id, _ := strconv.Atoi(p.Get("message_id"))
		req.MessageID = id
		s.mu.Lock()
		m := s.findLocked(chat, id)
		if m == nil || !m.FromBot || m.Deleted {
			s.stats.BadRequests++
			s.mu.Unlock()
			return answer{status: 400, req: withDesc(req, "Bad Request: message to edit not found")}
		}
		if m.Raw == raw && m.ParseMode == mode {
			s.stats.NotModified++
			s.mu.Unlock()
			return answer{status: 400, req: withDesc(req, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")}
		}
		s.mu.Unlock()
		if a, limited := s.flood(req, at, false); limited {
			return a
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if m.Deleted {
			s.stats.BadRequests++
			return answer{status: 400, req: withDesc(req, "Bad Request: message to edit not found")}
		}
		m.Raw, m.Text, m.ParseMode = raw, visible, mode
		m.Edits++
		m.Versions = append(m.Versions, visible)
		s.timeline[chat] = append(s.timeline[chat], Event{At: at, Kind: "edit", MessageID: id, Text: visible})
		return answer{status: 200, result: s.jsonMsgLocked(m), req: req}
	}
	thread, _ := strconv.Atoi(p.Get("message_thread_id"))
	replyTo := 0
	if rp := p.Get("reply_parameters"); rp != "" {
		var v struct {
			MessageID int  `json:"message_id"`
			Allow     bool `json:"allow_sending_without_reply"`
		}
		if err := json.Unmarshal([]byte(rp), &v); err != nil || v.MessageID == 0 {
			return s.bad("Bad Request: can't parse reply parameters")
		}
		s.mu.Lock()
		found := s.findLocked(chat, v.MessageID) != nil
		s.mu.Unlock()
		if !found && !v.Allow {
			return s.bad("Bad Request: message to be replied not found")
		}
		replyTo = v.MessageID
	}
	if a, limited := s.flood(req, at, false); limited {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{ID: s.newMsgIDLocked(chat), Chat: chat, Thread: thread, FromBot: true,
		Text: visible, Raw: raw, ParseMode: mode, ReplyTo: replyTo, Versions: []string{visible}}
	s.msgs[chat] = append(s.msgs[chat], m)
	s.timeline[chat] = append(s.timeline[chat], Event{At: at, Kind: "send", MessageID: m.ID, Text: visible})
	req.MessageID = m.ID
	return answer{status: 200, result: s.jsonMsgLocked(m), req: req}
}

func withDesc(r Request, desc string) Request {
	r.Description = desc
	return r
}

// flood applies the flood limits; limited is true with the 429 to answer.
func (s *Server) flood(req Request, at time.Time, draft bool) (answer, bool) {
	ra, scope := s.lim.take(req.Chat, at, draft)
	if ra == 0 {
		return answer{}, false
	}
	s.mu.Lock()
	s.stats.TooMany[scope]++
	s.mu.Unlock()
	req.Description = fmt.Sprintf("Too Many Requests: retry after %d", ra)
	req.RetryAfter, req.Scope = ra, scope
	return answer{status: http.StatusTooManyRequests, req: req}, true
}

func (s *Server) draft(p url.Values, at time.Time) answer {
	s.mu.Lock()
	off := s.noDrafts
	s.mu.Unlock()
	if off {
		return apiErr(http.StatusNotFound, "Not Found: method not found")
	}
	chat, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil || chat <= 0 {
		return s.bad("Bad Request: drafts can be sent only to private chats")
	}
	if id, _ := strconv.ParseInt(p.Get("draft_id"), 10, 64); id == 0 {
		return s.bad("Bad Request: draft_id must be non-zero")
	}
	text := p.Get("text")
	if len(utf16.Encode([]rune(text))) > 4096 {
		return s.bad("Bad Request: text is too long")
	}
	req := Request{Chat: chat, Text: text}
	if a, limited := s.flood(req, at, true); limited {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drafts = append(s.drafts, Draft{Chat: chat, DraftID: p.Get("draft_id"), Thread: p.Get("message_thread_id"), Text: text, At: at})
	s.timeline[chat] = append(s.timeline[chat], Event{At: at, Kind: "draft", Text: text})
	return answer{status: 200, result: true, req: req}
}

func (s *Server) deleteMessage(p url.Values, at time.Time) answer {
	chat, _ := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	id, _ := strconv.Atoi(p.Get("message_id"))
	s.mu.Lock()
	m := s.findLocked(chat, id)
	if m == nil || m.Deleted {
		s.mu.Unlock()
		return s.bad("Bad Request: message to delete not found")
	}
	m.Deleted = true
	s.timeline[chat] = append(s.timeline[chat], Event{At: at, Kind: "delete", MessageID: id})
	s.mu.Unlock()
	return answer{status: 200, result: true, req: Request{Chat: chat, MessageID: id}}
}

func (s *Server) findLocked(chat int64, id int) *Message {
	for _, m := range s.msgs[chat] {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (s *Server) newMsgIDLocked(chat int64) int {
	s.nextMsg[chat]++
	return s.nextMsg[chat]
}

func chatType(chat int64) string {
	if chat < 0 {
		return "supergroup"
	}
	return "private"
}

func (s *Server) jsonMsgLocked(m *Message) map[string]any {
	out := map[string]any{
		"message_id": m.ID, "date": s.now().Unix(), "text": m.Text,
		"chat": map[string]any{"id": m.Chat, "type": chatType(m.Chat)},
		"from": map[string]any{"id": s.bot.ID, "is_bot": true, "first_name": s.bot.FirstName, "username": s.bot.UserName},
	}
	if m.Thread != 0 {
		out["message_thread_id"] = m.Thread
		out["is_topic_message"] = true
	}
	return out
}

// --- accessors ---

// Calls returns the parameters of every request of method, in order.
func (s *Server) Calls(method string) []url.Values {
	return callsOf(s, method, func(c Call) url.Values { return c.Params })
}

// CallTimes returns when each request of method arrived.
func (s *Server) CallTimes(method string) []time.Time {
	return callsOf(s, method, func(c Call) time.Time { return c.At })
}

// callsOf returns field of every request of method, in order.
func callsOf[T any](s *Server, method string, field func(Call) T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, field(c))
		}
	}
	return out
}

// BotMessages returns copies of the bot's messages in chat (deleted ones
// too, marked), in the order they were posted.
func (s *Server) BotMessages(chat int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs[chat] {
		if m.FromBot {
			c := *m
			c.Versions = append([]string(nil), m.Versions...)
			out = append(out, c)
		}
	}
	return out
}

// Visible returns what a user sees of the bot in chat now: the current
// text of each message not deleted, joined in order.
func (s *Server) Visible(chat int64) string {
	var b strings.Builder
	for _, m := range s.BotMessages(chat) {
		if !m.Deleted {
			b.WriteString(m.Text)
		}
	}
	return b.String()
}

// Drafts returns the drafts sent to chat, in order.
func (s *Server) Drafts(chat int64) []Draft {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Draft
	for _, d := range s.drafts {
		if d.Chat == chat {
			out = append(out, d)
		}
	}
	return out
}

// Timeline returns every event a user of chat saw, in order.
func (s *Server) Timeline(chat int64) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.timeline[chat]...)
}

// Commands returns the JSON of the last setMyCommands without a
// language_code (the default menu).
func (s *Server) Commands() string { return s.CommandsIn("") }

// CommandsIn returns the JSON of the last setMyCommands for language_code
// lang, "" when there was none.
func (s *Server) CommandsIn(lang string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commands[lang]
}

// CommandLanguages returns the language_codes setMyCommands was given a
// menu for, the default ("") included.
func (s *Server) CommandLanguages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.commands))
	for l := range s.commands {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Methods = make(map[string]int, len(s.stats.Methods))
	for k, v := range s.stats.Methods {
		st.Methods[k] = v
	}
	st.TooMany = make(map[string]int, len(s.stats.TooMany))
	for k, v := range s.stats.TooMany {
		st.TooMany[k] = v
	}
	return st
}

// Flood429 is how many 429s the flood limits answered, all scopes.
func (s *Server) Flood429() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.stats.TooMany {
		n += v
	}
	return n
}

// ChatHasRoom reports whether chat's own flood rule would let a
// sendMessage or editMessageText through at now (the load tool's "window
// open" test). It takes only the limiter's lock.
func (s *Server) ChatHasRoom(chat int64, now time.Time) bool { return s.lim.chatHasRoom(chat, now) }

// Demand is how many sendMessage, editMessageText and sendMessageDraft
// requests reached the flood check within the bot-wide window before now,
// accepted or not. It takes only the limiter's lock.
func (s *Server) Demand(now time.Time) int { return s.lim.recentDemand(now) }

// Limits are the limits the server enforces (when on).
func (s *Server) Limits() Limits {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	return s.lim.l
}

// SetLimits changes the limits from now on (the windows keep their
// requests).
func (s *Server) SetLimits(l Limits) {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	s.lim.l = l
}
