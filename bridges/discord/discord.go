// Package discord is the Discord adapter of chat-bridge, built on
// github.com/bwmarrin/discordgo: it reads messages and slash commands from
// the gateway, turns them into bridges.Message values for the core, and
// posts and edits the live replies through the REST API.
//
// Package discord imports bridges (the core vocabulary), discordgo,
// gorilla/websocket (discordgo's websocket library) and the standard
// library; never another adapter, a concrete backend or the store.
//
// Three discordgo behaviours are deliberately overridden, per instance and
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
// REST calls go through one session (a.s, rest.go); the gateway
// (gateway.go) uses sessions of its own, one per shard, that Run replaces
// when Discord invalidates one. gateway.go also guards three discordgo
// v0.29.0 bugs: the Op 7-during-Open deadlock (#513, a bounded Open), the
// Op 1 nil-pointer race (#1702, the adapter never closes a session under
// its listener) and the missing resume_gateway_url support.
//
// Threads (reply_in_thread) are started lazily, by Send, when the first
// reply to a question that wants one is posted: a question the core
// refuses (too long, rate limited) opens no thread. A thread started from
// a message has the message's ID on Discord, so the question's
// conversation key is already the thread's (discord/INSTANCE/MESSAGE)
// and follow-ups inside the thread continue it, as when the thread was
// started on receipt. The bridge's own notices (Out.Plain on a first
// part, such as a refusal) are posted in the channel, as a reply.
//
// Lasting refusals (errors.go) reach the core as *bridges.PermanentError;
// the refs the inbox keeps for a resumed answer are encoded by refs.go
// (a slash command's interaction token with its arrival time: once the
// 15 minutes are over, or Discord refuses the token, the answer goes on
// in the channel as a normal message). context.go reads where a question
// was asked: the guild's locale, the thread or replied-to message it was
// written under (bridges.ThreadReader) and whether its author
// administers the channel (bridges.AdminChecker).
package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	// The core applies it (bridges.Admit); New only validates it.
	Scope string `toml:"scope"`
	// Shards is the number of gateway shards: 0 (the default) is the
	// count Discord recommends (GET /gateway/bot, read when Run starts),
	// N > 0 is N. One process runs them all; in cluster mode they are
	// leased across the replicas (cluster.go).
	Shards int `toml:"shards"`
	// SkipCommands, when true, leaves the application's slash commands
	// alone; false (the default) overwrites the global commands with
	// /ask, /reset, /new, /stop and /help at start-up.
	SkipCommands bool `toml:"skip_commands"`
}

// Adapter is one Discord bot instance. It implements bridges.Platform,
// bridges.Typer, bridges.Deleter, bridges.Reactor, bridges.Checker,
// bridges.Connector, bridges.RefCodec, bridges.ThreadReader and
// bridges.AdminChecker, and LastError for /readyz.
type Adapter struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	token  string       // "Bot " + the token
	client *http.Client // rewrites URLs and books requests (transport)
	// budgets holds the budgets every REST request draws from (budgets.go):
	// Deps.Budgets, the relay's.
	budgets bridges.BudgetState
	// s makes every REST call. The gateway connection has sessions of its
	// own (Run replaces one whose session Discord invalidated), so that
	// REST rate-limit state never depends on the gateway.
	s *discordgo.Session

	running atomic.Bool
	bot     atomic.Pointer[botInfo]
	// shards and ready count the gateway shards Run runs and those whose
	// session is READY or RESUMED.
	shards, readyShards atomic.Int32
	// identifyEvery is how long a shard's Identify waits after the last
	// one of its max_concurrency bucket: Discord's 5 s.
	identifyEvery time.Duration
	// openTimeout bounds one gateway Open (see gateway.go).
	openTimeout time.Duration
	// sessionHook, when set (tests), sees every gateway session made.
	sessionHook func(*discordgo.Session)

	errMu    sync.Mutex
	lastErr  string
	errSince time.Time
	// Cluster mode: leader reports the roles this replica leads (shards,
	// commands); kv is the shared adapter KV (identify slots).
	leader      func(role string) bool
	kv          bridges.KV
	leaderEvery time.Duration // how often the shard roles are asked for
	clusterUp   atomic.Bool   // runCluster proved the token and runs

	mu       sync.Mutex
	channels map[string]channelInfo // channel ID → what lookups found
	roles    map[string]string      // guild ID → the bot's managed role ID ("" = none)
	guilds   map[string]guildEntry  // guild ID → its last lookup
	texts    map[string]string      // message ID → its last text seen (edits)
}

// botInfo is who the bot is, from READY.
type botInfo struct {
	ID    string
	Name  string
	AppID string
}

var _ interface {
	bridges.Platform
	bridges.Connector
	bridges.Reactor
	bridges.Typer
	bridges.Deleter
	bridges.Checker
} = (*Adapter)(nil)

// New validates cfg and returns an adapter. It does no I/O and starts no
// goroutine; Run connects.
func New(cfg Config, deps bridges.Deps) (*Adapter, error) {
	// cmd/bridge names the instance ("discord.NAME") in front of these.
	if cfg.Name == "" {
		return nil, errors.New("instance name is required")
	}
	if !cfg.Token.IsSet() {
		return nil, errors.New("token is required")
	}
	switch cfg.Scope {
	case "", "chat", "user":
	default:
		return nil, fmt.Errorf("scope must be \"chat\" or \"user\", not %q", cfg.Scope)
	}
	if cfg.Shards < 0 {
		return nil, fmt.Errorf("shards must be 0 (Discord's recommended count) or more, not %d", cfg.Shards)
	}
	rt, err := newTransport(cfg.APIBaseURL, deps.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("api_base_url: %w", err)
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
	a := &Adapter{cfg: cfg, token: token, client: client, identifyEvery: 5 * time.Second, openTimeout: defaultOpenTimeout,
		leader: deps.Leader, kv: deps.KV, leaderEvery: time.Second, budgets: deps.Budgets}
	if a.budgets == nil {
		a.budgets = bridges.NewLocalBudgets()
	}
	rt.book = a.book
	if a.kv == nil {
		a.kv = bridges.NewMemKV(0)
	}
	s, err := a.newSession() // no I/O
	if err != nil {
		return nil, err
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
	a.guilds = map[string]guildEntry{}
	a.texts = map[string]string{}
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
// message; format.go never makes a text longer than that. A reply's
// posts, edits and deletes draw from its channel's budget, at most 5 in
// any 5 s, and with every other request of the bot from the global one,
// 45 a second and at most 48 in any second (budgets.go).
func (a *Adapter) Limits(m *bridges.Message) bridges.Limits {
	global := a.globalBudget()
	return bridges.Limits{
		MaxLen:       maxLen,
		Unit:         bridges.Runes,
		EditInterval: time.Second,
		Budgets: []bridges.Budget{
			a.channelBudget("channel", m.ChatID),
			global,
		},
		TypingBudgets: []bridges.Budget{global},
		TypingEvery:   8 * time.Second,
	}
}

// Run connects to the gateway, registers the slash commands, and passes
// messages and commands to h until ctx ends (then it returns nil). It runs
// every shard (Config.Shards) in this process, reconnects (resuming the
// session) when a connection drops, and returns a *GatewayError when
// Discord refuses the bot for good (bad token, disallowed intents).
func (a *Adapter) Run(ctx context.Context, h bridges.Handler) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	count, concurrency, err := a.shardCount(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	if a.leader != nil {
		return a.runCluster(ctx, h, count, concurrency)
	}
	a.shards.Store(int32(count))
	events := make(chan any, 64)
	gate := &identifyGate{every: a.identifyEvery, buckets: concurrency, last: map[int]time.Time{}}
	errc := make(chan error, count)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Go(func() { a.work(ctx, h, events) })
	for id := range count {
		g := newGateway(a, id, count, events, gate)
		wg.Go(func() {
			if err := g.run(ctx); err != nil {
				errc <- err
			}
		})
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// Connected implements bridges.Connector: every shard's gateway session
// is ready.
func (a *Adapter) Connected() bool {
	n := a.shards.Load()
	if a.clusterUp.Load() {
		// Cluster mode: the token is proven; every shard it leads is ready
		// (none led: it still sends).
		return a.readyShards.Load() == n
	}
	return n > 0 && a.readyShards.Load() == n
}

// setLastError records err as the instance's last error, for /readyz.
// Its text carries no token (errors are redacted where they are made).
func (a *Adapter) setLastError(err error) {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	a.lastErr, a.errSince = err.Error(), a.now()
}

// LastError returns the instance's last gateway or start-up error and
// when it happened ("" when there was none), for /readyz.
func (a *Adapter) LastError() (string, time.Time) {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.lastErr, a.errSince
}

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
			case *discordgo.MessageUpdate:
				a.receiveEdit(ctx, h, ev.Message)
			case *discordgo.InteractionCreate:
				a.receiveInteraction(ctx, h, ev.Interaction)
			}
		}
	}
}
