// Package bridges is the platform-neutral core of chat-bridge: it owns the
// vocabulary (Message, Platform, Limits, commands, access) and the relay that
// turns one incoming message into a backend stream and a live reply.
//
// Package bridges imports backend and the store's types (store.Key,
// store.Record); it declares the small Store interface it uses and never
// imports a platform adapter or a concrete backend. Adapters in
// bridges/<platform> import bridges and their platform library only.
package bridges

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/store"
)

// Secret is a credential from the configuration that never prints its
// value. It is backend.Secret, re-exported for adapters.
type Secret = backend.Secret

// Key names a conversation: platform/instance/chat[/thread].
type Key = store.Key

// Message is one incoming message, already translated by an adapter.
type Message struct {
	// Key is the conversation the message belongs to (the adapter's key.go
	// computes it; a contract).
	Key Key
	// ID is the platform's ID of the message, which replies answer.
	ID string
	// ChatID and ThreadID say where the reply goes (a channel, a forum
	// topic, a Slack thread ts). They may differ from Key, for example with
	// scope = "user".
	ChatID   string
	ThreadID string
	// UserID and UserName identify the author.
	UserID   string
	UserName string
	// Text is the message text with the bot's own mention removed. A
	// command starts with "/" and has no "@botname" suffix ("/reset").
	Text string
	// The facts below are what the adapter knows about how the message
	// reaches the bot; Admit (admit.go) decides from them, once for every
	// platform, whether it is addressed and whether it is a command.
	//
	// Private is true in a direct message with the bot.
	Private bool
	// Mentioned is true when the bot (or its role) was @-mentioned.
	Mentioned bool
	// ReplyToBot is true when the message replies to one of the bot's.
	ReplyToBot bool
	// InBotThread is true inside a thread the bot takes part in (a thread
	// it started, a Slack thread it follows).
	InBotThread bool
	// Command is the platform's own command marker, when it has one: the
	// name of a slash command or of a Telegram bot_command entity at the
	// start of the text, without "/" or "@botname". Text then starts with
	// "/name".
	Command string
	// Directed is true when the platform says the command is for this bot
	// in particular (a slash command, Telegram's "/name@thisbot").
	Directed bool
	// Time is when the platform received the message.
	Time time.Time
	// Ref carries adapter data needed to answer (an interaction token, a
	// Slack response URL). The core never looks inside.
	Ref any

	// Locale is the user's language as the platform reports it (Telegram
	// language_code, Discord's interaction locale, Slack's user locale,
	// the browser's Accept-Language): "de", "pt-BR", "zh-hans"; "" when
	// unknown. Notices are given in it (see notices.go).
	Locale string
	// Space is the guild (Discord) or team (Slack) the chat belongs to,
	// "" elsewhere; routes can match on it.
	Space string
	// InThread is true when the message was written inside an existing
	// thread, forum topic or reply chain whose earlier messages the bot
	// has not seen (see ThreadReader); ReplyToID is the platform ID of
	// the message it replies to, if any.
	InThread  bool
	ReplyToID string
	// NonText is true when the message carries only a picture, file or
	// sticker and no text (Text is then empty): the core answers it with
	// a short "I can read text only".
	NonText bool
	// Edited is true when this is a new text of a message the user sent
	// earlier (same ID): while its answer still streams, the answer
	// restarts in the same reply; after it landed, the edit is ignored.
	Edited bool
}

// ThreadMessage is one earlier message of a thread, for thread context.
type ThreadMessage struct {
	// FromBot is true for the bot's own messages (labelled the
	// assistant's when sent to the backend).
	FromBot bool
	// Author is the author's display name ("" when unknown).
	Author string
	// Text is the message text, the bot's mention removed.
	Text string
	Time time.Time
}

// ThreadReader is implemented by platforms that can read the earlier
// messages of the thread a message was written in (Slack
// conversations.replies, Discord channel messages, the replied-to message
// Telegram sent along).
type ThreadReader interface {
	// ThreadHistory returns at most max messages that precede m in its
	// thread, oldest first, m itself excluded. It does I/O (one or two
	// platform requests) and is safe for concurrent use.
	ThreadHistory(ctx context.Context, m *Message, max int) ([]ThreadMessage, error)
}

// AdminChecker is implemented by platforms that can tell whether a user
// administers the chat a message was written in (Telegram getChatMember,
// Discord permissions, Slack is_admin/is_owner), for reset = "admins".
type AdminChecker interface {
	// IsAdmin reports whether m's author administers m's chat. It does
	// I/O; the core caches the answer briefly.
	IsAdmin(ctx context.Context, m *Message) (bool, error)
}

// StatusShower is implemented by platforms that can show a short status
// line cheaply in the reply's place before the first text (a Telegram
// draft, Slack's assistant.threads.setStatus, the web chat).
type StatusShower interface {
	// ShowStatus shows text as m's reply's status; the answer's first
	// text replaces it. One platform request, no retry.
	ShowStatus(ctx context.Context, m *Message, text string) error
}

// Handler accepts incoming messages. Adapters call it from Run.
type Handler interface {
	// Handle accepts m for answering and returns once it is queued
	// (durably, when the relay keeps an inbox), so the adapter may then
	// acknowledge it to the platform. An error means m was not accepted
	// (the bridge is shutting down) and must not be acknowledged. Handle
	// is safe for concurrent use and does not wait for the answer.
	Handle(ctx context.Context, m Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m Message) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m Message) error { return f(ctx, m) }

// Platform is what an adapter provides to the core.
type Platform interface {
	// Run connects to the platform, passes every incoming message that
	// passes the adapter's own filters (allow-lists, bots) to h, and blocks
	// until ctx ends. It returns nil on a clean stop and an error when the
	// instance cannot work (bad token, missing intent).
	Run(ctx context.Context, h Handler) error
	// Send posts a new message answering m and returns its reference.
	// Send does one platform request (no retry, no sleep): it returns
	// *RateLimitError on a 429 and *FormatError when the platform rejects
	// the formatting. Safe for concurrent use.
	Send(ctx context.Context, m *Message, out Out) (Sent, error)
	// Edit replaces the text of a message Send returned, with the same
	// contract as Send. Editing to unchanged text is success.
	Edit(ctx context.Context, s Sent, out Out) error
	// Limits returns the limits for replies to m. It does no I/O.
	Limits(m *Message) Limits
}

// Out is one message's worth of reply text.
type Out struct {
	// Text is Markdown from the backend (or the bridge), already split to
	// fit Limits.MaxLen. Never empty.
	Text string
	// Final is true when no further update of this text follows.
	Final bool
	// Plain asks for the text as-is, without formatting: the fallback
	// after a *FormatError, and for the bridge's own short notices.
	Plain bool
	// Part is the index of this message within the reply; part 0 replies
	// to the user's message, later parts continue it.
	Part int
}

// Sent references a message the bridge posted.
type Sent struct {
	ChatID string
	ID     string
	// Ref carries adapter data needed to edit (a Discord interaction
	// token). The core never looks inside.
	Ref any
}

// Unit is how a platform counts message length.
type Unit int

// Length units.
const (
	Runes Unit = iota // Unicode code points (Discord, Slack)
	UTF16             // UTF-16 code units (Telegram)
)

// Limits are a platform's capabilities and limits for one conversation.
// They are data: the core decides what to do with them.
type Limits struct {
	// MaxLen is the longest message text, in Unit, the adapter accepts
	// (before its own rendering; leave room for what rendering adds).
	MaxLen int
	Unit   Unit
	// EditInterval is the least time between two requests for one reply.
	EditInterval time.Duration
	// Budgets are the shared budgets every send and edit for this
	// conversation draws from, narrowest first (the chat, then the
	// bot-wide one). Every live reply in a scope shares its budget.
	Budgets []Budget
	// SendBudgets, when set, are what new messages draw from instead of
	// Budgets, for platforms whose posts and edits have separate limits
	// (Slack: chat.postMessage per channel, chat.update per workspace).
	SendBudgets []Budget
	// TypingBudgets, when set, are what each typing indicator draws from
	// (where the platform counts it, like Discord's global limit); an
	// indicator that would wait for a slot is skipped.
	TypingBudgets []Budget
	// Rendered, when set, measures a part (in Unit) as the platform will
	// count it after the adapter's rendering (Slack escapes &, < and >);
	// a part that measures over RenderedMax is cut smaller.
	Rendered    func(text string) int
	RenderedMax int
	// StreamPlain is true when intermediate edits are rendered as plain
	// text and only the final text is formatted, so every message of the
	// reply gets one final edit.
	StreamPlain bool
	// TypingEvery is how often to repeat the typing indicator while
	// waiting for the first text; zero means 4s.
	TypingEvery time.Duration
}

// Budget is a shared request budget: on average one request per Every,
// with up to Burst more at once. Key names the scope and must be unique
// within the process, e.g. "telegram/main/chat/-1001".
//
// Window and Max, when both are set, add the platform's rolling window:
// at most Max requests in any Window (Telegram: 20 a minute per group, 30
// a second per bot). Every paces the bookings; the window is enforced when
// a request leaves, against the requests that actually left: a request
// goes only while fewer than Max of the budget's requests are in flight or
// finished within the last Window, so no late wake-up or slow transport
// can bunch more than Max into any Window the platform measures.
type Budget struct {
	Key    string
	Every  time.Duration
	Burst  int
	Window time.Duration
	Max    int
}

// RateLimitError is returned by Send and Edit when the platform answered
// 429. The core waits RetryAfter (pausing the whole scope) and retries with
// the latest text; the user never sees it.
type RateLimitError struct {
	RetryAfter time.Duration
	// Global is true when the limit is the bot-wide one, not the chat's.
	Global bool
	Err    error
}

func (e *RateLimitError) Error() string {
	s := fmt.Sprintf("rate limited, retry after %s", e.RetryAfter)
	if e.Global {
		s = "global " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// FormatError is returned by Send and Edit when the platform rejected the
// rendered formatting; the core sends the same text again with Plain set.
type FormatError struct{ Err error }

func (e *FormatError) Error() string { return "formatting rejected: " + e.Err.Error() }
func (e *FormatError) Unwrap() error { return e.Err }

// ErrNoStream is returned by Streamer.OpenStream when native streaming is
// not available for that conversation.
var ErrNoStream = errors.New("native streaming not available")

// Typer is implemented by platforms with a typing indicator.
type Typer interface {
	// Typing shows the indicator in m's chat once (the core repeats it).
	Typing(ctx context.Context, m *Message) error
}

// Deleter is implemented by platforms that can delete the bridge's own
// messages: a message a Replace event left unneeded, and, in cluster
// mode, one a replica posted after it lost the conversation (failure
// window W2). Without it the first is emptied to "…" and the second
// stays.
type Deleter interface {
	Delete(ctx context.Context, s Sent) error
}

// Reactor is implemented by platforms that can react to a message with an
// emoji (error_policy = "reaction").
type Reactor interface {
	React(ctx context.Context, m *Message, emoji string) error
}

// Streamer is implemented by platforms with a native streaming preview
// (Telegram drafts in private chats, Slack chat.startStream).
type Streamer interface {
	// OpenStream starts a native stream answering m, or returns
	// ErrNoStream when it is not available there. It may do no I/O until
	// the first Update.
	OpenStream(ctx context.Context, m *Message) (NativeStream, error)
}

// NativeStream is one native streaming reply. The core drives it like
// Send/Edit (coalesced, paced by its Limits, retried on *RateLimitError)
// and falls back to Send/Edit on any other error, continuing in Message()
// when the stream already made a visible message, so no text is posted
// twice.
type NativeStream interface {
	// Limits returns the pace and budgets of Update calls.
	Limits() Limits
	// Update shows text, the whole first part of the answer so far.
	Update(ctx context.Context, text string) error
	// Finish ends the stream with the final text of the first part and
	// returns the message that now holds it.
	Finish(ctx context.Context, out Out) (Sent, error)
	// Message returns the visible message the stream created, if any, so
	// that the core can continue it with Edit after a failure.
	Message() (Sent, bool)
}

// Completer is implemented by platforms that want to know when the relay
// is done with a message: its reply (or command confirmation) is fully
// written, or it was ignored by the relay's rules.
type Completer interface {
	Completed(m *Message)
}

// RefCodec is implemented by adapters whose Message.Ref or Sent.Ref must
// survive a restart (a Discord interaction token and its expiry, Slack's
// stream target): the inbox keeps the encoding, so that an answer resumed
// after a restart finishes in the messages it had posted. Without it the
// refs are not kept. Both methods do no I/O.
type RefCodec interface {
	// EncodeRef encodes a Message.Ref or a Sent.Ref the adapter made.
	EncodeRef(ref any) ([]byte, error)
	// DecodeRef returns the ref EncodeRef encoded.
	DecodeRef(data []byte) (any, error)
}

// Connector is implemented by adapters that know whether they are
// connected to their platform right now (for /readyz).
type Connector interface {
	Connected() bool
}

// Checker is implemented by adapters that can verify their credentials for
// `bridge check`.
type Checker interface {
	// Check does a few cheap requests and returns a one-line report.
	Check(ctx context.Context) (string, error)
}

// KV is a small durable key-value space for an adapter's own state: the
// Telegram update offset, Slack's seen event IDs. *store.DB provides one
// per namespace.
type KV interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, value []byte) error
	Delete(key string) error
	// Seen records key and reports whether it was already recorded within
	// ttl (for deduplicating platform retries).
	Seen(key string, ttl time.Duration) (bool, error)
}

// Mux is where adapters register HTTP handlers (webhooks) on the
// [http] listen server.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Deps carries what an adapter needs from its environment.
type Deps struct {
	// Logger is scoped once by the caller (platform, instance).
	Logger *slog.Logger
	// HTTPClient sends every request; nil means a default client.
	HTTPClient *http.Client
	// KV keeps the adapter's durable state; nil means in memory.
	KV KV
	// Mux receives webhook handlers; nil when [http] listen is off.
	Mux Mux
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Leader, when set (cluster mode), reports whether this replica does
	// the deployment's one-time job role (e.g. "telegram/main/webhook":
	// setWebhook); false means another replica does it. Nil means this
	// process is the only one. When it is set, the core dedupes every
	// delivery atomically with its acceptance (Cluster.Accept): an adapter
	// must not mark a delivery seen in the shared KV before Handle
	// accepted it, or a replica dying in between loses it.
	Leader func(role string) bool
	// Budgets is the relay's budget state (Relay.Budgets; in cluster mode
	// the deployment's): an adapter books the requests the core does not
	// make for it (lookups, with Take) on it, on the same budgets as the
	// replies, so that together they keep to the platform's limits. Nil
	// means a state of the adapter's own, in memory.
	Budgets BudgetState
}
