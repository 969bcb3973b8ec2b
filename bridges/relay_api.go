package bridges

import (
	"log/slog"
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
	// conversation).
	BackendName string
	Backend     backend.Backend
	// Respond is "mention" (default) or "all".
	Respond string
	// Scope is "chat" (default: one conversation per chat or thread) or
	// "user" (one per user across the instance).
	Scope string
	// EditInterval, when not zero, overrides Limits.EditInterval.
	EditInterval time.Duration
	// Citations appends the answer's sources.
	Citations bool
	// Policy holds the access and abuse limits.
	Policy Policy
}

// Config configures a Relay.
type Config struct {
	// Store keeps conversations. Required.
	Store Store
	// Logger is the relay's logger; nil discards.
	Logger *slog.Logger
	// LogContent logs message and answer text (at debug level).
	LogContent bool
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
}
