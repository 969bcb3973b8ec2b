package store

import bolt "go.etcd.io/bbolt"

// PruneEvery exports pruneEvery to the package's external tests.
const PruneEvery = pruneEvery

// SeenEntries is how many entries kv's seen bucket holds.
func SeenEntries(db *DB, kv *KV) int {
	var n int
	db.bolt.View(func(tx *bolt.Tx) error {
		n = kv.sub(tx, bucketKVSeen).Stats().KeyN
		return nil
	})
	return n
}
