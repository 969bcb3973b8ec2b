// Package discord is the Discord adapter of chat-bridge, built on
// github.com/bwmarrin/discordgo: it reads messages and slash commands from
// the gateway, turns them into bridges.Message values for the core, and
// posts and edits the live replies through the REST API.
//
// Package discord imports bridges (the core vocabulary), discordgo,
// gorilla/websocket (discordgo's websocket library) and the standard
// library; never another adapter, a concrete backend or the store.
//
// Two discordgo behaviours are deliberately overridden, per instance and
// without touching discordgo's package variables:
//   - REST URLs (and so gateway discovery) are rewritten to
//     Config.APIBaseURL by an http.RoundTripper on the session's own client;
//   - discordgo's endless reconnect loop is switched off
//     (ShouldReconnectOnError=false) and Run reconnects itself, so that the
//     fatal close codes 4004 (bad token) and 4010-4014 (sharding, API
//     version, intents) stop the instance with an error naming the fix
//     (discordgo v0.29.0 surfaces a close code only as the error of Open,
//     which reads the answer to Identify/Resume), and 4007/4009 (session
//     invalid) start a fresh gateway session instead of resuming forever;
//   - discordgo's internal 429 retry (an uncancellable sleep) is off on
//     every call: Send and Edit return *bridges.RateLimitError.
//
// REST calls go through one session (a.s); the gateway uses sessions of
// its own that Run replaces when Discord invalidates one. Known v0.29.0
// bugs not guarded: no resume_gateway_url, the Op 7-during-Open deadlock
// (#513) and the Op 1 nil-pointer race (#1702).
package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Platform is the platform name in conversation keys and budgets.
const Platform = "discord"

// Intents the bridge identifies with: guild and direct messages, and the
// privileged message content intent (Developer Portal → Bot → Privileged
// Gateway Intents → Message Content Intent).
const Intents = discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages | discordgo.IntentsMessageContent

// Config configures one Discord bot instance: the [discord.NAME] section
// of the configuration, minus the keys the core decodes (backend, respond,
// edit_interval).
type Config struct {
	// Name is the instance name, NAME in [discord.NAME]; cmd/bridge sets
	// it. It is part of every conversation key. Required.
	Name string `toml:"-"`
	// Token is the bot token (Developer Portal → Bot → Token), with or
	// without the "Bot " prefix. Required.
	Token bridges.Secret `toml:"token"`
	// APIBaseURL replaces discordgo's https://discord.com/api/v9/ prefix in
	// every REST request, gateway discovery included: a REST proxy or a
	// test server, e.g. "http://127.0.0.1:8080/api/v9/". Empty means
	// Discord's public API (discordgo speaks API version 9).
	APIBaseURL string `toml:"api_base_url"`
	// AllowedGuilds lists the guild (server) IDs the bot answers in; empty
	// means every guild. Direct messages are always answered.
	AllowedGuilds []string `toml:"allowed_guilds"`
	// AllowedChannels lists the channel IDs the bot answers in (a thread
	// counts as its parent channel); empty means every channel.
	AllowedChannels []string `toml:"allowed_channels"`
	// ReplyInThread, when true, answers a guild mention (outside a thread)
	// in a new thread started from the question; the thread is its own
	// conversation, and in threads the bot started every message counts
	// as addressed to it. False (the default) answers in the channel.
	ReplyInThread bool `toml:"reply_in_thread"`
	// Scope is "" or "chat" (one conversation per channel or thread, the
	// default) or "user" (one conversation per user, wherever they write).
	Scope string `toml:"scope"`
	// SkipCommands, when true, leaves the application's slash commands
	// alone; false (the default) overwrites the global commands with
	// /ask, /reset, /new, /stop and /help at start-up.
	SkipCommands bool `toml:"skip_commands"`
}

func (c Config) userScope() bool { return c.Scope == "user" }

// Adapter is one Discord bot instance. It implements bridges.Platform,
// bridges.Typer, bridges.Deleter and bridges.Checker.
type Adapter struct {
	connected atomic.Bool // the gateway session is READY or RESUMED
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	token     string       // "Bot " + the token
	client    *http.Client // rewrites URLs (transport)
	// s makes every REST call. The gateway connection has sessions of its
	// own (Run replaces one whose session Discord invalidated), so that
	// REST rate-limit state never depends on the gateway.
	s *discordgo.Session

	running atomic.Bool
	bot     atomic.Pointer[botInfo]

	mu       sync.Mutex
	channels map[string]channelInfo // channel ID → what lookups found
	roles    map[string]string      // guild ID → the bot's managed role ID ("" = none)
}

// botInfo is who the bot is, from READY.
type botInfo struct {
	ID    string
	Name  string
	AppID string
}

var (
	_ bridges.Platform  = (*Adapter)(nil)
	_ bridges.Connector = (*Adapter)(nil)
	_ bridges.Reactor   = (*Adapter)(nil)
	_ bridges.Typer     = (*Adapter)(nil)
	_ bridges.Deleter   = (*Adapter)(nil)
	_ bridges.Checker   = (*Adapter)(nil)
)

// New validates cfg and returns an adapter. It does no I/O and starts no
// goroutine; Run connects.
func New(cfg Config, deps bridges.Deps) (*Adapter, error) {
	if cfg.Name == "" {
		return nil, errors.New("discord: instance name is required")
	}
	if !cfg.Token.IsSet() {
		return nil, fmt.Errorf("discord.%s: token is required", cfg.Name)
	}
	switch cfg.Scope {
	case "", "chat", "user":
	default:
		return nil, fmt.Errorf("discord.%s: scope must be \"chat\" or \"user\", not %q", cfg.Name, cfg.Scope)
	}
	rt, err := newTransport(cfg.APIBaseURL, deps.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("discord.%s: api_base_url: %w", cfg.Name, err)
	}
	token := cfg.Token.Reveal()
	if !strings.HasPrefix(token, "Bot ") {
		token = "Bot " + token
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if deps.HTTPClient != nil {
		c := *deps.HTTPClient
		client = &c
	}
	client.Transport = rt
	a := &Adapter{cfg: cfg, token: token, client: client}
	s, err := a.newSession() // no I/O
	if err != nil {
		return nil, fmt.Errorf("discord.%s: %w", cfg.Name, err)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	a.log, a.now, a.s = log, now, s
	a.channels = map[string]channelInfo{}
	a.roles = map[string]string{}
	return a, nil
}

// newSession returns a discordgo session set up for the bridge. It does
// no I/O.
func (a *Adapter) newSession() (*discordgo.Session, error) {
	s, err := discordgo.New(a.token)
	if err != nil {
		return nil, err
	}
	s.Client = a.client
	s.Identify.Intents = Intents
	s.ShouldReconnectOnError = false // Run reconnects, stopping on fatal close codes
	s.ShouldRetryOnRateLimit = false // the core obeys 429s; discordgo's retry sleeps uncancellably
	s.SyncEvents = true              // handlers only enqueue; Run's worker keeps the order
	s.StateEnabled = false           // the adapter keeps what little state it needs
	s.LogLevel = -1                  // discordgo logs through the std logger; Run logs what matters
	s.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 15 * time.Second}
	return s, nil
}

// Limits implements bridges.Platform. Discord counts 2000 code points per
// message; format.go never makes a text longer than that. Every channel
// gets about 5 requests per 5 s, the bot 50 per second (all requests).
func (a *Adapter) Limits(m *bridges.Message) bridges.Limits {
	// 50 requests in any second for the whole bot, typing included: keep
	// to 45 with no burst, room for network jitter.
	global := bridges.Budget{Key: Platform + "/" + a.cfg.Name, Every: 22 * time.Millisecond}
	return bridges.Limits{
		MaxLen:       maxLen,
		Unit:         bridges.Runes,
		EditInterval: time.Second,
		Budgets: []bridges.Budget{
			{Key: Platform + "/" + a.cfg.Name + "/channel/" + m.ChatID, Every: time.Second, Burst: 4},
			global,
		},
		TypingBudgets: []bridges.Budget{global},
		TypingEvery:   8 * time.Second,
	}
}

// Run connects to the gateway, registers the slash commands, and passes
// messages and commands to h until ctx ends (then it returns nil). It
// reconnects (resuming the session) when the connection drops, and returns
// a *GatewayError when Discord refuses the bot for good (bad token,
// disallowed intents).
func (a *Adapter) Run(ctx context.Context, h bridges.Handler) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("discord: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan any, 64)
	enqueue := func(ev any) {
		select {
		case events <- ev:
		case <-ctx.Done():
		}
	}
	disconnected := make(chan struct{}, 1)
	g := &gateway{a: a, attach: func(s *discordgo.Session) []func() {
		s.Dialer.NetDialContext = func(dctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(dctx, network, addr)
			if err == nil {
				// Unblocks an Open stuck reading from a silent gateway.
				context.AfterFunc(ctx, func() { c.Close() })
			}
			return c, err
		}
		return []func(){
			s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) { a.connected.Store(true); a.ready(r) }),
			s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) { a.connected.Store(true) }),
			s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { enqueue(m) }),
			s.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) { enqueue(i) }),
			s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) {
				a.connected.Store(false)
				select {
				case disconnected <- struct{}{}:
				default:
				}
			}),
		}
	}}
	if err := g.fresh(); err != nil {
		return err
	}
	defer g.close()

	if err := g.connect(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	if !a.cfg.SkipCommands {
		a.registerCommands(ctx)
	}

	var wg sync.WaitGroup
	wg.Go(func() { a.work(ctx, h, events) })
	defer func() {
		cancel()
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-disconnected:
			if ctx.Err() != nil {
				continue
			}
			a.log.Warn("gateway connection lost, reconnecting")
			if err := g.connect(ctx); err != nil {
				return err
			}
		}
	}
}

// Connected implements bridges.Connector: the gateway session is ready.
func (a *Adapter) Connected() bool { return a.connected.Load() }

// work handles queued gateway events one at a time, in order.
func (a *Adapter) work(ctx context.Context, h bridges.Handler, events <-chan any) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			switch ev := ev.(type) {
			case *discordgo.MessageCreate:
				a.receiveMessage(ctx, h, ev.Message)
			case *discordgo.InteractionCreate:
				a.receiveInteraction(ctx, h, ev.Interaction)
			}
		}
	}
}

// gateway is Run's connection to the Discord gateway.
type gateway struct {
	a      *Adapter
	attach func(*discordgo.Session) (detach []func())
	s      *discordgo.Session
	detach []func()
}

// fresh replaces the gateway session with a new one, which identifies
// anew instead of resuming.
func (g *gateway) fresh() error {
	if g.s != nil {
		g.close()
	}
	s, err := g.a.newSession()
	if err != nil {
		return err
	}
	g.s, g.detach = s, g.attach(s)
	return nil
}

// connect opens the gateway (identifying, or resuming a known session),
// retrying with backoff; it returns a *GatewayError for fatal close codes
// and nil when ctx ends.
func (g *gateway) connect(ctx context.Context) error {
	wait := time.Second
	for {
		err := g.s.Open()
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			g.a.log.Info("connected to the gateway")
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if ge := gatewayError(err); ge != nil {
			g.a.log.Error("discord refused the bot", "code", ge.Code, "err", ge)
			return ge
		}
		if sessionInvalid(err) {
			// discordgo would resume the dead session forever.
			g.a.log.Warn("gateway session invalidated, identifying anew", "err", err)
			if err := g.fresh(); err != nil {
				return err
			}
			continue
		}
		g.a.log.Warn("gateway connection failed, retrying", "in", wait, "err", redact(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Minute)
	}
}

// close closes the connection (discordgo sleeps 1 s in it) and removes
// the handlers.
func (g *gateway) close() {
	if err := g.s.Close(); err != nil {
		g.a.log.Debug("close gateway", "err", err)
	}
	for _, d := range g.detach {
		d()
	}
}

// ready records who the bot is. It runs inside discordgo's Open, with the
// session locked: it must not call the session.
func (a *Adapter) ready(r *discordgo.Ready) {
	if r == nil || r.User == nil || r.User.ID == "" {
		a.log.Warn("READY without a bot user")
		return
	}
	b := &botInfo{ID: r.User.ID, Name: r.User.Username, AppID: r.User.ID}
	if r.Application != nil && r.Application.ID != "" {
		b.AppID = r.Application.ID
	}
	a.bot.Store(b)
}

// botUser returns the bot's identity, or an empty one before READY.
func (a *Adapter) botUser() botInfo {
	if b := a.bot.Load(); b != nil {
		return *b
	}
	return botInfo{}
}

// transport rewrites discordgo's REST URLs to the configured base and
// records what a 429 said, for the call that made it.
type transport struct {
	base http.RoundTripper
	from *url.URL // discordgo's API prefix
	to   *url.URL // nil = no rewrite
}

func newTransport(apiBase string, hc *http.Client) (*transport, error) {
	t := &transport{base: http.DefaultTransport}
	if hc != nil && hc.Transport != nil {
		t.base = hc.Transport
	}
	from, err := url.Parse(discordgo.EndpointAPI) // read, never written
	if err != nil {
		return nil, err
	}
	t.from = from
	if apiBase == "" {
		return t, nil
	}
	to, err := url.Parse(apiBase)
	if err != nil {
		return nil, err
	}
	if to.Scheme != "http" && to.Scheme != "https" || to.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", apiBase)
	}
	if !strings.HasSuffix(to.Path, "/") {
		to.Path += "/"
	}
	to.RawPath = ""
	t.to = to
	return t, nil
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.to != nil && req.URL.Host == t.from.Host && req.URL.Scheme == t.from.Scheme &&
		strings.HasPrefix(req.URL.Path, t.from.Path) {
		r := req.Clone(req.Context())
		u := *req.URL
		u.Scheme, u.Host, u.RawPath = t.to.Scheme, t.to.Host, ""
		u.Path = t.to.Path + strings.TrimPrefix(req.URL.Path, t.from.Path)
		r.URL, r.Host = &u, ""
		req = r
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if rec := recorderFrom(req.Context()); rec != nil {
			resp.Body = rec.record(resp)
		}
	}
	return resp, err
}

// registerCommands overwrites the application's global slash commands.
// A failure is logged: mentions and DMs still work without them.
func (a *Adapter) registerCommands(ctx context.Context) {
	b := a.botUser()
	if b.AppID == "" {
		return
	}
	if _, err := a.s.ApplicationCommandBulkOverwrite(b.AppID, "", slashCommands(), a.opts(ctx)...); err != nil {
		a.log.Error("register slash commands", "err", redact(err))
	}
}

// opts are the request options of every REST call: bounded by ctx, and
// never retried by discordgo on a 429.
func (a *Adapter) opts(ctx context.Context) []discordgo.RequestOption {
	return []discordgo.RequestOption{discordgo.WithContext(ctx), discordgo.WithRetryOnRatelimit(false)}
}

func contains(list []string, id string) bool { return slices.Contains(list, id) }

// Check implements bridges.Checker: the bot user, its guild count, and
// whether the message content intent is enabled for the application.
func (a *Adapter) Check(ctx context.Context) (string, error) {
	cctx, rec := withRecorder(ctx)
	u, err := a.s.User("@me", a.opts(cctx)...)
	if err != nil {
		return "", wrapErr("get bot user", err, rec)
	}
	cctx, rec = withRecorder(ctx)
	guilds, err := a.s.UserGuilds(200, "", "", false, a.opts(cctx)...)
	if err != nil {
		return "", wrapErr("list guilds", err, rec)
	}
	count := fmt.Sprint(len(guilds))
	if len(guilds) == 200 {
		count = "200+"
	}
	cctx, rec = withRecorder(ctx)
	body, err := a.s.RequestWithBucketID("GET", discordgo.EndpointApplication("@me"), nil,
		discordgo.EndpointApplication(""), a.opts(cctx)...)
	if err != nil {
		return "", wrapErr("get application", err, rec)
	}
	var app struct {
		Flags int64 `json:"flags"`
	}
	if err := json.Unmarshal(body, &app); err != nil {
		return "", fmt.Errorf("get application: %w", err)
	}
	intent := "enabled"
	if app.Flags&(appFlagGatewayMessageContent|appFlagGatewayMessageContentLimited) == 0 {
		intent = "NOT enabled (the bot can't read messages that don't mention it; enable it in the Developer Portal → Bot → Privileged Gateway Intents)"
	}
	return fmt.Sprintf("bot %s (%s) in %s guild(s); message content intent: %s", u.Username, u.ID, count, intent), nil
}

// Application flags saying the message content intent is on.
const (
	appFlagGatewayMessageContent        = 1 << 18
	appFlagGatewayMessageContentLimited = 1 << 19
)
