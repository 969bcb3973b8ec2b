package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// InboxEntry is one incoming message the relay has accepted but not yet
// answered. It survives a restart until InboxDone removes it.
type InboxEntry struct {
	// ID is unique per entry; adding an existing ID replaces that entry
	// (e.g. to count another attempt).
	ID string `json:"id"`
	// Key is the conversation key's String form.
	Key string `json:"key"`
	// Payload is the message, encoded by the relay.
	Payload []byte `json:"payload"`
	// Received is when the bridge received the message; InboxPending
	// returns the oldest first.
	Received time.Time `json:"received"`
	// Attempts counts the tries to answer it.
	Attempts int `json:"attempts,omitempty"`
	// Ref is the adapter's own encoding of the message's reference (a
	// Discord interaction token, a Slack response target), nil when it
	// has none. The store never looks inside.
	Ref []byte `json:"ref,omitempty"`
	// Posted are the messages the answer has posted so far, part 0
	// first, so that an answer resumed after a restart continues in
	// them instead of posting again. Entries written before this field
	// existed decode with none.
	Posted []PostedMessage `json:"posted,omitempty"`
}

// PostedMessage is one platform message an answer posted.
type PostedMessage struct {
	ChatID string `json:"chat_id,omitempty"`
	ID     string `json:"id"`
	// Ref is the adapter's encoding of the message's reference.
	Ref []byte `json:"ref,omitempty"`
}

// InboxAdd stores e, durably, before it returns. Concurrent adds share one
// commit.
func (db *DB) InboxAdd(e InboxEntry) error {
	if e.ID == "" {
		return errors.New("inbox add: empty ID")
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("inbox add %s: encode: %w", e.ID, err)
	}
	err = db.bolt.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInbox).Put([]byte(e.ID), data)
	})
	if err != nil {
		return fmt.Errorf("inbox add %s: %w", e.ID, err)
	}
	return nil
}

// InboxDone removes the entry id; removing an absent one is not an error.
func (db *DB) InboxDone(id string) error {
	err := db.bolt.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInbox).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("inbox done %s: %w", id, err)
	}
	return nil
}

// InboxPending returns every entry, oldest Received first (ties by ID).
func (db *DB) InboxPending() ([]InboxEntry, error) {
	var out []InboxEntry
	err := readAll(db, bucketInbox, func(_ []byte, e InboxEntry) {
		out = append(out, e)
	})
	if err != nil {
		return nil, fmt.Errorf("inbox pending: %w", err)
	}
	slices.SortFunc(out, func(a, b InboxEntry) int {
		return cmp.Or(a.Received.Compare(b.Received), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// InboxLen returns the number of entries.
func (db *DB) InboxLen() (int, error) {
	var n int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketInbox).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("inbox len: %w", err)
	}
	return n, nil
}
