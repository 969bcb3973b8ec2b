// Package store is chat-bridge's conversation store: one embedded bbolt
// file holding the conversation of each chat or thread, the adapters'
// small key-value spaces (KV) and the relay's durable inbox.
//
// It imports only bbolt, the standard library and backend (for the types
// inside Record). The core (bridges) uses store's types and declares the
// small interfaces it needs; only cmd/bridge opens a *DB.
//
// Layout of the file (schema version 1):
//
//	conversations   Key.String() -> JSON Record
//	meta            "schema_version" -> "1"
//	inbox           InboxEntry.ID -> JSON InboxEntry
//	kv/<namespace>  "data" bucket: key -> value
//	                "seen" bucket: key -> recorded time and ttl
//
// Every write is durable (fsynced) before the method returns. Writes go
// through bbolt's Batch, so concurrent writers share one commit.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is the layout this package reads and writes.
const schemaVersion = 1

var (
	bucketConversations = []byte("conversations")
	bucketMeta          = []byte("meta")
	bucketInbox         = []byte("inbox")
	keySchemaVersion    = []byte("schema_version")
	keyProbe            = []byte("writable_probe")
)

// ErrInUse means another process (or another Open in this process) holds
// the store file. Open wraps it with the file's path.
var ErrInUse = errors.New("the file is in use by another process (is another bridge running?)")

// Config configures the store ([store] in the config file).
type Config struct {
	// Path is the bbolt file; its parent directories are created.
	// Empty means "bridge.db" in the working directory.
	Path string `toml:"path"`
	// IdleReset forgets a conversation not used for this long: Get treats
	// it as absent and deletes it, and List leaves it out. Zero means
	// never. The store is the one owner of [store] idle_reset: the relay
	// starts a new conversation whenever Get reports none.
	IdleReset time.Duration `toml:"idle_reset"`
}

func (c Config) path() string {
	if c.Path == "" {
		return "bridge.db"
	}
	return c.Path
}

// Options carries what the store needs from its environment.
type Options struct {
	// Timeout bounds the wait for the file lock; zero means 1s.
	Timeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return time.Second
	}
	return o.Timeout
}

// DB is an open store. Its methods are safe for concurrent use.
type DB struct {
	bolt      *bolt.DB
	path      string
	idleReset time.Duration
	now       func() time.Time

	mu  sync.Mutex
	kvs map[string]*KV
}

// Open opens the store file, creating it (and its parent directories) when
// missing. It fails within opt.Timeout when another process holds the file
// (the error wraps ErrInUse), and refuses a file written by a newer schema.
func Open(cfg Config, opt Options) (*DB, error) {
	path := cfg.path()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.timeout()})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %q: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	if err := bdb.Update(initSchema); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	return &DB{bolt: bdb, path: path, idleReset: cfg.IdleReset, now: now, kvs: map[string]*KV{}}, nil
}

// initSchema checks the schema version, then creates the top-level buckets
// and records the version.
func initSchema(tx *bolt.Tx) error {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		if v := meta.Get(keySchemaVersion); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("bad schema version %q", v)
			}
			if n > schemaVersion {
				return fmt.Errorf("schema version %d is newer than this bridge supports (%d): upgrade the bridge", n, schemaVersion)
			}
		}
	}
	for _, name := range [][]byte{bucketConversations, bucketMeta, bucketInbox} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(strconv.Itoa(schemaVersion)))
}

// Path returns the store file's path.
func (db *DB) Path() string { return db.path }

// Close closes the file. It waits for running transactions and is safe to
// call more than once.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Writable reports whether the store accepts a durable write (a write
// transaction touching meta). It is the store's readiness probe.
func (db *DB) Writable() error {
	stamp := []byte(db.now().UTC().Format(time.RFC3339Nano))
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyProbe, stamp)
	})
	if err != nil {
		return fmt.Errorf("store not writable: %w", err)
	}
	return nil
}

// Get returns k's record; ok is false when there is none. With IdleReset
// set, a record whose LastUsed is older than IdleReset is deleted and
// reported absent.
func (db *DB) Get(k Key) (r Record, ok bool, err error) {
	key := []byte(k.String())
	var data []byte
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketConversations).Get(key); v != nil {
			data = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("get conversation %s: %w", key, err)
	}
	if data == nil {
		return Record{}, false, nil
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, false, fmt.Errorf("get conversation %s: decode: %w", key, err)
	}
	if db.idle(r) {
		if err := db.forgetIdle(key); err != nil {
			return Record{}, false, fmt.Errorf("get conversation %s: %w", key, err)
		}
		return Record{}, false, nil
	}
	return r, true, nil
}

// idle reports whether r has been unused longer than IdleReset.
func (db *DB) idle(r Record) bool {
	return db.idleReset > 0 && r.LastUsed.Before(db.now().Add(-db.idleReset))
}

// forgetIdle deletes key if its record is still idle: a Put between the
// read and this write wins.
func (db *DB) forgetIdle(key []byte) error {
	return db.bolt.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConversations)
		v := b.Get(key)
		if v == nil {
			return nil
		}
		var r Record
		if json.Unmarshal(v, &r) == nil && !db.idle(r) {
			return nil
		}
		return b.Delete(key)
	})
}

// Put stores r under k, durably, before it returns. Concurrent Puts share
// one commit.
func (db *DB) Put(k Key, r Record) error {
	key := []byte(k.String())
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put conversation %s: encode: %w", key, err)
	}
	err = db.bolt.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConversations).Put(key, data)
	})
	if err != nil {
		return fmt.Errorf("put conversation %s: %w", key, err)
	}
	return nil
}

// Forget removes k's record; forgetting an absent key is not an error.
func (db *DB) Forget(k Key) error {
	key := []byte(k.String())
	err := db.bolt.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConversations).Delete(key)
	})
	if err != nil {
		return fmt.Errorf("forget conversation %s: %w", key, err)
	}
	return nil
}

// Entry is one stored conversation, as List returns it.
type Entry struct {
	// Key is the conversation key's String form.
	Key    string
	Record Record
}

// List returns every conversation sorted by key, leaving out those Get
// would report absent because they are idle.
func (db *DB) List() ([]Entry, error) {
	var out []Entry
	err := readAll(db, bucketConversations, func(k []byte, r Record) {
		if !db.idle(r) {
			out = append(out, Entry{Key: string(k), Record: r})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return out, nil
}

// readAll calls fn with every key of bucket and its JSON value decoded as
// a T, in key order, in one read transaction. k is bolt's and valid only
// during the call. A value that does not decode ends the read with an
// error naming its key.
func readAll[T any](db *DB, bucket []byte, fn func(k []byte, v T)) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, data []byte) error {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("decode %s: %w", k, err)
			}
			fn(k, v)
			return nil
		})
	})
}
