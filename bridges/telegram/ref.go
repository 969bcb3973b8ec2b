package telegram

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// msgRef is what the adapter keeps in bridges.Message.Ref: the message
// the user replied to, which Telegram sends along and ThreadHistory
// returns. The inbox keeps it (RefCodec), so that an answer resumed after
// a restart still has it. Sent.Ref stays nil: a sent message is its chat
// and message ID; a private answer's draft_id is its question's message
// ID (draftID), the same after a restart.
type msgRef struct {
	Reply *repliedMsg `json:"reply,omitempty"`
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

// topicRing keeps the last messages the adapter has seen in each forum
// topic (the users' messages it received), for ThreadHistory: Telegram
// has no method to read a topic. Bounded: ringTopics topics (the oldest
// forgotten first), ringSize messages each. In memory only.
type topicRing struct {
	mu     sync.Mutex
	topics map[[2]int64][]seenMsg
	order  [][2]int64 // topics, oldest first
}

type seenMsg struct {
	id int
	tm bridges.ThreadMessage
}

const (
	ringTopics = 256
	ringSize   = 50
)

func (r *topicRing) add(chat int64, thread, id int, tm bridges.ThreadMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]int64{chat, int64(thread)}
	if r.topics == nil {
		r.topics = map[[2]int64][]seenMsg{}
	}
	msgs, ok := r.topics[k]
	if !ok {
		if len(r.order) >= ringTopics {
			delete(r.topics, r.order[0])
			r.order = r.order[1:]
		}
		r.order = append(r.order, k)
	}
	msgs = append(msgs, seenMsg{id: id, tm: tm})
	if len(msgs) > ringSize {
		msgs = append(msgs[:0:0], msgs[len(msgs)-ringSize:]...)
	}
	r.topics[k] = msgs
}

// before returns the messages seen in the topic before message id, oldest
// first.
func (r *topicRing) before(chat int64, thread, id int) []seenMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []seenMsg
	for _, m := range r.topics[[2]int64{chat, int64(thread)}] {
		if m.id < id {
			out = append(out, m)
		}
	}
	return out
}
