package bridges_test

import (
	"time"

	"github.com/chat-bridge/chat-bridge/store"
)

func storeRecord(backendName, conv string) store.Record {
	return store.Record{Backend: backendName, ConversationID: conv, Created: time.Now(), LastUsed: time.Now()}
}
