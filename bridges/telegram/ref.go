package telegram

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// msgRef is what the adapter keeps in bridges.Message.Ref: the draft ID a
// private answer streams under (chosen when the message arrives, so that
// an answer resumed after a restart continues the same draft instead of
// starting a second one) and the message the user replied to, which
// Telegram sends along and ThreadHistory returns. Sent.Ref stays nil: a
// sent message is its chat and message ID.
type msgRef struct {
	DraftID int64       `json:"draft_id,omitempty"`
	Reply   *repliedMsg `json:"reply,omitempty"`
}

// repliedMsg is the replied-to message as Telegram sent it along.
type repliedMsg struct {
	ID      int    `json:"id"`
	FromBot bool   `json:"from_bot,omitempty"`
	Author  string `json:"author,omitempty"`
	Text    string `json:"text,omitempty"`
	Date    int64  `json:"date,omitempty"` // Unix seconds
}

func refOf(m *bridges.Message) *msgRef {
	if r, ok := m.Ref.(*msgRef); ok {
		return r
	}
	return nil
}

// EncodeRef implements bridges.RefCodec for the *msgRef the adapter puts
// in Message.Ref.
func (a *Adapter) EncodeRef(ref any) ([]byte, error) {
	r, ok := ref.(*msgRef)
	if !ok || r == nil {
		return nil, fmt.Errorf("telegram: cannot encode a ref of type %T", ref)
	}
	return json.Marshal(r)
}

// DecodeRef implements bridges.RefCodec.
func (a *Adapter) DecodeRef(data []byte) (any, error) {
	var r msgRef
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("telegram: decode ref: %w", err)
	}
	return &r, nil
}

// lastErr is the instance's last receive-side error (getMe, getUpdates,
// setWebhook, setMyCommands) for /readyz; since is when that error
// first occurred in a row.
type lastErr struct {
	mu    sync.Mutex
	msg   string
	since time.Time
}

func (l *lastErr) set(err error, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if msg := err.Error(); msg != l.msg {
		l.msg, l.since = msg, now
	}
}

// LastError reports the instance's last platform error on the receive
// side (its text has the token redacted) and since when it has been the
// last one; "" when there was none since start.
func (a *Adapter) LastError() (string, time.Time) {
	a.lastErr.mu.Lock()
	defer a.lastErr.mu.Unlock()
	return a.lastErr.msg, a.lastErr.since
}
