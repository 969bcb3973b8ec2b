// Package telegram is the Telegram adapter of chat-bridge: it receives
// messages from private chats, groups and forum topics through the Bot API
// (long polling with its own loop, or a webhook on the bridge's HTTP
// server) and posts the live replies the core drives, within Telegram's
// flood limits.
//
// It is built on github.com/go-telegram-bot-api/telegram-bot-api/v5
// (v5.5.1, frozen at Bot API 5.5): every request goes through
// BotAPI.MakeRequest with explicit parameters, so newer fields
// (message_thread_id, reply_parameters, link_preview_options, secret_token,
// sendMessageDraft) are available. The package imports bridges (the core's
// vocabulary), that library, goldmark (Markdown → Telegram HTML) and the
// standard library; never another adapter, a concrete backend or store.
//
// Decisions worth knowing:
//
//   - Drafts (sendMessageDraft) are ON by default in private chats: they
//     cost no flood budget and animate the answer; the final text is one
//     real sendMessage. Any draft error makes the core fall back to
//     sendMessage/editMessageText without posting text twice, and a server
//     that does not have the method (404, 501, "method not found", a 5xx
//     "not supported") turns drafts off for the instance after the first
//     refusal, with one warning.
//   - A group upgraded to a supergroup keeps its conversation: the
//     migration service message records new→old in the adapter's KV and the
//     conversation key of the new chat keeps using the old chat ID.
//   - allowed_chats holds numeric chat IDs (TOML integers, negative for
//     groups); a migrated supergroup is allowed when its old ID is.
//   - The confirmed update offset is stored in the KV only after the
//     handler accepted every update before it, so a restart neither replays
//     answered updates nor loses unanswered ones.
//   - Webhook updates are deduplicated in the KV (bridges.KV.Seen, 24 h,
//     as long as Telegram retries), so a redelivery after a restart or to
//     another replica is not answered twice; an update the handler
//     refused is let through when Telegram delivers it again.
//   - A private answer's draft_id is its question's message ID: an answer
//     resumed after a crash, restarted by an edit or preceded by a status
//     line (ShowStatus) continues the one draft.
//   - Lasting refusals (blocked, kicked, no rights, chat not found, message
//     to edit gone) are *bridges.PermanentError (errors.go); everything
//     else but 429 and rejected HTML is passing and retried by the core.
//   - Thread context: the Bot API cannot read history, so ThreadHistory
//     has the replied-to message Telegram sends along (kept in
//     Message.Ref, which the inbox keeps through RefCodec) and, in forum
//     topics, what the adapter received there in this run.
//   - The command menu goes out in the background at start: a default one
//     and one per language_code of bridges.Languages.
//   - In cluster mode (Deps.Leader set) only the replica leading
//     "telegram/NAME/poller" polls getUpdates (Telegram allows one poller
//     per bot); it polls from the offset in the shared KV, so a replica
//     taking the role over continues where the last one confirmed. The
//     others count as connected and send. In webhook mode only the
//     leader of "telegram/NAME/webhook" sets the webhook.
package telegram

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Compile-time checks of the interfaces the adapter implements.
var _ interface {
	bridges.Platform
	bridges.Connector
	bridges.Reactor
	bridges.Typer
	bridges.Deleter
	bridges.Streamer
	bridges.Checker
	bridges.RefCodec
} = (*Adapter)(nil)

// DefaultAPIEndpoint is the Bot API URL format used when Config.APIEndpoint
// is empty: two %s, the token then the method.
const DefaultAPIEndpoint = "https://api.telegram.org/bot%s/%s"

// Config is one [telegram.NAME] instance. The keys backend, respond and
// edit_interval belong to the route and are decoded by cmd/bridge.
type Config struct {
	// Name is the instance name (NAME in [telegram.NAME]); it is part of
	// every conversation key. Set by cmd/bridge; empty means "main".
	Name string `toml:"-"`
	// Token is the bot token from @BotFather. Required.
	Token bridges.Secret `toml:"token"`
	// APIEndpoint is the Bot API URL format with two %s (token, then
	// method), for a local Bot API server or a test server. Empty means
	// https://api.telegram.org/bot%s/%s.
	APIEndpoint string `toml:"api_endpoint"`
	// AllowedChats lists the numeric chat IDs the bot answers in
	// (negative for groups; a private chat's ID is the user's ID, so list
	// users to allow their direct messages). Empty means every chat.
	AllowedChats []int64 `toml:"allowed_chats"`
	// WebhookURL, when set, switches from long polling to a webhook: the
	// public HTTPS URL Telegram posts to; its path is served on the
	// bridge's [http] listen server. Empty means long polling.
	WebhookURL string `toml:"webhook_url"`
	// WebhookSecret is the secret_token Telegram sends in the
	// X-Telegram-Bot-Api-Secret-Token header (1-256 of A-Z a-z 0-9 _ -).
	// Empty means a random one generated at start-up.
	WebhookSecret bridges.Secret `toml:"webhook_secret"`
	// Drafts streams private-chat answers with sendMessageDraft. Unset
	// means true.
	Drafts *bool `toml:"drafts"`
	// Scope is "" or "chat" (one conversation per chat or forum topic) or
	// "user" (one per user, wherever they write). Empty means "chat".
	// The core applies it (bridges.Admit); New only validates it.
	Scope string `toml:"scope"`
	// PollTimeout is the long-poll timeout of getUpdates. Zero means 30s.
	PollTimeout time.Duration `toml:"poll_timeout"`
	// BotRate is how many messages and edits per second the bot sends
	// across all its chats. Zero means Telegram's limit for ordinary bots
	// (about 30/s; the bridge keeps to 27.8). Raise it only for a bot with
	// paid broadcasts (allow_paid_broadcast, up to 1000/s).
	BotRate int `toml:"bot_rate"`
}

func (c Config) name() string {
	if c.Name == "" {
		return "main"
	}
	return c.Name
}

func (c Config) endpoint() string {
	if c.APIEndpoint == "" {
		return DefaultAPIEndpoint
	}
	return c.APIEndpoint
}

func (c Config) drafts() bool { return c.Drafts == nil || *c.Drafts }

func (c Config) pollTimeout() time.Duration {
	if c.PollTimeout <= 0 {
		return 30 * time.Second
	}
	return c.PollTimeout
}

// timing holds the pacing numbers. They are fields so that tests can scale
// them down together with the fake server's limits.
type timing struct {
	privateEdit  time.Duration // per-reply edit interval, private chat
	groupEdit    time.Duration // per-reply edit interval, group
	draftEdit    time.Duration // per-reply draft interval
	privateEvery time.Duration // per-chat budget, private chat
	privateBurst int
	groupEvery   time.Duration // per-chat budget, group (20/min)
	groupBurst   int
	botEvery     time.Duration // bot-wide budget (30/s)
	botBurst     int
	backoff      time.Duration // first retry delay of the poll loop
	maxBackoff   time.Duration
	callTimeout  time.Duration // bound of one non-polling request
	leaderEvery  time.Duration // cluster mode: how often a non-poller asks for the poller role
}

func defaultTiming() timing {
	return timing{
		privateEdit:  1100 * time.Millisecond,
		groupEdit:    3100 * time.Millisecond,
		draftEdit:    400 * time.Millisecond,
		privateEvery: 1070 * time.Millisecond, // 3 at once, then 0.93/s: room for network jitter under Telegram's 1/s
		privateBurst: 2,
		groupEvery:   3 * time.Second,
		groupBurst:   19,                    // the window's allowance: 20 at once, never more than 20 in any minute (Budget.Window)
		botEvery:     36 * time.Millisecond, // 27.8/s: room for network jitter under 30/s
		botBurst:     0,
		backoff:      time.Second,
		maxBackoff:   30 * time.Second,
		callTimeout:  30 * time.Second,
		leaderEvery:  time.Second,
	}
}

// Adapter is one Telegram bot instance.
type Adapter struct {
	cfg      Config
	log      *slog.Logger
	client   *http.Client
	kv       bridges.KV
	leader   func(role string) bool // cluster mode: only the leader sets the webhook or polls
	endpoint string
	allowed  map[int64]bool
	secret   string // webhook secret_token
	hookPath string
	timing   timing

	me           atomic.Pointer[tgbotapi.User] // set by Run from getMe
	connected    atomic.Bool                   // receiving: polling without a failure since the last success, or the webhook set
	pollSince    atomic.Int64                  // UnixNano when the getUpdates in flight was sent; 0 when none
	running      atomic.Pointer[runState]      // non-nil while Run serves webhooks
	draftsBroken atomic.Bool                   // the server does not know sendMessageDraft
	migrated     sync.Map                      // int64 new chat ID → int64 old chat ID (cache of the KV)
	movedTo      sync.Map                      // int64 group ID → int64 supergroup ID, seen in this run
	redactor     *strings.Replacer             // token → <token>
	lastErr      lastErr                       // for /readyz
	topics       topicRing                     // what the adapter has seen of forum topics
}

// Connected implements bridges.Connector: Run proved the token (getMe)
// and receives. In polling mode that is from the first getUpdates on, a
// long poll in flight counting, until a getUpdates fails; then again when
// one succeeds or has been in flight for pollGrace (the server took it).
// In webhook mode it is from setWebhook's success on.
func (a *Adapter) Connected() bool {
	if a.connected.Load() {
		return true
	}
	since := a.pollSince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) >= pollGrace
}

// pollGrace is how long a getUpdates after a failed one must be in flight
// to count as connected: a server that refuses answers at once.
const pollGrace = time.Second

// runState is what the webhook handler needs from a running Run.
type runState struct {
	ctx context.Context
	h   bridges.Handler
}

// New validates cfg and returns an adapter. It does no I/O and starts no
// goroutine; in webhook mode it registers the webhook handler on deps.Mux,
// which answers 503 until Run starts.
func New(cfg Config, deps bridges.Deps) (*Adapter, error) {
	if !cfg.Token.IsSet() {
		return nil, errors.New("token is required")
	}
	if strings.ContainsAny(cfg.Token.Reveal(), "/?#% \t\n") {
		return nil, errors.New("token has characters a bot token never has")
	}
	ep := cfg.endpoint()
	if strings.Count(ep, "%s") != 2 || strings.Count(ep, "%") != 2 {
		return nil, fmt.Errorf("api_endpoint %q must contain exactly two %%s (token, method)", ep)
	}
	if u, err := url.Parse(strings.ReplaceAll(ep, "%s", "x")); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("api_endpoint %q is not an http(s) URL", ep)
	}
	switch cfg.Scope {
	case "", "chat", "user":
	default:
		return nil, fmt.Errorf("scope %q must be \"chat\" or \"user\"", cfg.Scope)
	}
	if cfg.PollTimeout < 0 || cfg.PollTimeout > 10*time.Minute {
		return nil, fmt.Errorf("poll_timeout %s out of range", cfg.PollTimeout)
	}
	if cfg.BotRate < 0 || cfg.BotRate > 1000 {
		return nil, fmt.Errorf("bot_rate %d must be 0 (the default, ~30/s) up to 1000", cfg.BotRate)
	}
	a := &Adapter{
		cfg:      cfg,
		log:      deps.Logger,
		client:   deps.HTTPClient,
		kv:       deps.KV,
		leader:   deps.Leader,
		endpoint: ep,
		timing:   defaultTiming(),
	}
	if cfg.BotRate > 0 {
		// Keep 7 % under the rate, room for network jitter.
		a.timing.botEvery = time.Second * 107 / 100 / time.Duration(cfg.BotRate)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.client == nil {
		a.client = &http.Client{}
	} else if a.client.Timeout != 0 {
		// Long polls are bounded by their context, not by a client timeout
		// shorter than the poll.
		c := *a.client
		c.Timeout = 0
		a.client = &c
	}
	if a.kv == nil {
		a.kv = bridges.NewMemKV(0)
	}
	tok := cfg.Token.Reveal()
	a.redactor = strings.NewReplacer(tok, "<token>", url.PathEscape(tok), "<token>", url.QueryEscape(tok), "<token>")
	if len(cfg.AllowedChats) > 0 {
		a.allowed = make(map[int64]bool, len(cfg.AllowedChats))
		for _, id := range cfg.AllowedChats {
			a.allowed[id] = true
		}
	}
	if cfg.WebhookURL != "" {
		u, err := url.Parse(cfg.WebhookURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("webhook_url %q is not an absolute http(s) URL", cfg.WebhookURL)
		}
		if deps.Mux == nil {
			return nil, errors.New("webhook_url is set but [http] listen is off (no server to receive webhooks)")
		}
		a.hookPath = u.EscapedPath()
		if a.hookPath == "" {
			a.hookPath = "/"
		}
		a.secret = cfg.WebhookSecret.Reveal()
		if a.secret == "" {
			b := make([]byte, 32)
			rand.Read(b)
			a.secret = hex.EncodeToString(b)
		} else if !validSecretToken(a.secret) {
			return nil, errors.New("webhook_secret must be 1-256 characters of A-Z a-z 0-9 _ -")
		}
		deps.Mux.Handle(a.hookPath, http.HandlerFunc(a.serveWebhook))
	}
	return a, nil
}

func validSecretToken(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Run connects to Telegram (getMe, then setMyCommands in the background),
// then receives updates by long polling or, with webhook_url, through the
// webhook handler, passing each message that passes the filters to h. It blocks until ctx ends and
// returns nil then; it returns an error when the token is rejected.
func (a *Adapter) Run(ctx context.Context, h bridges.Handler) error {
	me, err := a.getMe(ctx, true)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.me.Store(me)
	a.log.Info("connected", "username", me.UserName, "id", me.ID, "mode", a.mode())
	// The menus (one per language) go out beside receiving: the first
	// long poll, which makes the instance connected, need not wait.
	menus := make(chan struct{})
	go func() {
		defer close(menus)
		a.setCommands(ctx)
	}()
	defer func() { <-menus }()
	if a.cfg.WebhookURL != "" {
		return a.runWebhook(ctx, h)
	}
	return a.poll(ctx, h)
}

func (a *Adapter) mode() string {
	if a.cfg.WebhookURL != "" {
		return "webhook"
	}
	return "polling"
}

// getMe asks for the bot's own user. With retry, transient failures are
// retried with backoff until ctx ends; a rejected token is returned.
func (a *Adapter) getMe(ctx context.Context, retry bool) (*tgbotapi.User, error) {
	var me tgbotapi.User
	err := a.retrying(ctx, retry, "getMe", func() error {
		res, err := a.call(ctx, "getMe", nil)
		if err != nil {
			if retry && ctx.Err() == nil {
				a.lastErr.set(err, time.Now())
			}
			return err
		}
		return decodeResult(res, &me)
	})
	if err != nil {
		return nil, err
	}
	return &me, nil
}

// retrying runs fn until it succeeds, ctx ends or the error is fatal
// (rejected token); between attempts it waits with backoff, honouring
// retry_after.
func (a *Adapter) retrying(ctx context.Context, retry bool, what string, fn func() error) error {
	delay := a.timing.backoff
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if fatal := fatalError(err); fatal != nil || !retry {
			if fatal != nil {
				return fatal
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := delay
		var rl *bridges.RateLimitError
		if errors.As(classify(err), &rl) {
			wait = max(wait, rl.RetryAfter)
		}
		a.log.Warn(what+" failed, retrying", "err", err, "in", wait)
		if !bridges.Sleep(ctx, wait) {
			return ctx.Err()
		}
		delay = min(2*delay, a.timing.maxBackoff)
	}
}

// botCommands is the command menu in lang ("" for the default, English
// menu): the core's one command table.
func botCommands(lang string) []tgbotapi.BotCommand {
	out := make([]tgbotapi.BotCommand, 0, len(bridges.Commands))
	for _, c := range bridges.Commands {
		var d string
		switch {
		case lang == "":
			d = c.Help
			if c.Arg != "" {
				d += ": /" + c.Name + " your " + c.Arg
			}
		default:
			d = c.HelpIn(lang)
			if c.Arg != "" {
				d += ": /" + c.Name + " " + c.ArgHelpIn(lang)
			}
		}
		if r := []rune(d); len(r) > 256 {
			d = string(r[:255]) + "…" // Telegram's limit
		}
		out = append(out, tgbotapi.BotCommand{Command: c.Name, Description: d})
	}
	return out
}

// menuLanguages maps each of bridges.Languages to the ISO 639-1 code
// Telegram's setMyCommands takes: "jp" is "ja"; Chinese has one code, so
// simplified Chinese gets "zh" and traditional none; a language without
// a two-letter code is skipped (its users see the default menu).
func menuLanguages() map[string]string {
	out := map[string]string{}
	for _, l := range bridges.Languages {
		code := strings.ToLower(l)
		switch code {
		case "jp":
			code = "ja"
		case "zh-hans":
			code = "zh"
		}
		if len(code) != 2 || strings.Trim(code, "abcdefghijklmnopqrstuvwxyz") != "" {
			continue
		}
		if _, dup := out[code]; !dup {
			out[code] = l
		}
	}
	return out
}

// setCommands registers the bridge's commands: the default menu, then one
// per language Telegram can tell (language_code). Failures are only
// logged (with the language) and leave that menu as it was.
func (a *Adapter) setCommands(ctx context.Context) {
	langs := menuLanguages()
	codes := make([]string, 0, len(langs))
	for code := range langs {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range append([]string{""}, codes...) {
		p := tgbotapi.Params{}
		if err := p.AddInterface("commands", botCommands(langs[code])); err != nil {
			a.log.Error("setMyCommands: encode the command table", "err", err)
			return
		}
		if code != "" {
			p["language_code"] = code
		}
		if _, err := a.call(ctx, "setMyCommands", p); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.lastErr.set(err, time.Now())
			a.log.Warn("setMyCommands failed; commands are not listed in the menu", "language_code", code, "err", err)
		}
	}
}

// Check implements bridges.Checker: getMe, and whether privacy mode hides
// group messages.
func (a *Adapter) Check(ctx context.Context) (string, error) {
	me, err := a.getMe(ctx, false)
	if err != nil {
		return "", fmt.Errorf("telegram/%s: %w", a.cfg.name(), err)
	}
	privacy := "on — the bot only sees commands, mentions and replies in groups"
	if me.CanReadAllGroupMessages {
		privacy = "off — the bot sees every group message"
	}
	report := fmt.Sprintf("telegram/%s: @%s (id %d), privacy mode: %s", a.cfg.name(), me.UserName, me.ID, privacy)
	if a.cfg.WebhookURL != "" {
		report += "; " + a.checkWebhook(ctx)
	}
	return report, nil
}

// checkWebhook reports, for `bridge check`, the configured webhook and
// what Telegram has set now (getWebhookInfo): `run` sets it, so a
// different or missing one is only reported, as is Telegram's last
// delivery error.
func (a *Adapter) checkWebhook(ctx context.Context) string {
	s := "webhook " + a.cfg.WebhookURL + " served at " + a.hookPath
	res, err := a.call(ctx, "getWebhookInfo", nil)
	if err != nil {
		return s + " (getWebhookInfo failed: " + err.Error() + ")"
	}
	var info struct {
		URL                string `json:"url"`
		PendingUpdateCount int    `json:"pending_update_count"`
		LastErrorMessage   string `json:"last_error_message"`
	}
	if err := decodeResult(res, &info); err != nil {
		return s + " (getWebhookInfo: " + err.Error() + ")"
	}
	switch info.URL {
	case a.cfg.WebhookURL:
		s += ", set at Telegram"
	case "":
		s += ", not set at Telegram yet (run sets it)"
	default:
		s += ", Telegram has another URL set (run replaces it)"
	}
	if info.PendingUpdateCount > 0 {
		s += fmt.Sprintf(", %d updates pending", info.PendingUpdateCount)
	}
	if info.LastErrorMessage != "" {
		s += ", last delivery error: " + a.redactor.Replace(info.LastErrorMessage)
	}
	return s
}
