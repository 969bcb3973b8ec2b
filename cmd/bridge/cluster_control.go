package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
)

// The control path between replicas (bridges/control.go) on Redis
// pub/sub (redisstore's ControlSub and reply lists):
//
//   - The replica a /stop or an edit reaches, when it cannot apply it to
//     its own conversations, publishes it on the control channel and
//     waits (BLPOP, controlWait) for an answer on the control's reply
//     list. Nobody subscribed: no answer to wait for.
//   - Every replica applies a control it receives to its conversations.
//     The one that applied it answers "applied"; the partition's holder
//     answers "not applied" when it did not (nothing runs), so the
//     sender's "nothing running" does not wait out controlWait. Any
//     other replica stays silent.
//   - The sender alone posts the confirmation, from the first answer: a
//     lost control (Redis restarting, a subscription reconnecting) times
//     out into one "nothing running" and changes nothing else.
//   - An edit is also recorded under its entry (SetEdit) before it is
//     published: a question still in its partition's stream is in no
//     replica's conversations yet, and its owner reads the record when
//     it takes the entry, just before queueing it (Edited; the records
//     of a queue read are read in one round trip right after it,
//     readEdits). Written before the publish, the edit is either found by
//     the delivery or applied by the control to the queued question.
//
// What remains: a control published while the owner's subscription is
// down is lost (the /stop gets "nothing running" and the answer goes on;
// an edit of a streaming answer is not applied — an edit of a question
// still queued in Redis is, from the record). An edit whose control
// reaches the owner in the microseconds between its delivery's read (of
// the edit records) and the queueing is missed, as is one (on a single
// node too) between a question's start and its stream's.

// controlWait bounds the sender's wait for the answer to a control.
const controlWait = 2 * time.Second

// editTTL keeps a recorded edit for as long as its question may wait in
// the queue (PendingMaxAge, 10 min by default, with a takeover's margin).
const editTTL = time.Hour

// controlState is the replica's side of the control path.
type controlState struct {
	ready atomic.Bool // subscribed (tests wait for it)
	// drop is a test hook: the controls this replica receives are lost
	// on the way (a subscription reconnecting).
	drop atomic.Bool

	mu sync.Mutex
	// edits are the recorded edits of the entries of the queue read
	// being handed out (nil where there is none), read in one round trip
	// with it (readEdits) for Edited to take.
	edits map[string][]byte
}

// controlMsg is a control on the wire: its reply list's ID and the
// control.
type controlMsg struct {
	ID string `json:"id"`
	bridges.Control
}

var _ bridges.ClusterControl = (*redisCluster)(nil)

// Control implements bridges.ClusterControl.
func (c *redisCluster) Control(ctx context.Context, ctl bridges.Control) (bool, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	msg := controlMsg{ID: hex.EncodeToString(b[:]), Control: ctl}
	payload, err := json.Marshal(msg)
	if err != nil {
		return false, err
	}
	if ctl.Kind == bridges.ControlEdit && ctl.Entry != "" {
		rec, err := json.Marshal(ctl)
		if err != nil {
			return false, err
		}
		if err := c.db.SetEdit(ctx, ctl.Entry, rec, editTTL); err != nil {
			return false, err
		}
	}
	n, err := c.db.PublishControl(ctx, payload)
	if err != nil || n == 0 {
		return false, err
	}
	answered, applied, err := c.db.AwaitControl(ctx, msg.ID, controlWait)
	if err == nil && !answered {
		c.log.Debug("cluster: no replica answered a control in time", "kind", string(ctl.Kind), "key", ctl.Conv)
	}
	return applied, err
}

// Controls implements bridges.ClusterControl: it stays subscribed until
// ctx ends, subscribing again after a failure, and returns once every
// control it received is applied and answered.
func (c *redisCluster) Controls(ctx context.Context, apply func(bridges.Control) bool) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	failing := false
	for ctx.Err() == nil && !c.isAborted() {
		sub, err := c.db.SubscribeControls(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if !failing {
				c.log.Warn("cluster: cannot subscribe to the other replicas' controls; retrying", "err", err)
			}
			failing = true
			c.sleep(ctx, time.Second)
			continue
		}
		failing = false
		c.ctl.ready.Store(true)
		c.receiveControls(ctx, &wg, sub.C(), apply)
		c.ctl.ready.Store(false)
		_ = sub.Close()
	}
	return nil
}

// receiveControls applies the controls arriving on ch, each in its own
// goroutine (a stop waits for its reply's final text), until ctx ends or
// ch closes.
func (c *redisCluster) receiveControls(ctx context.Context, wg *sync.WaitGroup, ch <-chan string, apply func(bridges.Control) bool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.aborted:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			var msg controlMsg
			if err := json.Unmarshal([]byte(m), &msg); err != nil || msg.ID == "" {
				c.log.Warn("cluster: ignoring a malformed control")
				continue
			}
			wg.Go(func() { c.applyControl(msg, apply) })
		}
	}
}

// applyControl applies msg here and answers it when this replica applied
// it or holds its conversation's partition.
func (c *redisCluster) applyControl(msg controlMsg, apply func(bridges.Control) bool) {
	if c.paused.Load() || c.isAborted() || c.ctl.drop.Load() {
		return // a frozen or killed replica, or a lost control (tests)
	}
	applied := apply(msg.Control)
	if !applied && !c.holds(msg.Conv) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.db.ReplyControl(ctx, msg.ID, applied); err != nil {
		c.log.Warn("cluster: cannot answer a control", "kind", string(msg.Kind), "err", err)
	}
}

// holds reports whether this replica holds the partition of conv, under
// a valid lease.
func (c *redisCluster) holds(conv string) bool {
	if c.q == nil {
		return false
	}
	p := c.q.Partition(conv)
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.held[p]
	return h != nil && h.l.Valid(time.Now())
}

// readEdits reads the recorded edits of ds, a queue read about to be
// handed out, in one round trip, for Edited to take instead of one read
// per entry. On a failure each entry's Edited reads its own.
func (c *redisCluster) readEdits(ctx context.Context, ds []redisstore.Delivery) {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.Entry.ID
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	vals, err := c.db.Edits(ctx, ids)
	if err != nil || len(vals) != len(ids) {
		return
	}
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	c.ctl.edits = make(map[string][]byte, len(ids))
	for i, id := range ids {
		c.ctl.edits[id] = vals[i]
	}
}

// forgetEdits drops what readEdits read, once its entries are handed out
// (or skipped).
func (c *redisCluster) forgetEdits() {
	c.ctl.mu.Lock()
	c.ctl.edits = nil
	c.ctl.mu.Unlock()
}

// Edited implements bridges.ClusterControl: the edit read with the
// entry's queue read (readEdits), else read now.
func (c *redisCluster) Edited(ctx context.Context, entry string) (*bridges.Control, error) {
	c.ctl.mu.Lock()
	raw, ok := c.ctl.edits[entry]
	delete(c.ctl.edits, entry)
	c.ctl.mu.Unlock()
	if !ok {
		vals, err := c.db.Edits(ctx, []string{entry})
		if err != nil || len(vals) == 0 {
			return nil, err
		}
		raw = vals[0]
	}
	if raw == nil {
		return nil, nil
	}
	var ctl bridges.Control
	if err := json.Unmarshal(raw, &ctl); err != nil {
		return nil, nil // not ours to fail on: answered as first sent
	}
	return &ctl, nil
}
