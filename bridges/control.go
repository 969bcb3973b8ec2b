package bridges

import (
	"context"
	"time"
)

// Controls in cluster mode: a /stop, or an edit of a question, is about
// the answer running now, and in cluster mode that answer runs on the
// replica owning the conversation's partition, which need not be the one
// the platform delivered the control to. The receiving replica applies it
// itself when it runs the answer (or queues the question); otherwise it
// sends it on (ClusterControl.Control) and the replica running the answer
// applies it (applyControl). The receiving replica alone posts the
// visible confirmation, once, from the answer it got: "Stopped." when a
// replica applied the /stop, "nothing running" when none did or none
// answered in time — a control lost on the way (the store restarting)
// yields the same single notice, and nothing else changes.

// ControlKind says what a Control does.
type ControlKind string

const (
	// ControlStop ends the answer being streamed in the conversation,
	// keeping what arrived.
	ControlStop ControlKind = "stop"
	// ControlEdit gives a question its new text: the answer streaming for
	// it restarts in the same reply, a queued question is replaced.
	ControlEdit ControlKind = "edit"
)

// Control is a /stop or a question's edit sent between replicas.
type Control struct {
	Kind ControlKind `json:"kind"`
	Conv string      `json:"conv"` // the conversation, Key.String()
	// Edit: the edited message (Ref cleared), its question (the text, or
	// /ask's argument) and its inbox entry ID.
	Message  *Message `json:"message,omitempty"`
	Question string   `json:"question,omitempty"`
	Entry    string   `json:"entry,omitempty"`
}

// ClusterControl is an optional interface of a Cluster: the control path
// between the replicas. Without it a replica applies /stop and edits to
// its own conversations only.
type ClusterControl interface {
	// Control hands c to the replica running or queueing what it is
	// about and reports whether that replica applied it. It waits
	// briefly (about 2 s) for the answer; none in time is
	// applied = false. For an edit it also records the new text where
	// the owner's delivery of a still-queued question finds it.
	Control(ctx context.Context, c Control) (applied bool, err error)
	// Controls calls apply with every control sent by a replica, until
	// ctx ends, and passes on apply's result; it returns once the
	// controls it received are applied. apply may block briefly (a stop
	// waits up to a second for the stopped reply's final text).
	Controls(ctx context.Context, apply func(Control) bool) error
	// Edited returns the newest edit Control recorded for the queued
	// entry (an inbox entry ID), nil when there is none. The owner asks
	// before queueing a delivered entry: an edit sent while the entry was
	// still in the shared queue reached no replica's conversations.
	Edited(ctx context.Context, entry string) (*Control, error)
}

// stopSettle bounds how long a replica that stopped an answer for another
// one waits for the stopped reply's final text before answering, so that
// the confirmation normally comes after it.
const stopSettle = time.Second

// applyControl applies c to this replica's conversations and reports
// whether it did: the /stop cancelled an answer streaming here (and its
// final text was written, or stopSettle passed), or the edit restarted
// an answer or replaced a queued question. It posts nothing.
func (r *Relay) applyControl(c Control) bool {
	switch c.Kind {
	case ControlStop:
		settled, ok := r.stopLocal(c.Conv)
		if ok {
			r.waitSettled(settled)
		}
		return ok
	case ControlEdit:
		if c.Message == nil {
			return false
		}
		return r.editLocal(*c.Message, c.Question) != "ignored_edit"
	}
	return false
}

// waitSettled waits for a stopped reply's final text, at most stopSettle.
func (r *Relay) waitSettled(settled <-chan struct{}) {
	if settled == nil {
		return
	}
	t := time.NewTimer(stopSettle)
	defer t.Stop()
	select {
	case <-settled:
	case <-t.C:
	case <-r.hard.Done():
	}
}

// control is the relay's ClusterControl, nil outside cluster mode or
// when the cluster has no control path.
func (r *Relay) control() ClusterControl {
	cc, _ := r.cfg.Cluster.(ClusterControl)
	return cc
}

// sendControl hands c to the other replicas, bounded in time.
func (r *Relay) sendControl(cc ClusterControl, c Control) bool {
	ctx, cancel := context.WithTimeout(r.hard, 5*time.Second)
	defer cancel()
	applied, err := cc.Control(ctx, c)
	if err != nil {
		r.log.Warn("cluster: cannot send a control to the other replicas", "kind", string(c.Kind), "key", c.Conv, "err", err)
		r.met.StoreError("control")
	}
	return applied
}

// pendingEdit gives m, an entry just delivered and about to be queued,
// the newest text another replica recorded for it: the edit was sent
// while the entry was still in the shared queue, in no replica's
// conversations. Recorded before it is sent, an edit is found here or
// reaches the queued question through the control, but for the moment
// between this read and the queueing (and, as on a single node, the one
// between a question's start and its stream's).
func (r *Relay) pendingEdit(cc ClusterControl, entry string, m *Message) {
	ctx, cancel := context.WithTimeout(r.hard, time.Second)
	defer cancel()
	c, err := cc.Edited(ctx, entry)
	if err != nil {
		r.log.Warn("cluster: cannot read a queued question's edit; it is answered as first sent", "err", err)
		r.met.StoreError("control")
		return
	}
	if c == nil || c.Kind != ControlEdit || c.Message == nil || c.Message.ID != m.ID {
		return
	}
	m.Text = c.Message.Text
	r.log.Debug("message edited before its delivery", "platform", m.Key.Platform, "instance", m.Key.Instance, "key", m.Key.String())
}
