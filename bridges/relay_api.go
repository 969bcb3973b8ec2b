package bridges

import (
	"log/slog"
	"slices"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/store"
)

// Store is the conversation store the relay uses. *store.DB and
// bridgestest's in-memory store satisfy it. The store owns idle_reset: Get
// reports a conversation unused that long absent.
type Store interface {
	// Get returns the record of k; ok is false when there is none.
	Get(k Key) (r store.Record, ok bool, err error)
	// Put stores r under k.
	Put(k Key, r store.Record) error
	// Forget removes k's record.
	Forget(k Key) error
}

// Inbox keeps accepted messages durably until they are answered.
// *store.DB satisfies it.
type Inbox interface {
	InboxAdd(e store.InboxEntry) error
	InboxDone(id string) error
	InboxPending() ([]store.InboxEntry, error)
}

// Route says how one platform instance is answered.
type Route struct {
	// Name identifies the instance, "platform/instance"; pending messages
	// in the inbox are matched to their route by it.
	Name string
	// BackendName is the configured backend's name (stored with the
	// conversation): the instance's default backend.
	BackendName string
	Backend     backend.Backend
	// Routes pick another backend for some chats: the first whose Chats
	// holds Message.ChatID or whose Spaces holds Message.Space answers a
	// new conversation there; elsewhere Backend does.
	Routes []ChatRoute
	// Backends are every configured backend by name. A stored
	// conversation keeps being answered by the backend it began with
	// (store.Record.Backend) while that backend is here (or is Backend,
	// or a route's), so a route change applies from the next /reset; a
	// conversation whose backend is gone starts afresh.
	Backends map[string]backend.Backend
	// ThreadContext is how many earlier messages of the thread a
	// conversation starts in are sent with its first question (when the
	// platform is a ThreadReader); zero sends none. cmd/bridge's default
	// is 20.
	ThreadContext int
	// Respond is "mention" (default) or "all".
	Respond string
	// Scope is "chat" (default: one conversation per chat or thread) or
	// "user" (one per user across the instance).
	Scope string
	// EditInterval, when not zero, overrides Limits.EditInterval.
	EditInterval time.Duration
	// Citations appends the answer's sources, at most MaxCitations of
	// them (zero means 5).
	Citations    bool
	MaxCitations int
	// CitationsBy, when it names a backend, overrides Citations and
	// MaxCitations for that backend's answers (routed backends have their
	// own [backends.NAME] citations and max_citations).
	CitationsBy map[string]CitationPolicy
	// Policy holds the access and abuse limits.
	Policy Policy
}

// ChatRoute sends the conversations of some chats to a backend of their
// own.
type ChatRoute struct {
	// Chats are chat or channel IDs (Message.ChatID).
	Chats []string
	// Spaces are Discord guild or Slack team IDs (Message.Space).
	Spaces      []string
	BackendName string
	Backend     backend.Backend
}

// CitationPolicy is how one backend's sources are shown.
type CitationPolicy struct {
	Show bool
	// Max bounds the sources shown; zero means 5.
	Max int
}

// Config configures a Relay.
type Config struct {
	// Store keeps conversations. Required.
	Store Store
	// Logger is the relay's logger; nil discards.
	Logger *slog.Logger
	// LogContent logs message and answer text (at debug level).
	LogContent bool
	// Language, when one of Languages, is the language of every notice
	// ([bridge] language); "" or "auto" gives each user theirs, from
	// Message.Locale.
	Language string
	// QueueSize bounds the messages waiting per conversation; zero means 8.
	QueueSize int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Metrics receives the relay's measurements; nil records nothing.
	Metrics Metrics
	// Inbox, when set, keeps every accepted message durably until its
	// answer has landed (see Relay.Recover).
	Inbox Inbox
	// QuotaKV, when set, keeps the users' daily question counts across
	// restarts; nil keeps them in memory.
	QuotaKV KV
	// PendingMaxAge is how old a pending message found at start-up may be
	// and still be answered; older ones get an apology. It also bounds how
	// long a final text the platform refuses for a passing reason is
	// retried (the message counts as failed, "not_landed", after it).
	// Zero means 10m.
	PendingMaxAge time.Duration
	// Cluster, when set, makes the relay one of N replicas sharing a
	// queue (cluster.go): messages are accepted into it instead of the
	// Inbox, and answered when this replica owns their partition.
	Cluster Cluster
}

// lang is the language of the notices m's author gets.
func (r *Relay) lang(m *Message) string {
	if IsLanguage(r.cfg.Language) {
		return r.cfg.Language
	}
	return LanguageOf(m.Locale)
}

// routed returns the name and backend of the route matching m, the
// instance's default when none does.
func (rt *Route) routed(m *Message) (string, backend.Backend) {
	for _, cr := range rt.Routes {
		if (m.ChatID != "" && slices.Contains(cr.Chats, m.ChatID)) || (m.Space != "" && slices.Contains(cr.Spaces, m.Space)) {
			return cr.BackendName, cr.Backend
		}
	}
	return rt.BackendName, rt.Backend
}

// backendNamed returns the configured backend called name, if any.
func (rt *Route) backendNamed(name string) (backend.Backend, bool) {
	if name == rt.BackendName && rt.Backend != nil {
		return rt.Backend, true
	}
	for _, cr := range rt.Routes {
		if cr.BackendName == name && cr.Backend != nil {
			return cr.Backend, true
		}
	}
	be, ok := rt.Backends[name]
	return be, ok && be != nil
}

// citations returns how backend name's sources are shown.
func (rt *Route) citations(name string) CitationPolicy {
	if p, ok := rt.CitationsBy[name]; ok {
		return p
	}
	return CitationPolicy{Show: rt.Citations, Max: rt.MaxCitations}
}
