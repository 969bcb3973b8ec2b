// Package redis is chat-bridge's conversation store on a Redis server
// (7.0 or later, or a protocol-compatible one), shared by every replica of
// a cluster-mode deployment ([store] kind = "redis"). It keeps the same
// contract as the bbolt store in package store — conversations, the
// adapters' KV namespaces (values and Seen marks), the relay's inbox and
// the daily quotas (the "limits" KV) — and adds the cluster building
// blocks: an atomic accept into per-partition streams, fenced leases and
// fenced completion (queue.go, lease.go).
//
// It imports only go-redis, the standard library and store (for Key,
// Record, Entry and InboxEntry); the core declares the interfaces it
// needs, and only cmd/bridge opens a *DB.
//
// Layout, every key under Config.Prefix (P):
//
//	P:meta                 HASH schema_version, writable_probe, partitions
//	P:conv:<Key.String()>  STRING JSON Record (PX idle_reset + 1m when set)
//	P:inbox                HASH InboxEntry.ID -> JSON InboxEntry
//	P:kv:<len>:<ns>        HASH key -> value (namespace ns, len = len(ns))
//	P:kv:<len>:<ns>:seen:<key>        STRING recording time (µs), PX ttl
//	P:kv:<len>:<ns>:day:<day>:<key>   STRING count (CountDaily), PX 48h
//	P:lease:<name>, P:epoch:<name>    fenced leases (lease.go)
//	P:pNN:in, P:pNN:seen:<id>, P:pNN:reply:<id>  partitions (queue.go)
//	P:replicas                        ZSET live replicas (members.go)
//	P:leasefree                       HASH when a lease was first seen free (leaseview.go)
//	P:budget:<key>, P:budget:<key>:win  shared budgets (budget.go)
//	P:ctl, P:ctl:reply:<id>, P:ctl:edit:<entry>  controls between replicas (control.go)
//	P:secret:<name>                   STRING a value shared by the replicas (shared_secret.go)
//
// A write returns once the server has applied it; it is on disk then when
// the server runs with appendonly yes and appendfsync always (Open checks
// the settings, see Warnings). Only single-node servers (optionally behind
// Sentinel) are supported, not Redis Cluster.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/chat-bridge/chat-bridge/store"
)

// schemaVersion is the layout this package reads and writes.
const schemaVersion = 1

// DefaultPrefix is Config.Prefix when it is empty.
const DefaultPrefix = "chat-bridge"

// idleSlack is added to the server-side expiry of an idle-reset
// conversation, so that the server never drops a record before the
// store's own idle check would (the check decides; the expiry bounds
// memory).
const idleSlack = time.Minute

// Config configures the store ([store] in the config file).
type Config struct {
	// URL is redis://[user:password@]host:port/db, rediss:// for TLS, or
	// unix:///path/to/redis.sock[?db=N]. Required.
	URL string `toml:"url"`
	// Prefix starts every key, so deployments can share a server. Letters,
	// digits and . _ / - only. Empty means "chat-bridge".
	Prefix string `toml:"prefix"`
	// IdleReset forgets a conversation not used for this long: Get treats
	// it as absent and deletes it, and the server expires it. Zero means
	// never.
	IdleReset time.Duration `toml:"idle_reset"`
}

func (c Config) prefix() string {
	if c.Prefix == "" {
		return DefaultPrefix
	}
	return c.Prefix
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// CheckPrefix reports whether prefix (empty: the default) is usable.
func CheckPrefix(prefix string) error {
	if prefix != "" && !prefixRE.MatchString(prefix) {
		return fmt.Errorf("prefix %q: use letters, digits and . _ / - only", prefix)
	}
	return nil
}

// Options carries what the store needs from its environment.
type Options struct {
	// Timeout bounds connecting and each command's network wait; zero
	// means 5s.
	Timeout time.Duration
	// Now returns the current time; nil means time.Now for records and
	// the server's clock (TIME) for Seen, so replicas agree on expiry.
	Now func() time.Time
	// Log receives the Redis client library's own messages (pool dial
	// failures and the like), at warn level; nil means slog.Default.
	Log *slog.Logger
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 5 * time.Second
	}
	return o.Timeout
}

// DB is an open store. Its methods are safe for concurrent use.
type DB struct {
	rdb       *goredis.Client
	prefix    string
	where     string // the redacted URL
	idleReset time.Duration
	now       func() time.Time
	fakeNow   bool // Options.Now was set: Seen uses it, not TIME
	warnings  []string

	mu  sync.Mutex
	kvs map[string]*KV

	closeOnce sync.Once
	closeErr  error
	unlog     func()
}

// Redact returns rawURL with its password replaced by "xxxxx" and its
// query reduced to db=, for logs and errors. A URL that does not parse is
// replaced entirely.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(invalid redis URL)"
	}
	q := u.Query()
	u.RawQuery = ""
	if db := q.Get("db"); db != "" {
		u.RawQuery = url.Values{"db": {db}}.Encode()
	}
	return u.Redacted()
}

// parseURL parses cfg.URL with go-redis, keeping the password out of every
// error (net/url's errors quote the whole URL).
func parseURL(raw string) (*goredis.Options, error) {
	if raw == "" {
		return nil, errors.New("url is empty: set it to redis://[:password@]host:port/db or unix:///path/redis.sock")
	}
	if _, err := url.Parse(raw); err != nil {
		return nil, errors.New("url is not a valid URL: use redis://[:password@]host:port/db or unix:///path/redis.sock")
	}
	o, err := goredis.ParseURL(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, errors.New("url is not a valid URL: use redis://[:password@]host:port/db or unix:///path/redis.sock")
		}
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		if pw := passwordOf(raw); pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
			msg = strings.ReplaceAll(msg, url.QueryEscape(pw), "xxxxx")
		}
		return nil, fmt.Errorf("url: %s", msg)
	}
	return o, nil
}

func passwordOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// Open connects to the server at cfg.URL, checks that it answers, that the
// stored layout is not newer than this package's, and that its settings
// keep the data (see Warnings). It refuses a server whose
// maxmemory-policy evicts keys. Errors name the URL without its password.
func Open(cfg Config, opt Options) (*DB, error) {
	where := Redact(cfg.URL)
	fail := func(err error) (*DB, error) { return nil, fmt.Errorf("open redis store %s: %w", where, err) }
	if err := CheckPrefix(cfg.Prefix); err != nil {
		return fail(err)
	}
	o, err := parseURL(cfg.URL)
	if err != nil {
		return fail(err)
	}
	o.DialTimeout = opt.timeout()
	o.ReadTimeout = opt.timeout()
	o.WriteTimeout = opt.timeout()
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	db := &DB{
		rdb: goredis.NewClient(o), prefix: cfg.prefix(), where: where,
		idleReset: cfg.IdleReset, now: opt.Now, fakeNow: opt.Now != nil, kvs: map[string]*KV{},
	}
	if db.now == nil {
		db.now = time.Now
	}
	db.unlog = useLog(opt.Log, o.Password)
	ctx, cancel := context.WithTimeout(context.Background(), 2*opt.timeout())
	defer cancel()
	if err := db.rdb.Ping(ctx).Err(); err != nil {
		db.rdb.Close()
		db.unlog()
		return fail(db.clean(err))
	}
	if db.warnings, err = checkServer(ctx, db.rdb); err != nil {
		db.rdb.Close()
		db.unlog()
		return fail(err)
	}
	if err := db.initSchema(ctx); err != nil {
		db.rdb.Close()
		db.unlog()
		return fail(err)
	}
	return db, nil
}

// clean removes the password from an error's text, should a library or
// server message ever quote it.
func (db *DB) clean(err error) error {
	if err == nil {
		return nil
	}
	if pw := db.rdb.Options().Password; pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

func (db *DB) initSchema(ctx context.Context) error {
	meta := db.key("meta")
	v, err := db.rdb.HGet(ctx, meta, "schema_version").Result()
	switch {
	case errors.Is(err, goredis.Nil):
		ok, err := db.rdb.HSetNX(ctx, meta, "schema_version", strconv.Itoa(schemaVersion)).Result()
		if err != nil {
			return db.clean(err)
		}
		if !ok { // another replica initialised it just now
			return db.initSchema(ctx)
		}
		return nil
	case err != nil:
		return db.clean(err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("bad schema version %q under prefix %q", v, db.prefix)
	}
	if n > schemaVersion {
		return fmt.Errorf("schema version %d under prefix %q is newer than this bridge supports (%d): upgrade the bridge", n, db.prefix, schemaVersion)
	}
	return nil
}

// key returns the server key of name under the prefix.
func (db *DB) key(name string) string { return db.prefix + ":" + name }

func (db *DB) convKey(k store.Key) string { return db.key("conv:" + k.String()) }

// ctx is the context of the methods that take none; each command is
// bounded by Options.Timeout.
func (db *DB) ctx() context.Context { return context.Background() }

// Where returns the server's URL without its password and the prefix,
// for logs: "redis://:xxxxx@host:6379/0 prefix chat-bridge".
func (db *DB) Where() string { return db.where + " prefix " + db.prefix }

// Warnings returns what Open found unsafe but not fatal in the server's
// settings (AOF off, appendfsync no, CONFIG unavailable); the caller logs
// them.
func (db *DB) Warnings() []string { return slices.Clone(db.warnings) }

// Client returns the go-redis client, for tests and for the cluster
// building blocks of other packages. Keys outside the prefix are not the
// store's.
func (db *DB) Client() *goredis.Client { return db.rdb }

// Close closes the connections. It is safe to call more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		defer db.unlog()
		if err := db.rdb.Close(); err != nil {
			db.closeErr = fmt.Errorf("close redis store: %w", err)
		}
	})
	return db.closeErr
}

// Writable reports whether the server accepts a write (one HSET on
// meta). It is the store's readiness probe.
func (db *DB) Writable() error {
	stamp := db.now().UTC().Format(time.RFC3339Nano)
	if err := db.rdb.HSet(db.ctx(), db.key("meta"), "writable_probe", stamp).Err(); err != nil {
		return fmt.Errorf("store not writable: %w", db.clean(err))
	}
	return nil
}

// Get returns k's record; ok is false when there is none. With IdleReset
// set, a record whose LastUsed is older than IdleReset is deleted and
// reported absent.
func (db *DB) Get(k store.Key) (r store.Record, ok bool, err error) {
	key := db.convKey(k)
	data, err := db.rdb.Get(db.ctx(), key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.Record{}, false, nil
	}
	if err != nil {
		return store.Record{}, false, fmt.Errorf("get conversation %s: %w", k, db.clean(err))
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return store.Record{}, false, fmt.Errorf("get conversation %s: decode: %w", k, err)
	}
	if db.idle(r) {
		if err := db.forgetIdle(key); err != nil {
			return store.Record{}, false, fmt.Errorf("get conversation %s: %w", k, err)
		}
		return store.Record{}, false, nil
	}
	return r, true, nil
}

// idle reports whether r has been unused longer than IdleReset.
func (db *DB) idle(r store.Record) bool {
	return db.idleReset > 0 && r.LastUsed.Before(db.now().Add(-db.idleReset))
}

// forgetIdle deletes key if its record is still idle: a Put between the
// read and this write wins (optimistic WATCH/MULTI).
func (db *DB) forgetIdle(key string) error {
	err := db.rdb.Watch(db.ctx(), func(tx *goredis.Tx) error {
		data, err := tx.Get(db.ctx(), key).Bytes()
		if errors.Is(err, goredis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		var r store.Record
		if json.Unmarshal(data, &r) == nil && !db.idle(r) {
			return nil
		}
		_, err = tx.TxPipelined(db.ctx(), func(p goredis.Pipeliner) error {
			p.Del(db.ctx(), key)
			return nil
		})
		return err
	}, key)
	if errors.Is(err, goredis.TxFailedErr) {
		return nil // written meanwhile: that write wins
	}
	return db.clean(err)
}

// expiry is the server-side lifetime of a record: none without
// IdleReset, else until IdleReset after its LastUsed plus idleSlack.
func (db *DB) expiry(r store.Record) time.Duration {
	if db.idleReset <= 0 {
		return 0
	}
	return db.idleReset + max(0, r.LastUsed.Sub(db.now())) + idleSlack
}

// Put stores r under k before it returns.
func (db *DB) Put(k store.Key, r store.Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put conversation %s: encode: %w", k, err)
	}
	if err := db.rdb.Set(db.ctx(), db.convKey(k), data, db.expiry(r)).Err(); err != nil {
		return fmt.Errorf("put conversation %s: %w", k, db.clean(err))
	}
	return nil
}

// Forget removes k's record; forgetting an absent key is not an error.
func (db *DB) Forget(k store.Key) error {
	if err := db.rdb.Del(db.ctx(), db.convKey(k)).Err(); err != nil {
		return fmt.Errorf("forget conversation %s: %w", k, db.clean(err))
	}
	return nil
}

// List returns every conversation sorted by key, leaving out those Get
// would report absent because they are idle. It scans the prefix's
// conversation keys (SCAN, so the server is never blocked).
func (db *DB) List() ([]store.Entry, error) {
	ctx := db.ctx()
	pre := db.key("conv:")
	seen := map[string]bool{}
	var keys []string
	iter := db.rdb.Scan(ctx, 0, pre+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("list conversations: %w", db.clean(err))
	}
	slices.Sort(keys)
	var out []store.Entry
	for chunk := range slices.Chunk(keys, 500) {
		vals, err := db.rdb.MGet(ctx, chunk...).Result()
		if err != nil {
			return nil, fmt.Errorf("list conversations: %w", db.clean(err))
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // deleted since the scan
			}
			var r store.Record
			if err := json.Unmarshal([]byte(s), &r); err != nil {
				return nil, fmt.Errorf("list conversations: decode %s: %w", chunk[i], err)
			}
			if !db.idle(r) {
				out = append(out, store.Entry{Key: strings.TrimPrefix(chunk[i], pre), Record: r})
			}
		}
	}
	return out, nil
}
