package store

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneEvery is how many Seen calls on one namespace pass between scans
// that delete expired Seen entries, keeping the bucket bounded.
const pruneEvery = 256

var (
	bucketKVData = []byte("data")
	bucketKVSeen = []byte("seen")
)

// KV is a durable key-value space of one namespace, for an adapter's own
// state (an update offset, seen event IDs). It has the method set of
// bridges.KV and is safe for concurrent use.
type KV struct {
	db     *DB
	bucket []byte
	seens  atomic.Uint64
}

// KV returns the key-value space of namespace (e.g. "telegram/main"),
// stored in the bucket kv/<namespace>. The same namespace yields the same
// *KV. Buckets are created on the first write.
func (db *DB) KV(namespace string) *KV {
	db.mu.Lock()
	defer db.mu.Unlock()
	kv, ok := db.kvs[namespace]
	if !ok {
		kv = &KV{db: db, bucket: []byte("kv/" + namespace)}
		db.kvs[namespace] = kv
	}
	return kv
}

// sub returns the sub-bucket name of kv's bucket, or nil when either is
// missing (read-only transactions create nothing).
func (kv *KV) sub(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(kv.bucket)
	if b == nil {
		return nil
	}
	return b.Bucket(name)
}

// create returns the sub-bucket name of kv's bucket, creating both.
func (kv *KV) create(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(kv.bucket)
	if err != nil {
		return nil, err
	}
	return b.CreateBucketIfNotExists(name)
}

// Get returns key's value; ok is false when there is none.
func (kv *KV) Get(key string) (value []byte, ok bool, err error) {
	err = kv.db.bolt.View(func(tx *bolt.Tx) error {
		if b := kv.sub(tx, bucketKVData); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				value, ok = append([]byte{}, v...), true
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("kv %s get %q: %w", kv.bucket, key, err)
	}
	return value, ok, nil
}

// Put stores value under key, durably, before it returns.
func (kv *KV) Put(key string, value []byte) error {
	v := append([]byte{}, value...)
	err := kv.db.bolt.Batch(func(tx *bolt.Tx) error {
		b, err := kv.create(tx, bucketKVData)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("kv %s put %q: %w", kv.bucket, key, err)
	}
	return nil
}

// Delete removes key; deleting an absent key is not an error.
func (kv *KV) Delete(key string) error {
	err := kv.db.bolt.Batch(func(tx *bolt.Tx) error {
		if b := kv.sub(tx, bucketKVData); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kv %s delete %q: %w", kv.bucket, key, err)
	}
	return nil
}

// Seen records key and reports whether it was already recorded within
// ttl. A key seen again within ttl keeps its first time, so it expires
// ttl after it was first recorded. Every pruneEvery calls, Seen also
// deletes the entries older than the ttl they were recorded with.
func (kv *KV) Seen(key string, ttl time.Duration) (seen bool, err error) {
	now := kv.db.now()
	prune := kv.seens.Add(1)%pruneEvery == 0
	err = kv.db.bolt.Batch(func(tx *bolt.Tx) error {
		seen = false // Batch may run this function again
		b, err := kv.create(tx, bucketKVSeen)
		if err != nil {
			return err
		}
		if prune {
			if err := pruneSeen(b, now); err != nil {
				return err
			}
		}
		if at, _, ok := decodeSeen(b.Get([]byte(key))); ok && now.Sub(at) < ttl {
			seen = true
			return nil
		}
		return b.Put([]byte(key), encodeSeen(now, ttl))
	})
	if err != nil {
		return false, fmt.Errorf("kv %s seen %q: %w", kv.bucket, key, err)
	}
	return seen, nil
}

// pruneSeen deletes the entries of b expired at now.
func pruneSeen(b *bolt.Bucket, now time.Time) error {
	var expired [][]byte
	err := b.ForEach(func(k, v []byte) error {
		at, ttl, ok := decodeSeen(v)
		if !ok || !now.Before(at.Add(ttl)) {
			expired = append(expired, append([]byte{}, k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// encodeSeen encodes a Seen entry: the recording time in Unix nanoseconds
// and the ttl in nanoseconds, both big-endian.
func encodeSeen(at time.Time, ttl time.Duration) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(v[8:], uint64(ttl))
	return v
}

func decodeSeen(v []byte) (at time.Time, ttl time.Duration, ok bool) {
	if len(v) != 16 {
		return time.Time{}, 0, false
	}
	at = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	return at, time.Duration(binary.BigEndian.Uint64(v[8:])), true
}
