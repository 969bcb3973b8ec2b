// Package slacktest is an importable fake of Slack, in the manner of
// net/http/httptest: one wire model of the Web API methods the bridge's
// Slack adapter uses, a Socket Mode WebSocket, Slack's rate limits, and
// helpers that deliver Events API requests and slash commands to the
// bridge's HTTP endpoints, signed as Slack signs them. The adapter's
// tests, cmd/bridge's end-to-end tests and cmd/bridge-load all use it.
//
// Everything is served under a path prefix (Options.Prefix, "/slack" by
// default): the Web API at PREFIX/api/<method> (the adapter's api_url is
// APIURL()), the Socket Mode WebSocket at PREFIX/ws/. The fake keeps a
// timeline per channel of what a user would see: every message the bot
// posted, each of its versions in order, its current visible text and
// blocks, streams and deletions (Messages, Timeline). users.info and
// conversations.replies answer from the users and the people's messages
// a test adds (AddUser, AddMessage; users.go); thread statuses are kept
// (Statuses).
//
// Rate limits (Options.RateLimits; off by default, for unit tests) are
// Slack's: chat.postMessage about one a second per channel with short
// bursts (a token bucket, 1/s, 3 deep), chat.update Tier 3 (50 in any
// minute per workspace), chat.appendStream Tier 4 (100 a minute per
// workspace). Over a limit the answer is HTTP 429 with an integer
// Retry-After and {"ok":false,"error":"ratelimited"}, and the request has
// no effect.
//
// Package slacktest imports only the standard library,
// github.com/gorilla/websocket and the fakes' shared fault queue
// (bridges/internal/platformtest); it must not import bridges, so that it
// models Slack and not the bridge's idea of it.
package slacktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/chat-bridge/chat-bridge/bridges/internal/platformtest"
)

// Defaults of Options.
const (
	DefaultBotToken = "xoxb-test-token"
	DefaultAppToken = "xapp-test-token"
	DefaultTeamID   = "T1"
	DefaultTeam     = "Test Team"
	DefaultBotUser  = "UBOT"
	DefaultBotID    = "BBOT"
	DefaultBotName  = "bridgebot"
	DefaultAppID    = "A1"
)

// Slack's message limits as the fake enforces them.
const (
	// MaxText is the most characters of `text` chat.postMessage and
	// chat.update take before answering msg_too_long (as seen in
	// practice; Slack's documented truncation is at 40,000).
	MaxText = 4000
	// MaxMarkdown is the most characters of markdown_text a streaming
	// method takes.
	MaxMarkdown = 12000
)

// Options configure a fake. The zero value is a workspace T1 with bot
// UBOT, default tokens, prefix "/slack" and no rate limits.
type Options struct {
	// Prefix is the path prefix everything is served under; it must
	// start with "/" and not end with one. Empty means "/slack".
	Prefix string
	// BotToken and AppToken are the tokens the fake accepts: the bot
	// token on every Web API method, the app token on
	// apps.connections.open. Empty means DefaultBotToken/AppToken.
	BotToken, AppToken string
	// TeamID, Team, BotUser, BotID, BotName describe the workspace and
	// the bot user (auth.test). Empty means the Default… values.
	TeamID, Team, BotUser, BotID, BotName string
	// RateLimits turns Slack's rate limits on (Limits, or DefaultLimits
	// when zero). Off: every request is allowed.
	RateLimits bool
	Limits     Limits
	// PingEvery is how often the fake pings each Socket Mode connection
	// (slack-go reconnects after 30 s without a ping). Zero means 1 s.
	PingEvery time.Duration
	// Now is the clock of the rate limits and timelines; nil means
	// time.Now.
	Now func() time.Time
	// Observe, when set, is called once for every Web API request after
	// it took effect (or was refused) and before its answer is written,
	// with no lock of the fake held. Calls for concurrent requests may
	// arrive in any order.
	Observe func(Call)
}

// Call is one Web API request as the fake answered it.
type Call struct {
	At     time.Time // when it arrived
	Method string
	Form   url.Values
	// Error is the ok:false error code ("" when ok), "ratelimited" for a
	// 429; Status the HTTP status.
	Error  string
	Status int
	// RetryAfter is the Retry-After of a 429.
	RetryAfter time.Duration
	// Scope is what a 429 was counted against: "channel" or "workspace".
	Scope string
	// Message is the bot message the request made or changed, as it is
	// now (nil when none).
	Message *Message
}

// Message is one message the bot made, as Slack shows it.
type Message struct {
	Channel, TS, ThreadTS string
	// Text is the mrkdwn text (chat.postMessage, chat.update).
	Text string
	// Markdown is the streamed markdown (chat.startStream, appendStream,
	// stopStream); it shows while the message's blocks hold it.
	Markdown string
	// Blocks is the JSON of the message's blocks as the bot last set
	// them ("" for none): chat.postMessage's and chat.update's blocks
	// (which replace a stream's markdown), the blocks chat.stopStream
	// adds at the bottom.
	Blocks    string
	Streaming bool // made by chat.startStream
	Stopped   bool // chat.stopStream ended it
	Deleted   bool
	// Versions are the visible texts after each request that changed
	// the message, in order; the first is what was posted.
	Versions []string
}

// Visible is what a user sees: nothing once deleted, the streamed
// markdown while the message's blocks hold it, else the text.
func (m Message) Visible() string {
	switch {
	case m.Deleted:
		return ""
	case m.Markdown != "":
		return m.Markdown
	}
	return m.Text
}

// Fault is a scripted answer to a Web API method (see Fail).
type Fault struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Error is the ok:false error code; empty means "ratelimited" with
	// status 429, "internal_error" otherwise.
	Error string
	// RetryAfter sets the Retry-After header (whole seconds, rounded up).
	RetryAfter time.Duration
	// Hangup closes the connection without an answer: the client sees a
	// network error.
	Hangup bool
}

// Server is a fake Slack. It is an http.Handler for everything under its
// prefix; NewServer also starts it on a loopback httptest server.
type Server struct {
	opts Options
	// URL is the base URL of the httptest server (NewServer only).
	URL string
	srv *httptest.Server

	mu        sync.Mutex
	seq       int
	msgs      []*Message
	timeline  []Event
	reqs      []Call
	faults    platformtest.Faults[Fault]
	reactions []string
	methods   map[string]int
	errors    map[string]int // "method error" → count
	limited   map[string]int // "method scope" → 429s
	users     map[string]User
	userMsgs  []UserMessage
	statuses  []Status

	lim limiter

	ws wsState
}

// Event is one change a user would see in a channel.
type Event struct {
	At       time.Time
	Method   string // chat.postMessage, chat.update, chat.startStream, …, chat.delete, reactions.add
	Channel  string
	TS       string // the bot message's ts (reactions: the message reacted to)
	ThreadTS string
	Visible  string // the message's visible text after the change
}

// New returns a fake that is not listening; mount it on a mux under its
// prefix (Options.Prefix) and pass the mux's base URL to APIURLAt.
func New(opts Options) *Server {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.Prefix, "/slack")
	def(&opts.BotToken, DefaultBotToken)
	def(&opts.AppToken, DefaultAppToken)
	def(&opts.TeamID, DefaultTeamID)
	def(&opts.Team, DefaultTeam)
	def(&opts.BotUser, DefaultBotUser)
	def(&opts.BotID, DefaultBotID)
	def(&opts.BotName, DefaultBotName)
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits
	}
	if opts.PingEvery == 0 {
		opts.PingEvery = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, methods: map[string]int{},
		errors: map[string]int{}, limited: map[string]int{},
	}
	s.lim.init(opts.Limits)
	s.ws.init()
	return s
}

// NewServer starts a fake on a loopback httptest server. Close it.
func NewServer(opts Options) *Server {
	s := New(opts)
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close closes every Socket Mode connection, stops the pings and, for
// NewServer, the httptest server.
func (s *Server) Close() {
	s.closeSockets()
	if s.srv != nil {
		s.srv.Close()
	}
}

// Options returns the options in effect (defaults filled in).
func (s *Server) Options() Options { return s.opts }

// APIURL is the Web API base URL with its trailing slash, for the
// adapter's api_url (NewServer only).
func (s *Server) APIURL() string { return s.APIURLAt(s.URL) }

// APIURLAt is the Web API base URL for a fake mounted at base.
func (s *Server) APIURLAt(base string) string { return base + s.opts.Prefix + "/api/" }

// ServeHTTP serves the Web API and the Socket Mode WebSocket.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.opts.Prefix+"/")
	switch {
	case ok && rest == "ws/":
		s.socket(w, r)
	case ok && strings.HasPrefix(rest, "api/"):
		s.api(w, r, strings.TrimPrefix(rest, "api/"))
	default:
		http.NotFound(w, r)
	}
}

// Fail makes the next n calls of method answer f (after the token check).
func (s *Server) Fail(method string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(method, max(n, 0), f)
}

// ClearFaults drops the faults still queued for method.
func (s *Server) ClearFaults(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Clear(method)
}

// Requests returns the Web API requests of method ("" for all), in
// arrival order, refused ones included.
func (s *Server) Requests(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return filter(s.reqs, func(c Call) bool { return method == "" || c.Method == method })
}

// filter returns the elements of all that keep holds for, in order.
func filter[T any](all []T, keep func(T) bool) []T {
	var out []T
	for _, v := range all {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// Count returns how many requests of method arrived.
func (s *Server) Count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.methods[method]
}

// Counts returns the requests per method.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.methods)
}

// Errors returns the ok:false answers by "method error" ("chat.update
// message_not_found"), 429s included as "method ratelimited".
func (s *Server) Errors() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.errors)
}

// Limited returns the 429s by "method scope" ("chat.update workspace",
// "chat.postMessage channel").
func (s *Server) Limited() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.limited)
}

// TooMany returns the number of 429s answered.
func (s *Server) TooMany() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.limited {
		n += v
	}
	return n
}

func clone(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Messages returns copies of the bot's messages in channel (and thread,
// when not empty; "-" for top level only), in posting order, deleted
// ones included.
func (s *Server) Messages(channel, thread string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.Channel == channel && (thread == "" || m.ThreadTS == thread || thread == "-" && m.ThreadTS == "") {
			c := *m
			c.Versions = slices.Clone(m.Versions)
			out = append(out, c)
		}
	}
	return out
}

// Visible returns what a user sees of the bot's messages in channel
// (and thread, as in Messages): the visible texts of the messages not
// deleted, in order.
func (s *Server) Visible(channel, thread string) []string {
	var out []string
	for _, m := range s.Messages(channel, thread) {
		if !m.Deleted {
			out = append(out, m.Visible())
		}
	}
	return out
}

// Timeline returns every change a user saw in channel ("" for all), in
// order.
func (s *Server) Timeline(channel string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return filter(s.timeline, func(e Event) bool { return channel == "" || e.Channel == channel })
}

// Status is one assistant.threads.setStatus the bot made.
type Status struct {
	At                        time.Time
	Channel, ThreadTS, Status string
}

// Statuses returns the thread statuses the bot set, in order.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses)
}

// Reactions returns the reactions the bot added, as
// "channel/timestamp:name".
func (s *Server) Reactions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reactions)
}

// DeleteMessage deletes a bot message as a user (or an admin) would: it
// stays in Messages, marked Deleted, and chat.update of it answers
// message_not_found.
func (s *Server) DeleteMessage(channel, ts string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find(channel, ts)
	if m == nil {
		return false
	}
	m.Deleted = true
	s.timeline = append(s.timeline, Event{At: s.opts.Now(), Method: "user.delete", Channel: channel, TS: ts, ThreadTS: m.ThreadTS})
	return true
}

// NewTS returns a fresh message timestamp from the fake's one sequence
// ("1800000000.000001", …); user messages a test delivers may use it.
func (s *Server) NewTS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTSLocked()
}

func (s *Server) newTSLocked() string {
	s.seq++
	return fmt.Sprintf("1800000000.%06d", s.seq)
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.msgs {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// answer is what one request gets: a JSON body and a status.
type answer struct {
	status     int
	body       map[string]any
	retryAfter time.Duration
	hangup     bool
}

func okAnswer(fields map[string]any) answer {
	b := map[string]any{"ok": true}
	for k, v := range fields {
		b[k] = v
	}
	return answer{status: http.StatusOK, body: b}
}

func errAnswer(code string) answer {
	return answer{status: http.StatusOK, body: map[string]any{"ok": false, "error": code}}
}

func (s *Server) api(w http.ResponseWriter, r *http.Request, method string) {
	at := s.opts.Now()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeAnswer(w, errAnswer("invalid_form_data"))
		return
	}
	form := r.Form
	call := Call{At: at, Method: method, Form: form}
	s.mu.Lock()
	a := s.handleLocked(r, method, form, at, &call)
	call.Status = a.status
	if ok, _ := a.body["ok"].(bool); !ok && !a.hangup {
		call.Error, _ = a.body["error"].(string)
		s.errors[method+" "+call.Error]++
	}
	call.RetryAfter = a.retryAfter
	if call.Scope != "" {
		s.limited[method+" "+call.Scope]++
	}
	s.methods[method]++
	s.reqs = append(s.reqs, call)
	s.mu.Unlock()
	if s.opts.Observe != nil {
		s.opts.Observe(call)
	}
	if a.hangup {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	writeAnswer(w, a)
}

func writeAnswer(w http.ResponseWriter, a answer) {
	w.Header().Set("Content-Type", "application/json")
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(RetrySeconds(a.retryAfter)))
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(encode(a.body))
}

// encode writes a Web API answer as Slack does, "ok" first.
func encode(body map[string]any) []byte {
	ok, _ := body["ok"].(bool)
	b := []byte(`{"ok":` + strconv.FormatBool(ok))
	keys := make([]string, 0, len(body))
	for k := range body {
		if k != "ok" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, _ := json.Marshal(body[k])
		kb, _ := json.Marshal(k)
		b = append(append(append(append(b, ','), kb...), ':'), v...)
	}
	return append(b, '}', '\n')
}

// RetrySeconds rounds a wait up to whole seconds, at least 1, as
// Retry-After carries it.
func RetrySeconds(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	return max(1, n)
}

// handleLocked answers one request; s.mu is held.
func (s *Server) handleLocked(r *http.Request, method string, form url.Values, at time.Time, call *Call) answer {
	// Authentication: apps.connections.open takes the app token as a
	// bearer token, every other method the bot token (form or bearer).
	auth := r.Header.Get("Authorization")
	if method == "apps.connections.open" {
		if auth != "Bearer "+s.opts.AppToken {
			return errAnswer("invalid_auth")
		}
	} else if form.Get("token") != s.opts.BotToken && auth != "Bearer "+s.opts.BotToken {
		if form.Get("token") == "" && auth == "" {
			return errAnswer("not_authed")
		}
		return errAnswer("invalid_auth")
	}
	if f, ok := s.faults.Next(method); ok {
		return faultAnswer(f)
	}
	switch method {
	case "auth.test":
		return okAnswer(map[string]any{"url": "https://" + strings.ToLower(strings.ReplaceAll(s.opts.Team, " ", "")) + ".slack.com/",
			"team": s.opts.Team, "user": s.opts.BotName, "team_id": s.opts.TeamID, "user_id": s.opts.BotUser, "bot_id": s.opts.BotID})
	case "apps.connections.open":
		return okAnswer(map[string]any{"url": s.wsURL(r)})
	case "assistant.threads.setStatus":
		if form.Get("thread_ts") == "" || form.Get("channel_id") == "" {
			return errAnswer("invalid_arguments")
		}
		s.statuses = append(s.statuses, Status{At: at, Channel: form.Get("channel_id"), ThreadTS: form.Get("thread_ts"), Status: form.Get("status")})
		return okAnswer(nil)
	case "users.info":
		return s.usersInfoLocked(form)
	case "conversations.replies":
		return s.repliesLocked(form)
	case "reactions.add":
		if form.Get("channel") == "" || form.Get("timestamp") == "" || form.Get("name") == "" {
			return errAnswer("invalid_arguments")
		}
		s.reactions = append(s.reactions, form.Get("channel")+"/"+form.Get("timestamp")+":"+form.Get("name"))
		s.timeline = append(s.timeline, Event{At: at, Method: method, Channel: form.Get("channel"), TS: form.Get("timestamp"), Visible: ":" + form.Get("name") + ":"})
		return okAnswer(nil)
	case "chat.postMessage", "chat.update", "chat.delete", "chat.startStream", "chat.appendStream", "chat.stopStream":
		return s.messageLocked(method, form, at, call)
	}
	return errAnswer("unknown_method")
}

func faultAnswer(f Fault) answer {
	a := answer{status: f.Status, retryAfter: f.RetryAfter, hangup: f.Hangup}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	code := f.Error
	if code == "" {
		code = "internal_error"
		if a.status == http.StatusTooManyRequests {
			code = "ratelimited"
		}
	}
	a.body = map[string]any{"ok": false, "error": code}
	return a
}

// messageLocked implements the methods that make or change a bot
// message: checks, then the rate limit, then the change.
func (s *Server) messageLocked(method string, form url.Values, at time.Time, call *Call) answer {
	ch := form.Get("channel")
	if ch == "" {
		return errAnswer("channel_not_found")
	}
	text, md := form.Get("text"), form.Get("markdown_text")
	var m *Message
	switch method {
	case "chat.postMessage":
		if strings.TrimSpace(text) == "" && form.Get("blocks") == "" {
			return errAnswer("no_text")
		}
	case "chat.startStream":
		if form.Get("thread_ts") == "" {
			return errAnswer("invalid_arguments")
		}
		if !strings.HasPrefix(ch, "D") && (form.Get("recipient_user_id") == "" || form.Get("recipient_team_id") == "") {
			return errAnswer("invalid_arguments")
		}
	default:
		if m = s.find(ch, form.Get("ts")); m == nil || m.Deleted {
			return errAnswer("message_not_found")
		}
		switch method {
		case "chat.update":
			if m.Streaming && !m.Stopped {
				return errAnswer("message_is_streaming")
			}
		case "chat.appendStream", "chat.stopStream":
			if !m.Streaming || m.Stopped {
				return errAnswer("message_not_in_streaming_state")
			}
		}
	}
	if utf8.RuneCountInString(text) > MaxText || utf8.RuneCountInString(md) > MaxMarkdown {
		return errAnswer("msg_too_long")
	}
	if s.opts.RateLimits {
		if d, scope := s.lim.take(method, ch, at); d > 0 {
			call.Scope = scope
			return answer{status: http.StatusTooManyRequests, retryAfter: d,
				body: map[string]any{"ok": false, "error": "ratelimited"}}
		}
	}
	switch method {
	case "chat.postMessage":
		m = &Message{Channel: ch, TS: s.newTSLocked(), ThreadTS: form.Get("thread_ts"), Text: text, Blocks: form.Get("blocks")}
		s.msgs = append(s.msgs, m)
	case "chat.startStream":
		m = &Message{Channel: ch, TS: s.newTSLocked(), ThreadTS: form.Get("thread_ts"), Markdown: md, Streaming: true}
		s.msgs = append(s.msgs, m)
	case "chat.update":
		m.Text = text
		if b, ok := form["blocks"]; ok {
			// New blocks replace the old, a stream's markdown with them.
			m.Markdown, m.Blocks = "", b[0]
			if m.Blocks == "[]" {
				m.Blocks = ""
			}
		}
	case "chat.appendStream":
		m.Markdown += md
	case "chat.stopStream":
		m.Markdown += md
		m.Stopped = true
		if b := form.Get("blocks"); b != "" {
			m.Blocks = b
		}
	case "chat.delete":
		m.Deleted = true
	}
	m.Versions = append(m.Versions, m.Visible())
	s.timeline = append(s.timeline, Event{At: at, Method: method, Channel: ch, TS: m.TS, ThreadTS: m.ThreadTS, Visible: m.Visible()})
	c := *m
	c.Versions = slices.Clone(m.Versions)
	call.Message = &c
	return okAnswer(map[string]any{"channel": ch, "ts": m.TS, "text": m.Text})
}

// wsState is the Socket Mode side.
type wsState struct {
	mu       sync.Mutex
	conns    []*wsConn // open connections, oldest first
	total    int       // connections ever accepted
	opens    atomic.Int64
	acks     map[string]time.Time // envelope ID → when its ack arrived
	sent     map[string]bool      // envelope IDs sent
	envSeq   int
	closed   bool
	pongs    int
	hello    chan struct{}
	helloed  sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type wsConn struct {
	c   *websocket.Conn
	wmu sync.Mutex
}

func (w *wsState) init() {
	w.acks = map[string]time.Time{}
	w.sent = map[string]bool{}
	w.hello = make(chan struct{})
	w.stop = make(chan struct{})
}
