// Package discordtest is a loopback Discord for tests and the load tool,
// as net/http/httptest is for HTTP servers: one wire model of the parts
// of Discord the bridge uses.
//
//   - The REST API under a non-empty path prefix (APIPath), reached by
//     the adapter through its api_base_url: gateway discovery, identity,
//     slash-command registration, channels and roles, guilds and members
//     (guilds.go), messages (post, edit, delete, typing, reactions,
//     threads, a channel's history), interaction responses and
//     follow-ups.
//   - The gateway websocket (gateway.go): Hello, Identify → READY, Resume
//     → RESUMED (at READY's resume_gateway_url), heartbeats and ACKs,
//     dispatches, Op 1, Op 7, Op 9, close codes, shards.
//   - A timeline of what a user would see in each channel: the bot's
//     messages with every version of their text, deletions and threads
//     (Messages, Timeline).
//   - Discord's rate limits (ratelimit.go): per-route buckets of each
//     channel (or interaction token) and the global 50 requests per
//     second, with X-RateLimit-* headers and Discord's 429; switched off
//     with Options.NoRateLimits.
//   - Fault injection (Fail, RateLimit, Intercept) and counters (Counts,
//     TooMany, Requests) for tests and the load tool.
//
// Package discordtest imports only the standard library and
// gorilla/websocket; never bridges.
package discordtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// IDs the fake uses for the bot.
const (
	DefaultToken = "discordtest-token"
	BotID        = "900"
	AppID        = "901"
	BotRoleID    = "950" // the bot's managed role in every guild
	BotName      = "bridgebot"
)

// InteractionTTL is how long an interaction token may be used (Discord:
// 15 minutes).
const InteractionTTL = 15 * time.Minute

// Options configures a Server. The zero value is a usable fake with
// Discord's rate limits on.
type Options struct {
	// Prefix is the path every URL of the fake starts with; default
	// "/discord". The REST API is at Prefix+"/api/v9/", the gateway at
	// Prefix+"/gateway/".
	Prefix string
	// Token is the bot token without "Bot "; requests and Identify must
	// carry "Bot "+Token. Default DefaultToken.
	Token string
	// NoRateLimits switches the rate limits (and their headers) off.
	NoRateLimits bool
	// Limits overrides the rate limits; zero fields take Discord's.
	Limits Limits
	// HeartbeatInterval is sent in Hello; default 41.25 s.
	HeartbeatInterval time.Duration
	// Shards is the count GET /gateway/bot recommends; default 1.
	// MaxConcurrency is its session_start_limit.max_concurrency; default 1.
	Shards         int
	MaxConcurrency int
	// AppFlags are the application's flags (GET /applications/@me);
	// default 1<<18, the message content intent.
	AppFlags int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OnRequest, when set, is called after each REST request was
	// answered, outside the fake's lock (the load tool counts with it).
	OnRequest func(Request)
}

// Request is one REST request the fake answered.
type Request struct {
	Method string
	// Path is relative to APIPath, e.g. "channels/C1/messages".
	Path string
	// Query is the raw query string, e.g. "before=110&limit=5".
	Query string
	// Route is the route template, e.g.
	// "POST /channels/{channel}/messages" ("" for an unknown route).
	Route string
	// Major is the route's top-level resource (channel ID, interaction
	// token), "" for none.
	Major string
	Body  []byte
	At    time.Time
	// Status is the HTTP status answered; Scope the X-RateLimit-Scope of
	// a 429 ("user", "global", "shared").
	Status int
	Scope  string
	// Channel and MessageID are the channel and message the request made
	// or changed, when it did.
	Channel   string
	MessageID string
}

// Content returns the "content" of the request's JSON body (for an
// interaction callback, of its "data").
func (r Request) Content() string {
	var v struct {
		Content *string `json:"content"`
		Data    struct {
			Content string `json:"content"`
		} `json:"data"`
	}
	_ = json.Unmarshal(r.Body, &v)
	if v.Content != nil {
		return *v.Content
	}
	return v.Data.Content
}

// Decode decodes the request's JSON body into v.
func (r Request) Decode(v any) error { return json.Unmarshal(r.Body, v) }

// Message is one message the bot made, as users see it.
type Message struct {
	ID        string
	ChannelID string
	// Content is the current text; Versions every text it had, the first
	// when it was posted, then one per edit.
	Content  string
	Versions []string
	// ReplyTo is the message it replies to (message_reference).
	ReplyTo string
	// Interaction is the ID of the interaction whose response (Original)
	// or follow-up it is.
	Interaction string
	Original    bool
	Flags       int
	Deleted     bool
}

// Edits returns how many times the message was edited.
func (m Message) Edits() int { return max(0, len(m.Versions)-1) }

// Event is one change users see in a channel.
type Event struct {
	At time.Time
	// Kind is "post", "edit", "delete" or "thread" (a thread started from
	// MessageID; its ID is MessageID, as on Discord).
	Kind      string
	MessageID string
	Content   string
}

// Channel is what GET /channels/{id} answers for a channel the test
// added (AddChannel) or a thread the bot started. Unknown channels are
// guild text channels of guild "G1".
type Channel struct {
	ID       string `json:"id"`
	Type     int    `json:"type"` // 0 text, 1 DM, 11 public thread
	GuildID  string `json:"guild_id,omitempty"`
	ParentID string `json:"parent_id,omitempty"`
	OwnerID  string `json:"owner_id,omitempty"`
	Name     string `json:"name,omitempty"`
	// PermissionOverwrites are the channel's (threads use their
	// parent's).
	PermissionOverwrites []Overwrite `json:"permission_overwrites,omitempty"`
}

// interaction is an interaction the fake dispatched.
type interaction struct {
	id, token, channel string
	at                 time.Time
	original           string // message ID of the response, "" before the callback
}

// Server is the fake. It is an http.Handler serving every URL under
// Options.Prefix; NewServer also starts it on 127.0.0.1.
type Server struct {
	opts   Options
	prefix string
	api    string // prefix + "/api/v9/"
	srv    *httptest.Server

	mu           sync.Mutex
	changed      chan struct{}
	reqs         []Request
	msgs         map[string]*Message
	order        []string
	events       map[string][]Event // channel → timeline
	channels     map[string]Channel
	interactions map[string]*interaction // by token
	guilds       map[string]Guild
	members      map[string][]string       // guild/user → roles
	history      map[string][]historyEntry // channel → messages, oldest first
	nextID       int64
	reactions    []string
	counts       map[string]int64
	tooMany      map[string]int64
	faults       []*fault
	intercept    func(Request) (int, string, bool)
	appFlags     int64

	limits limiter
	gw     gatewayState
}

// New returns a fake that is not listening: mount it on a server of your
// own (it serves only URLs under Options.Prefix).
func New(opts Options) *Server {
	if opts.Prefix == "" {
		opts.Prefix = "/discord"
	}
	opts.Prefix = "/" + strings.Trim(opts.Prefix, "/")
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 41250 * time.Millisecond
	}
	if opts.Shards <= 0 {
		opts.Shards = 1
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = 1
	}
	if opts.AppFlags == 0 {
		opts.AppFlags = 1 << 18
	}
	s := &Server{
		opts:         opts,
		prefix:       opts.Prefix,
		api:          opts.Prefix + "/api/v9/",
		changed:      make(chan struct{}),
		msgs:         map[string]*Message{},
		events:       map[string][]Event{},
		channels:     map[string]Channel{},
		interactions: map[string]*interaction{},
		guilds:       map[string]Guild{},
		members:      map[string][]string{},
		history:      map[string][]historyEntry{},
		nextID:       1000,
		counts:       map[string]int64{},
		tooMany:      map[string]int64{},
		appFlags:     opts.AppFlags,
	}
	s.limits.init(opts.Limits)
	s.gw.init()
	return s
}

// NewServer returns a fake listening on 127.0.0.1; Close stops it.
func NewServer(opts Options) *Server {
	s := New(opts)
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the base URL of a server started by NewServer.
func (s *Server) URL() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.URL
}

// APIPath is the REST API's path prefix, e.g. "/discord/api/v9/".
func (s *Server) APIPath() string { return s.api }

// APIBase is the api_base_url for an adapter talking to a server started
// by NewServer.
func (s *Server) APIBase() string { return s.URL() + s.api }

// Token is the bot token the fake accepts (without "Bot ").
func (s *Server) Token() string { return s.opts.Token }

// Close drops every gateway connection and stops a server started by
// NewServer.
func (s *Server) Close() {
	s.DropAll()
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// Changed returns a channel that is closed at the next change of the
// fake's state (a request, a connection, a message).
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Wait waits until cond, called without the fake's lock, is true, and
// reports false if it was not within timeout.
func (s *Server) Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := s.Changed()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond()
		}
	}
}

// notifyLocked wakes waiters; s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Requests returns the REST requests answered so far that keep accepts
// (all with keep nil), in order.
func (s *Server) Requests(keep func(Request) bool) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Counts returns the number of requests answered per route.
func (s *Server) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// TooMany returns the number of 429 answers per X-RateLimit-Scope
// ("user" for route buckets, "global", "shared").
func (s *Server) TooMany() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.tooMany)
}

// Messages returns the bot's messages in channel that were not deleted,
// oldest first.
func (s *Server) Messages(channel string) []Message {
	return s.messagesWhere(func(m *Message) bool { return m.ChannelID == channel })
}

// InteractionMessages returns the response and follow-ups of an
// interaction that were not deleted, oldest first.
func (s *Server) InteractionMessages(interactionID string) []Message {
	return s.messagesWhere(func(m *Message) bool { return m.Interaction == interactionID })
}

// messagesWhere returns copies of the messages keep accepts that were not
// deleted, oldest first.
func (s *Server) messagesWhere(keep func(*Message) bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, id := range s.order {
		if m := s.msgs[id]; keep(m) && !m.Deleted {
			out = append(out, m.copy())
		}
	}
	return out
}

// Message returns the message with id, deleted or not.
func (s *Server) Message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok {
		return Message{}, false
	}
	return m.copy(), true
}

func (m *Message) copy() Message {
	c := *m
	c.Versions = append([]string(nil), m.Versions...)
	return c
}

// Timeline returns what happened in channel, in order.
func (s *Server) Timeline(channel string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events[channel]...)
}

// Threads returns the IDs of the threads the bot started from messages
// of channel, in order.
func (s *Server) Threads(channel string) []string {
	var out []string
	for _, e := range s.Timeline(channel) {
		if e.Kind == "thread" {
			out = append(out, e.MessageID)
		}
	}
	return out
}

// Reactions returns the reactions the bot added, as
// "channel/message:emoji".
func (s *Server) Reactions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reactions...)
}

// AddChannel makes GET /channels/{ch.ID} answer ch.
func (s *Server) AddChannel(ch Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[ch.ID] = ch
}

// SetAppFlags sets the application's flags.
func (s *Server) SetAppFlags(flags int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appFlags = flags
}

// AddMessage adds a message of the bot to channel without a request (a
// message posted before the test, e.g. by an earlier run) and returns
// its ID.
func (s *Server) AddMessage(channel, content string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.postLocked(&Message{ChannelID: channel, Content: content}, s.opts.Now()).ID
}

// Intercept, when f is not nil, asks f first about every REST request:
// when it returns ok the fake answers status and body (JSON) instead and
// the request has no effect. f runs with the fake locked: it must not
// call the Server.
func (s *Server) Intercept(f func(Request) (status int, body string, ok bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = f
}

// fault is one injected failure.
type fault struct {
	route  string // a route template; "" matches every route
	n      int    // remaining; < 0 = forever
	status int
	body   string
	header http.Header
	scope  string
}

// Fail makes the next n requests on route (a template such as
// "PATCH /channels/{channel}/messages/{message}"; "" for any; n < 0 for
// all of them) fail with status and Discord's error body {code,
// message}, without effect.
func (s *Server) Fail(route string, n, status, code int, message string) {
	if n == 0 {
		return
	}
	b, _ := json.Marshal(map[string]any{"code": code, "message": message})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{route: route, n: n, status: status, body: string(b)})
}

// RateLimit makes the next n requests on route answer a 429 with
// retry_after, scope "user", "shared" or "global" (global also sets the
// body's "global" and X-RateLimit-Global), without effect.
func (s *Server) RateLimit(route string, n int, retryAfter time.Duration, scope string) {
	if n == 0 {
		return
	}
	h := http.Header{}
	global := scope == "global"
	setRetry(h, retryAfter, scope)
	if !global {
		h.Set("X-RateLimit-Limit", "5")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", retryAfter.Seconds()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{route: route, n: n, status: http.StatusTooManyRequests,
		body: limitedBody(retryAfter, global), header: h, scope: scope})
}

// takeFaultLocked returns the fault that answers r, if any.
func (s *Server) takeFaultLocked(r *Request) *fault {
	for i, f := range s.faults {
		if f.route != "" && f.route != r.Route {
			continue
		}
		if f.n > 0 {
			f.n--
			if f.n == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// apiError is Discord's error body.
func apiError(code int, message string) map[string]any {
	return map[string]any{"code": code, "message": message}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, s.api):
		s.rest(w, r)
	case r.URL.Path == s.prefix+"/gateway" || r.URL.Path == s.prefix+"/gateway/":
		s.gateway(w, r, false)
	case r.URL.Path == s.prefix+"/gateway-resume" || r.URL.Path == s.prefix+"/gateway-resume/":
		s.gateway(w, r, true)
	default:
		writeJSON(w, 404, apiError(0, "404: Not Found"))
	}
}

// routes are the REST routes the fake serves, as Discord documents
// them; {channel}, {guild} and {token} are the top-level resources that
// rate-limit buckets are kept per.
var routes = []string{
	"/gateway",
	"/gateway/bot",
	"/users/@me",
	"/users/@me/guilds",
	"/applications/@me",
	"/applications/{app}/commands",
	"/guilds/{guild}",
	"/guilds/{guild}/roles",
	"/guilds/{guild}/members/{user}",
	"/channels/{channel}",
	"/channels/{channel}/typing",
	"/channels/{channel}/messages",
	"/channels/{channel}/messages/{message}",
	"/channels/{channel}/messages/{message}/threads",
	"/channels/{channel}/messages/{message}/reactions/{emoji}/@me",
	"/interactions/{interaction}/{token}/callback",
	"/webhooks/{app}/{token}",
	"/webhooks/{app}/{token}/messages/{message}",
}

// route returns the route template of a request path (split at "/") and
// its top-level resource.
func route(method string, p []string) (string, string) {
	for _, tpl := range routes {
		segs := strings.Split(tpl[1:], "/")
		if len(segs) != len(p) {
			continue
		}
		major, ok := "", true
		for i, seg := range segs {
			switch seg {
			case "{channel}", "{guild}", "{token}":
				major = p[i]
			default:
				ok = ok && (strings.HasPrefix(seg, "{") || seg == p[i])
			}
		}
		if ok {
			return method + " " + tpl, major
		}
	}
	return "", ""
}

func (s *Server) rest(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	path := strings.TrimPrefix(r.URL.Path, s.api)
	p := strings.Split(path, "/")
	rt, major := route(r.Method, p)
	req := Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Route: rt, Major: major, Body: body}
	if r.Header.Get("Authorization") != "Bot "+s.opts.Token {
		// Unauthorised requests are not recorded: they carry no bot.
		writeJSON(w, 401, apiError(0, "401: Unauthorized"))
		return
	}
	s.mu.Lock()
	req.At = s.opts.Now()
	status, answer, scope := s.answerLocked(w, r, &req, p)
	req.Status, req.Scope = status, scope
	s.reqs = append(s.reqs, req)
	s.counts[rt]++
	if status == http.StatusTooManyRequests {
		s.tooMany[scope]++
	}
	s.notifyLocked()
	s.mu.Unlock()
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(req)
	}
	answer()
}

// answerLocked handles one authorised request: it applies it to the
// model and returns the status and a function writing the answer (run
// after the lock is released).
func (s *Server) answerLocked(w http.ResponseWriter, r *http.Request, req *Request, p []string) (int, func(), string) {
	reply := func(status int, v any) (int, func(), string) {
		return status, func() { writeJSON(w, status, v) }, ""
	}
	raw := func(status int, body string) (int, func(), string) {
		return status, func() { writeRaw(w, status, body) }, ""
	}
	if s.intercept != nil {
		if status, body, ok := s.intercept(*req); ok {
			return raw(status, body)
		}
	}
	if f := s.takeFaultLocked(req); f != nil {
		for k, v := range f.header {
			w.Header()[k] = v
		}
		return f.status, func() { writeRaw(w, f.status, f.body) }, f.scope
	}
	if !s.opts.NoRateLimits {
		if d, scope := s.limits.take(req, w.Header(), req.At); d > 0 {
			return http.StatusTooManyRequests, func() { writeRaw(w, http.StatusTooManyRequests, limitedBody(d, scope == "global")) }, scope
		}
	}
	rt := strings.TrimPrefix(req.Route, req.Method+" ")
	switch req.Method + " " + rt {
	case "GET /gateway":
		return reply(200, map[string]any{"url": s.gatewayURL(r, false)})
	case "GET /gateway/bot":
		return reply(200, map[string]any{"url": s.gatewayURL(r, false), "shards": s.opts.Shards,
			"session_start_limit": map[string]any{"total": 1000, "remaining": 1000, "reset_after": 0,
				"max_concurrency": s.opts.MaxConcurrency}})
	case "GET /users/@me":
		return reply(200, map[string]any{"id": BotID, "username": BotName, "bot": true})
	case "GET /users/@me/guilds":
		return reply(200, []map[string]any{{"id": "G1", "name": "one"}, {"id": "G2", "name": "two"}})
	case "GET /applications/@me":
		return reply(200, map[string]any{"id": AppID, "name": "bridge", "flags": s.appFlags})
	case "PUT /applications/{app}/commands":
		return raw(200, string(req.Body))
	case "GET /guilds/{guild}":
		return reply(200, s.guildLocked(p[1]))
	case "GET /guilds/{guild}/members/{user}":
		roles, ok := s.members[p[1]+"/"+p[3]]
		if !ok {
			return reply(404, apiError(10007, "Unknown Member"))
		}
		return reply(200, map[string]any{"user": map[string]any{"id": p[3], "username": "user" + p[3]}, "roles": roles})
	case "GET /channels/{channel}/messages":
		q := r.URL.Query()
		return reply(200, s.channelMessagesLocked(p[1], q.Get("before"), atoiOr(q.Get("limit"), 50)))
	case "GET /guilds/{guild}/roles":
		if g, ok := s.guilds[p[1]]; ok {
			var roles []map[string]any
			for _, r := range g.Roles {
				roles = append(roles, map[string]any{"id": r.ID, "name": r.Name, "managed": r.Managed, "permissions": strconv.FormatInt(r.Permissions, 10)})
			}
			roles = append(roles, map[string]any{"id": BotRoleID, "name": BotName, "managed": true, "tags": map[string]any{"bot_id": BotID}})
			return reply(200, roles)
		}
		return reply(200, []map[string]any{
			{"id": "940", "name": "mods", "managed": false},
			{"id": BotRoleID, "name": BotName, "managed": true, "tags": map[string]any{"bot_id": BotID}},
		})
	case "GET /channels/{channel}":
		ch, ok := s.channels[p[1]]
		if !ok {
			ch = Channel{ID: p[1], Type: 0, GuildID: "G1"}
		}
		return reply(200, ch)
	case "POST /channels/{channel}/typing":
		return reply(204, nil)
	case "PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me":
		s.reactions = append(s.reactions, p[1]+"/"+p[3]+":"+p[5])
		return reply(204, nil)
	case "POST /channels/{channel}/messages":
		var v struct {
			Content string `json:"content"`
			Flags   int    `json:"flags"`
			Ref     *struct {
				MessageID string `json:"message_id"`
			} `json:"message_reference"`
		}
		_ = json.Unmarshal(req.Body, &v)
		if code, msg := checkContent(v.Content, true); code != 0 {
			return reply(400, apiError(code, msg))
		}
		m := &Message{ChannelID: p[1], Content: v.Content, Flags: v.Flags}
		if v.Ref != nil {
			m.ReplyTo = v.Ref.MessageID
		}
		s.postLocked(m, req.At)
		req.Channel, req.MessageID = m.ChannelID, m.ID
		return reply(200, s.messageJSON(m, req.At))
	case "PATCH /channels/{channel}/messages/{message}":
		m := s.msgs[p[3]]
		if m == nil || m.Deleted || m.ChannelID != p[1] {
			return reply(404, apiError(10008, "Unknown Message"))
		}
		return s.editLocked(w, m, req)
	case "DELETE /channels/{channel}/messages/{message}":
		m := s.msgs[p[3]]
		if m == nil || m.Deleted || m.ChannelID != p[1] {
			return reply(404, apiError(10008, "Unknown Message"))
		}
		s.deleteLocked(m, req)
		return reply(204, nil)
	case "POST /channels/{channel}/messages/{message}/threads":
		if _, ok := s.channels[p[3]]; ok {
			return reply(400, apiError(160004, "A thread has already been created for this message"))
		}
		var v struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(req.Body, &v)
		guild := "G1"
		if parent, ok := s.channels[p[1]]; ok && parent.GuildID != "" {
			guild = parent.GuildID
		}
		// On Discord a thread started from a message has the message's ID.
		ch := Channel{ID: p[3], Type: 11, ParentID: p[1], OwnerID: BotID, GuildID: guild, Name: v.Name}
		s.channels[ch.ID] = ch
		s.events[p[1]] = append(s.events[p[1]], Event{At: req.At, Kind: "thread", MessageID: p[3], Content: v.Name})
		req.Channel = ch.ID
		return reply(201, ch)
	case "POST /interactions/{interaction}/{token}/callback":
		it := s.interactionLocked(p[1], p[2], req.At)
		if it == nil {
			return reply(401, apiError(50027, "Invalid Webhook Token"))
		}
		if it.original != "" {
			return reply(400, apiError(40060, "Interaction has already been acknowledged."))
		}
		var v struct {
			Type int `json:"type"`
			Data struct {
				Content string `json:"content"`
				Flags   int    `json:"flags"`
			} `json:"data"`
		}
		_ = json.Unmarshal(req.Body, &v)
		m := &Message{ChannelID: it.channel, Content: v.Data.Content, Flags: v.Data.Flags, Interaction: it.id, Original: true}
		s.postLocked(m, req.At)
		it.original = m.ID
		req.Channel, req.MessageID = m.ChannelID, m.ID
		return reply(204, nil)
	case "PATCH /webhooks/{app}/{token}/messages/{message}", "DELETE /webhooks/{app}/{token}/messages/{message}":
		it := s.interactionLocked("", p[2], req.At)
		if it == nil || p[1] != AppID {
			return reply(401, apiError(50027, "Invalid Webhook Token"))
		}
		id := p[4]
		if id == "@original" {
			id = it.original
		}
		m := s.msgs[id]
		if m == nil || m.Deleted || m.Interaction != it.id {
			return reply(404, apiError(10008, "Unknown Message"))
		}
		if req.Method == "DELETE" {
			s.deleteLocked(m, req)
			return reply(204, nil)
		}
		return s.editLocked(w, m, req)
	case "POST /webhooks/{app}/{token}":
		it := s.interactionLocked("", p[2], req.At)
		if it == nil || p[1] != AppID {
			return reply(401, apiError(50027, "Invalid Webhook Token"))
		}
		if it.original == "" {
			return reply(404, apiError(10015, "Unknown Webhook"))
		}
		var v struct {
			Content string `json:"content"`
			Flags   int    `json:"flags"`
		}
		_ = json.Unmarshal(req.Body, &v)
		if code, msg := checkContent(v.Content, true); code != 0 {
			return reply(400, apiError(code, msg))
		}
		m := &Message{ChannelID: it.channel, Content: v.Content, Flags: v.Flags, Interaction: it.id}
		s.postLocked(m, req.At)
		req.Channel, req.MessageID = m.ChannelID, m.ID
		return reply(200, s.messageJSON(m, req.At))
	}
	return reply(404, apiError(0, "404: Not Found "+req.Method+" "+req.Path))
}

// checkContent applies Discord's length rules: at most 2000 code points,
// and a new message needs content.
func checkContent(c string, create bool) (int, string) {
	if n := len([]rune(c)); n > 2000 {
		return 50035, "Invalid Form Body: content: Must be 2000 or fewer in length."
	}
	if create && strings.TrimSpace(c) == "" {
		return 50006, "Cannot send an empty message"
	}
	return 0, ""
}

func (s *Server) newIDLocked() string {
	s.nextID++
	return strconv.FormatInt(s.nextID, 10)
}

// postLocked adds m (its ID assigned) to the timeline.
func (s *Server) postLocked(m *Message, at time.Time) *Message {
	m.ID = s.newIDLocked()
	m.Versions = []string{m.Content}
	s.msgs[m.ID] = m
	s.order = append(s.order, m.ID)
	s.history[m.ChannelID] = append(s.history[m.ChannelID], historyEntry{id: m.ID})
	s.events[m.ChannelID] = append(s.events[m.ChannelID], Event{At: at, Kind: "post", MessageID: m.ID, Content: m.Content})
	return m
}

func (s *Server) editLocked(w http.ResponseWriter, m *Message, req *Request) (int, func(), string) {
	var v struct {
		Content *string `json:"content"`
	}
	_ = json.Unmarshal(req.Body, &v)
	if v.Content != nil {
		if code, msg := checkContent(*v.Content, false); code != 0 {
			return 400, func() { writeJSON(w, 400, apiError(code, msg)) }, ""
		}
		m.Content = *v.Content
	}
	m.Versions = append(m.Versions, m.Content)
	s.events[m.ChannelID] = append(s.events[m.ChannelID], Event{At: req.At, Kind: "edit", MessageID: m.ID, Content: m.Content})
	req.Channel, req.MessageID = m.ChannelID, m.ID
	body := s.messageJSON(m, req.At)
	return 200, func() { writeJSON(w, 200, body) }, ""
}

func (s *Server) deleteLocked(m *Message, req *Request) {
	m.Deleted = true
	s.events[m.ChannelID] = append(s.events[m.ChannelID], Event{At: req.At, Kind: "delete", MessageID: m.ID})
	req.Channel, req.MessageID = m.ChannelID, m.ID
}

func (s *Server) messageJSON(m *Message, at time.Time) map[string]any {
	return map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "type": 0, "content": m.Content,
		"author":    map[string]any{"id": BotID, "username": BotName, "bot": true},
		"timestamp": at.UTC().Format(time.RFC3339Nano),
	}
}

// interactionLocked returns the interaction with token (and id, when
// given) if its token is still valid.
func (s *Server) interactionLocked(id, token string, now time.Time) *interaction {
	it := s.interactions[token]
	if it == nil || id != "" && it.id != id || now.Sub(it.at) > InteractionTTL {
		return nil
	}
	return it
}

// gatewayURL is the gateway's websocket URL as seen by the client of r.
func (s *Server) gatewayURL(r *http.Request, resume bool) string {
	path := "/gateway"
	if resume {
		path = "/gateway-resume"
	}
	return "ws://" + r.Host + s.prefix + path
}
