package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Controls are the out-of-band requests one replica sends the others — a
// /stop, or an edit of a question — when the conversation's answer may
// run elsewhere. They are not queued: a control is about an answer that
// runs now, so it is published to every replica and answered through a
// short-lived reply list; one lost (the server restarted, a replica was
// reconnecting) is simply not answered, and the sender's wait ends.
//
//	P:ctl                  pub/sub channel of the controls (opaque payloads)
//	P:ctl:reply:<id>       LIST of the answers to control id, in order (RPUSH, BLPOP), PX ControlReplyTTL
//	P:ctl:edit:<entry>     STRING the newest edit of a queued entry, PX ttl
//
// The edit key covers the one window pub/sub cannot: an edited question
// still in its partition's stream, not yet handed to its owner. The owner
// reads it (Edits) after queueing what it read.

// ControlReplyTTL bounds how long an answer nobody waits for stays.
const ControlReplyTTL = 30 * time.Second

func (db *DB) controlChannel() string { return db.key("ctl") }

// PublishControl sends payload to every subscribed replica (this one
// included) and returns how many received it: zero means nobody can
// answer.
func (db *DB) PublishControl(ctx context.Context, payload []byte) (int64, error) {
	n, err := db.rdb.Publish(ctx, db.controlChannel(), payload).Result()
	if err != nil {
		return 0, fmt.Errorf("publish control: %w", db.clean(err))
	}
	return n, nil
}

// ControlSub receives the controls published by any replica.
type ControlSub struct {
	ps   *goredis.PubSub
	ch   chan string
	done chan struct{}
	once sync.Once
}

// SubscribeControls subscribes to the control channel and returns once
// the server confirmed the subscription. The subscription reconnects by
// itself after a connection loss (controls published meanwhile are lost).
func (db *DB) SubscribeControls(ctx context.Context) (*ControlSub, error) {
	ps := db.rdb.Subscribe(ctx)
	if err := ps.Subscribe(ctx, db.controlChannel()); err != nil {
		ps.Close()
		return nil, fmt.Errorf("subscribe controls: %w", db.clean(err))
	}
	for {
		v, err := ps.Receive(ctx)
		if err != nil {
			ps.Close()
			return nil, fmt.Errorf("subscribe controls: %w", db.clean(err))
		}
		if s, ok := v.(*goredis.Subscription); ok && s.Kind == "subscribe" {
			break
		}
	}
	s := &ControlSub{ps: ps, ch: make(chan string, 64), done: make(chan struct{})}
	in := ps.Channel(goredis.WithChannelSize(256))
	go func() {
		defer close(s.ch)
		for m := range in {
			select {
			case s.ch <- m.Payload:
			case <-s.done:
				return
			}
		}
	}()
	return s, nil
}

// C delivers the payloads; it is closed after Close.
func (s *ControlSub) C() <-chan string { return s.ch }

// Close ends the subscription.
func (s *ControlSub) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.ps.Close()
}

func (db *DB) replyKey(id string) string { return db.key("ctl:reply:" + id) }

// ReplyControl answers control id: applied says whether this replica
// applied it. The answer waits ControlReplyTTL for the sender.
func (db *DB) ReplyControl(ctx context.Context, id string, applied bool) error {
	v := "0"
	if applied {
		v = "1"
	}
	k := db.replyKey(id)
	_, err := db.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.RPush(ctx, k, v)
		p.PExpire(ctx, k, ControlReplyTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reply control: %w", db.clean(err))
	}
	return nil
}

// AwaitControl waits up to timeout for the first answer to control id:
// answered is false when none came in time.
func (db *DB) AwaitControl(ctx context.Context, id string, timeout time.Duration) (answered, applied bool, err error) {
	res, err := db.rdb.BLPop(ctx, timeout, db.replyKey(id)).Result()
	if errors.Is(err, goredis.Nil) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("await control: %w", db.clean(err))
	}
	return true, len(res) == 2 && res[1] == "1", nil
}

func (db *DB) editKey(entry string) string { return db.key("ctl:edit:" + entry) }

// SetEdit records payload as the newest edit of the queued entry entry,
// for ttl.
func (db *DB) SetEdit(ctx context.Context, entry string, payload []byte, ttl time.Duration) error {
	if err := db.rdb.Set(ctx, db.editKey(entry), payload, ttl).Err(); err != nil {
		return fmt.Errorf("set edit: %w", db.clean(err))
	}
	return nil
}

// Edits returns the newest edit of each of entries (nil where there is
// none), in one round trip.
func (db *DB) Edits(ctx context.Context, entries []string) ([][]byte, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = db.editKey(e)
	}
	vals, err := db.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("edits: %w", db.clean(err))
	}
	out := make([][]byte, len(entries))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = []byte(s)
		}
	}
	return out, nil
}
