// Package slack is the Slack adapter: it receives messages over Socket Mode
// (app_token) or the Events API (signing_secret, an HTTP endpoint on the
// bridge's [http] listen server), answers each conversation in a thread, and
// streams replies with chat.startStream/appendStream/stopStream where Slack
// allows it, falling back to chat.postMessage + chat.update.
//
// Package slack imports bridges, github.com/slack-go/slack (aliased
// slackapi, since this package is also named slack) and the standard
// library; never another adapter, a concrete backend or store.
package slack

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

	slackapi "github.com/slack-go/slack"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// DefaultAPIURL is Slack's Web API base URL.
const DefaultAPIURL = "https://slack.com/api/"

// Config is one [slack.NAME] section.
type Config struct {
	// Name is the instance name, the NAME of [slack.NAME]; cmd/bridge sets
	// it from the section header. Required.
	Name string `toml:"-"`
	// BotToken is the bot user OAuth token (xoxb-…). Required.
	BotToken bridges.Secret `toml:"bot_token"`
	// AppToken is the app-level token (xapp-…). When set the adapter
	// receives events over Socket Mode (no public URL needed). Empty: off.
	AppToken bridges.Secret `toml:"app_token"`
	// SigningSecret verifies Events API requests. When set the adapter
	// serves the Events API at /slack/NAME/events (and slash commands at
	// /slack/NAME/commands) on [http] listen. Empty: off. At least one of
	// AppToken and SigningSecret must be set.
	SigningSecret bridges.Secret `toml:"signing_secret"`
	// APIURL is the Web API base URL with a trailing slash; empty means
	// https://slack.com/api/.
	APIURL string `toml:"api_url"`
	// AllowedChannels lists the channel IDs (C…, G…, D…) the bot answers
	// in; empty means every channel it is in.
	AllowedChannels []string `toml:"allowed_channels"`
	// Scope is "" or "chat" (one conversation per thread, per DM) or
	// "user" (one conversation per user). Empty means "chat". The core
	// applies it (bridges.Route.Scope); the adapter only validates it.
	Scope string `toml:"scope"`
	// NoStreaming turns off Slack's native streaming (chat.startStream);
	// replies are then posted and edited. False (default): stream in
	// threads where Slack allows it.
	NoStreaming bool `toml:"no_streaming"`
	// FollowThreads is how long, after the bot answered in a thread, later
	// messages in that thread count as addressed to it without a mention.
	// Zero means 7 days (168h); negative turns following off.
	FollowThreads time.Duration `toml:"follow_threads"`
}

func (c Config) apiURL() string {
	if c.APIURL == "" {
		return DefaultAPIURL
	}
	return c.APIURL
}

func (c Config) followThreads() time.Duration {
	if c.FollowThreads == 0 {
		return 7 * 24 * time.Hour
	}
	return c.FollowThreads
}

// Adapter is one Slack instance. It implements bridges.Platform and the
// optional Typer, Streamer, Reactor, Checker, Connector, RefCodec
// (ref.go), ThreadReader, AdminChecker and StatusShower (context.go),
// and LastError for /readyz.
type Adapter struct {
	connected atomic.Bool // Socket Mode is connected, or Events API mode is serving
	name      string
	cfg       Config
	log       *slog.Logger
	kv        bridges.KV
	now       func() time.Time
	api       *slackapi.Client
	hc        *http.Client
	allowed   map[string]bool

	// Set once Run has called auth.test.
	mu      sync.Mutex
	self    identity
	handler bridges.Handler
	runCtx  context.Context

	// leader is Deps.Leader: set in cluster mode, where the core dedupes
	// messages (receive takes no mark of its own for them).
	leader func(role string) bool

	stateErrors atomic.Int64 // failed reads and writes of kv
	marks       keyLocks     // dedupe keys being handled by this process
	released    sync.Map     // dedupe keys released while kv failed
	followed    sync.Map     // "thread/C/ts" → time.Time, followed while kv failed

	backoff, maxBackoff time.Duration // retries of the start

	lastErr atomic.Pointer[lastError] // for /readyz
	users   userCache                 // users.info answers
	noUsers atomic.Bool               // users.info refused for lack of users:read

	statusOff sync.Map    // channel ID → true after assistant.threads.setStatus failed
	statusAt  statusTimes // when ShowStatus last set each thread's status
	noStream  sync.Map    // channel ID → true after chat.startStream refused it
}

type identity struct {
	UserID, BotID, TeamID, Team, User string
}

var _ interface {
	bridges.Platform
	bridges.Connector
	bridges.Reactor
	bridges.Typer
	bridges.Streamer
	bridges.Checker
} = (*Adapter)(nil)

// New validates cfg and returns the adapter. It does no I/O and starts no
// goroutine. With a signing secret it registers the Events API handlers on
// deps.Mux, which must then be set.
func New(cfg Config, deps bridges.Deps) (*Adapter, error) {
	name := cfg.Name
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("invalid instance name %q", name)
	}
	if cfg.BotToken.Reveal() == "" {
		return nil, errors.New("bot_token is required")
	}
	if cfg.AppToken.Reveal() == "" && cfg.SigningSecret.Reveal() == "" {
		return nil, errors.New("set app_token (Socket Mode) or signing_secret (Events API)")
	}
	if u := cfg.apiURL(); !strings.HasSuffix(u, "/") || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
		return nil, errors.New("api_url must be an http(s) URL ending in /")
	}
	switch cfg.Scope {
	case "", "chat", "user":
	default:
		return nil, errors.New(`scope must be "chat" or "user"`)
	}
	if cfg.SigningSecret.Reveal() != "" && deps.Mux == nil {
		return nil, errors.New("signing_secret needs [http] listen for the Events API")
	}
	a := &Adapter{
		name:    name,
		cfg:     cfg,
		log:     deps.Logger,
		kv:      deps.KV,
		now:     deps.Now,
		hc:      deps.HTTPClient,
		allowed: map[string]bool{},
		leader:  deps.Leader,

		backoff:    time.Second,
		maxBackoff: 30 * time.Second,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.kv == nil {
		a.kv = bridges.NewMemKV(10000)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.hc == nil {
		a.hc = &http.Client{}
	}
	for _, c := range cfg.AllowedChannels {
		a.allowed[c] = true
	}
	opts := []slackapi.Option{
		slackapi.OptionAPIURL(cfg.apiURL()),
		slackapi.OptionHTTPClient(a.hc),
	}
	if t := cfg.AppToken.Reveal(); t != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(t))
	}
	a.api = slackapi.New(cfg.BotToken.Reveal(), opts...)
	if cfg.SigningSecret.Reveal() != "" {
		deps.Mux.Handle("/slack/"+name+"/events", http.HandlerFunc(a.serveEvents))
		deps.Mux.Handle("/slack/"+name+"/commands", http.HandlerFunc(a.serveCommands))
	}
	return a, nil
}

// Run checks the token with auth.test, then receives events over Socket
// Mode and/or the Events API until ctx ends. A passing failure at start
// (network, 5xx, ratelimited) is retried with capped backoff, as the
// other adapters do; Run returns nil on a clean stop and an error when
// Slack refuses the bot or app token for good (invalid_auth,
// account_inactive, a missing scope, …).
func (a *Adapter) Run(ctx context.Context, h bridges.Handler) error {
	id, err := a.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.log.Info("slack connected", "team", id.Team, "team_id", id.TeamID, "bot_user", id.UserID, "mode", a.mode())
	a.mu.Lock()
	a.self = id
	a.handler = h
	a.runCtx = ctx
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.handler = nil
		a.mu.Unlock()
	}()
	defer a.connected.Store(false)
	if a.cfg.AppToken.Reveal() != "" {
		err := a.runSocket(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.connected.Store(true) // Events API: Slack calls us; auth.test passed
	<-ctx.Done()
	return nil
}

// start proves the bot token with auth.test, retrying passing failures
// with backoff (doubling from a.backoff up to a.maxBackoff, at least a
// 429's Retry-After) until ctx ends.
func (a *Adapter) start(ctx context.Context) (identity, error) {
	delay := a.backoff
	for {
		id, err := a.authTest(ctx)
		if err == nil {
			return id, nil
		}
		if ctx.Err() != nil {
			return identity{}, ctx.Err()
		}
		a.noteErr(err)
		if lasting(err) {
			return identity{}, err
		}
		wait := delay
		if rl, ok := errors.AsType[*bridges.RateLimitError](err); ok {
			wait = max(wait, rl.RetryAfter)
		}
		a.log.Warn("slack start failed, retrying", "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return identity{}, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, a.maxBackoff)
	}
}

// Connected implements bridges.Connector: the bot token was proven and
// the receive loop runs — the Socket Mode connection is up or, in Events
// API mode, Run is serving the endpoints on the mux.
func (a *Adapter) Connected() bool { return a.connected.Load() }

func (a *Adapter) mode() string {
	var m []string
	if a.cfg.AppToken.Reveal() != "" {
		m = append(m, "socket")
	}
	if a.cfg.SigningSecret.Reveal() != "" {
		m = append(m, "events")
	}
	return strings.Join(m, "+")
}

func (a *Adapter) authTest(ctx context.Context) (identity, error) {
	r, err := a.api.AuthTestContext(ctx)
	if err != nil {
		return identity{}, fmt.Errorf("auth.test: %w", apiError(err))
	}
	return identity{UserID: r.UserID, BotID: r.BotID, TeamID: r.TeamID, Team: r.Team, User: r.User}, nil
}

// Check calls auth.test and reports the workspace, the bot user and the
// receiving mode.
func (a *Adapter) Check(ctx context.Context) (string, error) {
	id, err := a.authTest(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("slack/%s: team %s (%s), bot @%s, mode %s", a.name, id.Team, id.TeamID, id.User, a.mode()), nil
}

// state returns the identity and handler once Run started, or ok false.
func (a *Adapter) state() (identity, bridges.Handler, context.Context, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.self, a.handler, a.runCtx, a.handler != nil
}

var errNotRunning = errors.New("slack adapter not running")
