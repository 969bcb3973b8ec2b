package redis

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/chat-bridge/chat-bridge/store"
)

// The inbox is one hash, P:inbox, of InboxEntry.ID -> JSON entry: the same
// contract as the bbolt inbox, for a single answering process. Replicas
// answering together use the partition queue (queue.go) instead.

// InboxAdd stores e before it returns; adding an existing ID replaces it.
func (db *DB) InboxAdd(e store.InboxEntry) error {
	if e.ID == "" {
		return errors.New("inbox add: empty ID")
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("inbox add %s: encode: %w", e.ID, err)
	}
	if err := db.rdb.HSet(db.ctx(), db.key("inbox"), e.ID, data).Err(); err != nil {
		return fmt.Errorf("inbox add %s: %w", e.ID, db.clean(err))
	}
	return nil
}

// InboxDone removes the entry id; removing an absent one is not an error.
func (db *DB) InboxDone(id string) error {
	if err := db.rdb.HDel(db.ctx(), db.key("inbox"), id).Err(); err != nil {
		return fmt.Errorf("inbox done %s: %w", id, db.clean(err))
	}
	return nil
}

// InboxPending returns every entry, oldest Received first (ties by ID).
func (db *DB) InboxPending() ([]store.InboxEntry, error) {
	all, err := db.rdb.HGetAll(db.ctx(), db.key("inbox")).Result()
	if err != nil {
		return nil, fmt.Errorf("inbox pending: %w", db.clean(err))
	}
	var out []store.InboxEntry
	for id, v := range all {
		var e store.InboxEntry
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			return nil, fmt.Errorf("inbox pending: decode %s: %w", id, err)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.InboxEntry) int {
		return cmp.Or(a.Received.Compare(b.Received), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// InboxLen returns the number of entries.
func (db *DB) InboxLen() (int, error) {
	n, err := db.rdb.HLen(db.ctx(), db.key("inbox")).Result()
	if err != nil {
		return 0, fmt.Errorf("inbox len: %w", db.clean(err))
	}
	return int(n), nil
}
