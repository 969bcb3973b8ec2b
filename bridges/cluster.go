package bridges

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/chat-bridge/chat-bridge/store"
)

// Cluster mode: the relay as one of N replicas over one shared queue.
//
// Without Config.Cluster the relay is a single process owning every
// conversation: the Inbox keeps what it accepted and Recover resumes it
// after a restart (inbox.go) — that is the local implementation, with no
// fence to check, and it is left exactly as it was.
//
// With a Cluster, any replica accepts a message (Handle → Cluster.Accept,
// the dedupe mark and the queue entry in one atomic write, before the
// platform is acknowledged); the replica owning the message's partition
// gets it back from Cluster.Run as a Claim, in accept order, and answers
// it in its conversation's queue as usual. The claim carries the fence:
// the reply asks Claim.Valid before every platform request (self-fencing
// with the lease's validity deadline), the reply's progress is a fenced
// Checkpoint, and the conversation record is written by the fenced
// Complete, so a replica that lost its lease (frozen, partitioned) writes
// nothing more, and the new owner continues the messages already posted.

// Cluster is the intake shared by the replicas of one deployment.
type Cluster interface {
	// Accept queues e for the conversation conv (Key.String()) unless
	// e.ID was accepted before (dup). It returns once the entry is
	// durable; on an error the platform must not be acknowledged.
	Accept(ctx context.Context, conv string, e store.InboxEntry) (dup bool, err error)
	// Run hands deliver the entries of the partitions this replica owns,
	// in accept order per partition (entries an earlier owner left first,
	// with their checkpoints), gaining and losing partitions as replicas
	// come and go. deliver must not block for long. When ctx ends Run
	// stops reading, waits until every claim it handed out is completed
	// or abandoned (keeping their leases meanwhile), releases its leases
	// (handing over at once) and returns.
	Run(ctx context.Context, deliver func(Claim)) error
}

// ReplicaLocal is implemented by a platform whose conversations are
// bound to the replica that received them: the web chat, whose browser
// holds its event stream open to one process. In cluster mode its
// messages are answered where they arrive, not through the shared queue
// (the partition's owner could not reach the browser), and are not kept
// in the shared inbox (another replica's Recover would answer them where
// nobody listens). Their conversation records are still in the store.
type ReplicaLocal interface {
	ReplicaLocal() bool
}

// replicaLocal reports whether p's conversations stay on this replica.
func replicaLocal(p Platform) bool {
	l, ok := p.(ReplicaLocal)
	return ok && l.ReplicaLocal()
}

// Claim is one queued entry owned by this replica.
type Claim interface {
	// Entry is the accepted entry; Posted holds the messages an earlier
	// owner posted for its answer (from the last Checkpoint).
	Entry() store.InboxEntry
	// Valid reports whether this replica still owns the entry and may
	// act on the platform for it. It does no I/O.
	Valid() bool
	// Checkpoint records the messages posted so far, fenced.
	Checkpoint(posted []store.PostedMessage) error
	// Complete finishes the entry, fenced: the conversation record is
	// stored (or forgotten) and the entry removed, in one write.
	Complete(c Completion) error
	// Abandon leaves the entry for the next owner (shutdown, lost lease).
	Abandon()
}

// Completion says what completing an entry does to its conversation.
type Completion struct {
	Record *store.Record // stored as the conversation's record, when set
	Forget bool          // the record is deleted (/reset)
}

// ErrFenced is the reply's failure once its claim is no longer valid.
var ErrFenced = errors.New("fenced: this replica no longer owns the conversation")

// clusterJob is a job's claim and what completing it writes.
type clusterJob struct {
	c      Claim
	rec    *store.Record
	forget bool
}

// valid is the reply's fence for j, nil outside cluster mode.
func (j job) valid() func() bool {
	if j.cl == nil {
		return nil
	}
	return j.cl.c.Valid
}

// accept is Handle's cluster path: j's message goes into the shared queue
// and is answered by its partition's owner.
func (r *Relay) accept(ctx context.Context, j job) error {
	m := &j.m
	pm := *m
	pm.Ref = nil
	payload, err := json.Marshal(pm)
	if err != nil {
		return err
	}
	e := store.InboxEntry{ID: inboxID(m), Key: j.b.rt.Name, Payload: payload, Received: j.received, Ref: r.encodeRef(j.b, m.Ref)}
	dup, err := r.cfg.Cluster.Accept(ctx, m.Key.String(), e)
	if err != nil {
		r.log.Error("cluster: cannot accept the message; the platform is not acknowledged",
			"platform", m.Key.Platform, "instance", m.Key.Instance, "key", m.Key.String(), "err", err)
		r.met.StoreError("queue_accept")
		return err
	}
	if dup {
		r.log.Debug("duplicate delivery ignored", "platform", m.Key.Platform, "key", m.Key.String())
	}
	return nil
}

// RunCluster answers the entries of the partitions this replica owns
// until Shutdown has finished or handed over every answer. Call it once,
// after every Bind, when Config.Cluster is set; it returns at once
// otherwise.
func (r *Relay) RunCluster() error {
	if r.cfg.Cluster == nil {
		return nil
	}
	r.clusterRunning.Store(true)
	defer close(r.clusterStopped)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-r.closing
		cancel()
	}()
	// Controls are applied until Run has finished or handed over every
	// answer: a /stop reaches an answer still draining at shutdown.
	var ctlDone chan struct{}
	ctlCtx, ctlCancel := context.WithCancel(context.Background())
	if cc := r.control(); cc != nil {
		ctlDone = make(chan struct{})
		go func() {
			defer close(ctlDone)
			if err := cc.Controls(ctlCtx, r.applyControl); err != nil && ctlCtx.Err() == nil {
				r.log.Error("cluster: the control path stopped; /stop and edits reach this replica's answers only from here", "err", err)
			}
		}()
	}
	err := r.cfg.Cluster.Run(ctx, r.delivered)
	ctlCancel()
	if ctlDone != nil {
		<-ctlDone
	}
	return err
}

// delivered queues a claimed entry on its conversation.
func (r *Relay) delivered(c Claim) {
	e := c.Entry()
	j, ok := r.resume(e)
	if !ok {
		r.log.Warn("cluster: dropping a queued message of an instance not configured here", "route", e.Key)
		if err := c.Complete(Completion{}); err != nil {
			c.Abandon()
		}
		return
	}
	j.cl = &clusterJob{c: c}
	if len(j.posted) > 0 {
		r.logger(j).Info("cluster: taking over an answer another replica began", "messages", len(j.posted))
	}
	if r.cfg.Now().Sub(e.Received) > r.pendingMaxAge() {
		when := e.Received.UTC().Format("15:04 UTC")
		if err := r.background(func() {
			r.notify(j.b, &j.m, sayIn(r.lang(&j.m), noticeRestartApology, when), j.posted...)
			r.clusterDone(j)
		}); err != nil {
			c.Abandon()
		}
		return
	}
	if cc := r.control(); cc != nil {
		r.pendingEdit(cc, e.ID, &j.m)
	}
	if err := r.enqueue(j); err != nil {
		c.Abandon()
	}
}

// clusterProgress is the reply's onPosted hook for a claimed job.
func (r *Relay) clusterProgress(j job) func(parts []Sent) {
	return func(parts []Sent) {
		posted := make([]store.PostedMessage, 0, len(parts))
		for _, s := range parts {
			posted = append(posted, store.PostedMessage{ChatID: s.ChatID, ID: s.ID, Ref: r.encodeRef(j.b, s.Ref)})
		}
		if err := j.cl.c.Checkpoint(posted); err != nil {
			r.logger(j).Error("cluster: cannot checkpoint the reply's progress; a takeover may post the answer again", "err", err)
			r.met.StoreError("queue_checkpoint")
		}
	}
}

// clusterDone completes a claimed job, with the record its answer saved.
func (r *Relay) clusterDone(j job) {
	err := j.cl.c.Complete(Completion{Record: j.cl.rec, Forget: j.cl.forget})
	if err != nil {
		r.logger(j).Error("cluster: cannot complete the message; its partition's next owner answers it again", "err", err)
		r.met.StoreError("queue_complete")
		j.cl.c.Abandon()
	}
}

// waitCluster waits for RunCluster to hand its leases over, in cluster
// mode, when it was started.
func (r *Relay) waitCluster() {
	if r.cfg.Cluster == nil || !r.clusterRunning.Load() {
		return
	}
	<-r.clusterStopped
}

// clusterGet retries reading a claimed job's conversation while the claim
// is valid: in cluster mode the record lives in the shared store, which a
// brief outage makes unreachable; answering meanwhile in a new
// conversation would lose its continuity (the completion needs the store
// anyway).
func (r *Relay) clusterGet(j job, k Key, err error) (store.Record, bool, error) {
	wait := 100 * time.Millisecond
	for j.cl.c.Valid() {
		select {
		case <-time.After(wait):
		case <-r.hard.Done():
			return store.Record{}, false, err
		}
		wait = min(2*wait, time.Second)
		rec, ok, err2 := r.cfg.Store.Get(k)
		if err2 == nil {
			return rec, ok, nil
		}
		err = err2
	}
	return store.Record{}, false, err
}
