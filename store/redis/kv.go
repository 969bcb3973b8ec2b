package redis

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// KV is a key-value space of one namespace, for an adapter's own state (an
// update offset, seen event IDs, followed threads, migrations) and the
// relay's quotas. It has the method set of bridges.KV and is safe for
// concurrent use; every replica sharing the prefix sees the same values.
type KV struct {
	db   *DB
	ns   string
	data string // the hash of values
	seen string // the prefix of the Seen keys
}

// KV returns the key-value space of namespace (e.g. "telegram/main"). The
// same namespace yields the same *KV.
func (db *DB) KV(namespace string) *KV {
	db.mu.Lock()
	defer db.mu.Unlock()
	kv, ok := db.kvs[namespace]
	if !ok {
		// The namespace's length keeps namespaces holding ':' apart.
		base := db.key("kv:" + strconv.Itoa(len(namespace)) + ":" + namespace)
		kv = &KV{db: db, ns: namespace, data: base, seen: base + ":seen:"}
		db.kvs[namespace] = kv
	}
	return kv
}

// Get returns key's value; ok is false when there is none.
func (kv *KV) Get(key string) (value []byte, ok bool, err error) {
	v, err := kv.db.rdb.HGet(kv.db.ctx(), kv.data, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kv %s get %q: %w", kv.ns, key, kv.db.clean(err))
	}
	return v, true, nil
}

// Put stores value under key before it returns.
func (kv *KV) Put(key string, value []byte) error {
	if err := kv.db.rdb.HSet(kv.db.ctx(), kv.data, key, value).Err(); err != nil {
		return fmt.Errorf("kv %s put %q: %w", kv.ns, key, kv.db.clean(err))
	}
	return nil
}

// Delete removes key; deleting an absent key is not an error. Seen marks
// are apart from values and stay.
func (kv *KV) Delete(key string) error {
	if err := kv.db.rdb.HDel(kv.db.ctx(), kv.data, key).Err(); err != nil {
		return fmt.Errorf("kv %s delete %q: %w", kv.ns, key, kv.db.clean(err))
	}
	return nil
}

// seenScript records a Seen mark unless one younger than the caller's ttl
// exists, in one atomic step (so two replicas seeing the same event
// concurrently get exactly one false). The mark holds its recording time
// in µs and expires on the server after the ttl it was recorded with.
//
// KEYS[1] the mark; ARGV[1] now in µs, or "" for the server's clock;
// ARGV[2] the caller's ttl in µs; ARGV[3] the expiry in ms (0: record
// nothing, a zero ttl never matches). Returns 1 when seen.
var seenScript = goredis.NewScript(`
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local at = tonumber(redis.call('GET', KEYS[1]))
if at and now - at < tonumber(ARGV[2]) then
  return 1
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', now), 'PX', ARGV[3])
end
return 0
`)

// Seen records key and reports whether it was already recorded within
// ttl. A key seen again within ttl keeps its first time, so it expires
// ttl after it was first recorded. The server deletes a mark once the ttl
// it was recorded with has passed.
func (kv *KV) Seen(key string, ttl time.Duration) (bool, error) {
	now := ""
	if kv.db.fakeNow {
		now = strconv.FormatInt(kv.db.now().UnixMicro(), 10)
	}
	ms := int64(0)
	if ttl > 0 {
		ms = max(1, (ttl.Microseconds()+999)/1000)
	}
	n, err := seenScript.Run(kv.db.ctx(), kv.db.rdb, []string{kv.seen + key}, now, ttl.Microseconds(), ms).Int()
	if err != nil {
		return false, fmt.Errorf("kv %s seen %q: %w", kv.ns, key, kv.db.clean(err))
	}
	return n == 1, nil
}
