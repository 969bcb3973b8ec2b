package main

import (
	"fmt"
	"log/slog"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/store"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
)

var (
	_ bridges.KV    = (*store.KV)(nil)
	_ bridges.Store = (*store.DB)(nil)
	_ bridges.KV    = (*redisstore.KV)(nil)
	_ bridges.Store = (*redisstore.DB)(nil)
	_ bridgeStore   = bboltStore{}
	_ bridgeStore   = redisStore{}
)

// bridgeStore is what the commands use of the store, bbolt or Redis.
type bridgeStore interface {
	bridges.Store
	bridges.Inbox
	// KV returns the key-value space of namespace ("limits",
	// "telegram/main").
	KV(namespace string) bridges.KV
	// List returns every conversation sorted by key (bridge
	// conversations list).
	List() ([]store.Entry, error)
	// Writable is the readiness probe.
	Writable() error
	Close() error
	// Where names the store for logs: the file, or the server without its
	// password and the prefix.
	Where() string
}

type bboltStore struct{ *store.DB }

func (s bboltStore) KV(namespace string) bridges.KV { return s.DB.KV(namespace) }
func (s bboltStore) Where() string                  { return s.Path() }

type redisStore struct{ *redisstore.DB }

func (s redisStore) KV(namespace string) bridges.KV { return s.DB.KV(namespace) }

// decodeStore validates [store]'s kind and the keys of the Redis store:
// kind redis needs url; bbolt ignores url and prefix.
func (c *Config) decodeStore(text, kind, url, prefix string) error {
	switch kind {
	case "", "bbolt":
		c.StoreKind = "bbolt"
	case "redis":
		c.StoreKind = "redis"
		if url == "" {
			return &ConfigError{Key: "store.url", Line: findKeyLine(text, "store.kind"),
				Msg: `missing: kind = "redis" needs url = "redis://[:password@]host:6379/0" or "unix:///path/redis.sock"`}
		}
		if err := redisstore.CheckPrefix(prefix); err != nil {
			return keyError(text, "store.prefix", err.Error())
		}
	default:
		return keyError(text, "store.kind", fmt.Sprintf(`must be "bbolt" or "redis", not %q`, kind))
	}
	c.Redis = redisstore.Config{URL: url, Prefix: prefix, IdleReset: c.Store.IdleReset}
	return nil
}

// openStore opens the configured store (bbolt file or Redis server),
// logging what the Redis server's settings risk; it prints why it failed
// and returns the exit code when it returns nil.
func openStore(cfg *Config, log *slog.Logger, e *env) (bridgeStore, int) {
	db, err := openStoreErr(cfg, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "chat-bridge: %v\n", err)
		return nil, exitRuntime
	}
	return db, exitOK
}

// openStoreErr opens the configured store; a bbolt file another process
// holds is store.ErrInUse.
func openStoreErr(cfg *Config, log *slog.Logger) (bridgeStore, error) {
	if cfg.StoreKind == "redis" {
		rc := cfg.Redis
		rc.IdleReset = cfg.Store.IdleReset
		db, err := redisstore.Open(rc, redisstore.Options{Log: log})
		if err != nil {
			return nil, err
		}
		for _, w := range db.Warnings() {
			log.Warn(w, "store", db.Where())
		}
		return redisStore{db}, nil
	}
	db, err := store.Open(cfg.Store, store.Options{})
	if err != nil {
		return nil, err
	}
	return bboltStore{db}, nil
}
