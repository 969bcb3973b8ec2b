package bridges

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/chat-bridge/chat-bridge/store"
)

// The inbox makes accepting a message durable: Handle returns (and the
// adapter acknowledges the message to its platform) only after the
// message is in the inbox, and it leaves the inbox only when its answer
// is done. Recover resumes what a previous run left there.

// inboxID names a message in the inbox: its conversation and platform ID.
func inboxID(m *Message) string {
	id := m.ID
	if id == "" {
		id = newID()
	}
	return m.Key.String() + "#" + id
}

// keep stores j's message in the inbox, when the relay keeps one and the
// route is named, and sets j.inboxID. It reports dup when this run has
// queued or answered the message already (a platform redelivered it).
// When the inbox refuses the write the message is answered anyway, just
// not durably.
func (r *Relay) keep(j *job) (dup bool) {
	if r.cfg.Inbox == nil || j.b.rt.Name == "" {
		return false
	}
	m := &j.m
	id := inboxID(m)
	if r.claimed(id) {
		r.log.Debug("duplicate delivery ignored", "platform", m.Key.Platform, "key", m.Key.String())
		return true
	}
	pm := *m
	pm.Ref = nil // kept encoded by the adapter's RefCodec, if any
	payload, err := json.Marshal(pm)
	e := store.InboxEntry{ID: id, Key: j.b.rt.Name, Payload: payload, Received: j.received}
	if err == nil {
		e.Ref = r.encodeRef(j.b, m.Ref)
		err = r.cfg.Inbox.InboxAdd(e)
	}
	if err != nil {
		r.log.Error("inbox: cannot keep the message durably; answering it anyway",
			"platform", m.Key.Platform, "instance", m.Key.Instance, "key", m.Key.String(), "err", err)
		r.met.StoreError("inbox_add")
		return false
	}
	j.inboxID, j.entry = id, &e
	r.met.InboxDepth(1)
	return false
}

// encodeRef encodes ref with b's adapter's RefCodec, or returns nil when
// there is none (or it fails: the answer can still be resumed, only not
// in an interaction's own response).
func (r *Relay) encodeRef(b *binding, ref any) []byte {
	c, ok := b.p.(RefCodec)
	if !ok || ref == nil {
		return nil
	}
	data, err := c.EncodeRef(ref)
	if err != nil {
		r.log.Warn("inbox: cannot encode the adapter's reference; a resumed answer goes to the chat instead", "route", b.rt.Name, "err", err)
		return nil
	}
	return data
}

// decodeRef is encodeRef's inverse.
func (r *Relay) decodeRef(b *binding, data []byte) any {
	c, ok := b.p.(RefCodec)
	if !ok || data == nil {
		return nil
	}
	ref, err := c.DecodeRef(data)
	if err != nil {
		r.log.Warn("inbox: cannot decode the adapter's reference; a resumed answer goes to the chat instead", "route", b.rt.Name, "err", err)
		return nil
	}
	return ref
}

// resume rebuilds the job of a stored entry (from the inbox after a
// restart, or claimed from the cluster's queue): its binding, message,
// reference and the messages its answer had posted. ok is false when the
// entry's instance is not configured here or its message does not decode.
func (r *Relay) resume(e store.InboxEntry) (j job, ok bool) {
	r.mu.Lock()
	b := r.bindings[e.Key]
	r.mu.Unlock()
	var m Message
	if b == nil || json.Unmarshal(e.Payload, &m) != nil {
		return job{}, false
	}
	m.Ref = r.decodeRef(b, e.Ref)
	j = job{b: b, m: m, id: strconv.FormatUint(r.seq.Add(1), 36), received: e.Received}
	for _, p := range e.Posted {
		j.posted = append(j.posted, Sent{ChatID: p.ChatID, ID: p.ID, Ref: r.decodeRef(b, p.Ref)})
	}
	return j, true
}

// progress returns the onPosted hook of j's reply: it keeps the messages
// the reply has posted in j's inbox entry, so that after a restart the
// answer continues in them. Called from the reply's writer only.
func (r *Relay) progress(j job) func(parts []Sent) {
	if j.cl != nil {
		return r.clusterProgress(j)
	}
	if j.entry == nil || r.cfg.Inbox == nil {
		return nil
	}
	e := *j.entry
	return func(parts []Sent) {
		e.Posted = e.Posted[:0]
		for _, s := range parts {
			e.Posted = append(e.Posted, store.PostedMessage{ChatID: s.ChatID, ID: s.ID, Ref: r.encodeRef(j.b, s.Ref)})
		}
		if err := r.cfg.Inbox.InboxAdd(e); err != nil {
			r.log.Error("inbox: cannot keep the reply's progress; after a restart the answer may be posted again",
				"platform", j.m.Key.Platform, "instance", j.m.Key.Instance, "key", j.m.Key.String(), "req", j.id, "err", err)
			r.met.StoreError("inbox_add")
		}
	}
}

// claim remembers that this run queued the message with inbox ID id (the
// last 4096). Called with r.mu held.
func (r *Relay) claim(id string) {
	if _, dup := r.claims[id]; id == "" || dup {
		return
	}
	r.claims[id] = struct{}{}
	r.claimOrder = append(r.claimOrder, id)
	if len(r.claimOrder) > 4096 {
		delete(r.claims, r.claimOrder[0])
		r.claimOrder = r.claimOrder[1:]
	}
}

// claimed reports whether this run has queued or finished the message
// with inbox ID id.
func (r *Relay) claimed(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.claims[id]
	return ok
}

// inboxDone removes j's message from the inbox. A failed removal is
// logged and counted: the message would be answered again after a
// restart.
func (r *Relay) inboxDone(j job) {
	if j.cl != nil {
		r.clusterDone(j)
		return
	}
	if j.inboxID == "" || r.cfg.Inbox == nil {
		return
	}
	if err := r.cfg.Inbox.InboxDone(j.inboxID); err != nil {
		r.log.Error("inbox: cannot mark the message answered; it may be answered again after a restart",
			"platform", j.m.Key.Platform, "instance", j.m.Key.Instance, "key", j.m.Key.String(), "req", j.id, "err", err)
		r.met.StoreError("inbox_done")
		return
	}
	r.met.InboxDepth(-1)
}

// Recover re-queues the messages a previous run accepted but did not
// finish answering (the inbox's pending entries from before this relay was
// created; this run's own are in its queues already). Messages older than
// PendingMaxAge get a short apology instead of an answer. Call it once,
// after every Bind; the adapters may already run.
func (r *Relay) Recover() (answered, apologised int, err error) {
	if r.cfg.Inbox == nil {
		return 0, 0, nil
	}
	entries, err := r.cfg.Inbox.InboxPending()
	if err != nil {
		r.met.StoreError("inbox_read")
		return 0, 0, fmt.Errorf("read inbox: %w", err)
	}
	maxAge := r.pendingMaxAge()
	now := r.cfg.Now()
	for _, e := range entries {
		if !e.Received.Before(r.started) || r.claimed(e.ID) {
			continue // accepted by this run: already queued
		}
		j, ok := r.resume(e)
		if !ok {
			r.log.Warn("inbox: dropping a pending message of an instance no longer configured", "route", e.Key)
			if err := r.cfg.Inbox.InboxDone(e.ID); err != nil {
				r.log.Error("inbox: cannot drop the pending message", "route", e.Key, "err", err)
				r.met.StoreError("inbox_done")
			}
			continue
		}
		r.met.InboxDepth(1)
		entry := e
		j.inboxID, j.entry = e.ID, &entry
		if now.Sub(e.Received) > maxAge {
			apologised++
			when := e.Received.UTC().Format("15:04 UTC")
			if err := r.background(func() {
				// In the partial answer's message, if one was posted.
				r.notify(j.b, &j.m, sayIn(r.lang(&j.m), noticeRestartApology, when), j.posted...)
				r.inboxDone(j)
			}); err != nil {
				return answered, apologised, err
			}
			continue
		}
		answered++
		if err := r.enqueue(j); err != nil {
			return answered, apologised, err
		}
	}
	if answered+apologised > 0 {
		r.log.Info("inbox: resuming messages accepted before a restart", "answering", answered, "too_old", apologised)
	}
	return answered, apologised, nil
}

func (r *Relay) pendingMaxAge() time.Duration {
	if r.cfg.PendingMaxAge <= 0 {
		return 10 * time.Minute
	}
	return r.cfg.PendingMaxAge
}
