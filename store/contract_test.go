package store_test

import (
	"path/filepath"
	"testing"

	"github.com/chat-bridge/chat-bridge/store"
	"github.com/chat-bridge/chat-bridge/store/storetest"
)

// bbolt adapts *store.DB to storetest.Store (KV returns the interface).
type bbolt struct{ *store.DB }

func (b bbolt) KV(namespace string) storetest.KV { return b.DB.KV(namespace) }

// TestContract runs the store contract suite on bbolt; each test gets a
// fresh file.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "bridge.db")
		return func(t *testing.T, opt storetest.Options) storetest.Store {
			db, err := store.Open(store.Config{Path: path, IdleReset: opt.IdleReset}, store.Options{Now: opt.Now})
			if err != nil {
				t.Fatalf("Open(%s) = %v", path, err)
			}
			t.Cleanup(func() { db.Close() })
			return bbolt{db}
		}
	})
}
