package bridges

import (
	"context"
	"time"
)

// What Handle does with a message that is not queued as a question: the
// access policy's refusals, the "I can read text only" notice, an edit of
// a question, /stop. Handle (relay.go) calls these; none blocks on the
// platform (notices are sent in the background).

// refuse applies the access policy to m and returns the polite refusal to
// show, or "" when m may go on. It does no I/O but the quota's KV: a
// /reset that only the platform can allow (its author is not in the
// admin list, and the platform is an AdminChecker) goes on, and the
// worker asks the platform (resetAllowed) before forgetting anything.
func (b *binding) refuse(m *Message, ad Admission) (text, reason string) {
	pol := b.rt.Policy
	cmd := ad.Command
	lang := b.r.lang(m)
	if (cmd == CmdReset || cmd == CmdNew) && pol.ResetAdminsOnly && !m.Private && !pol.isAdmin(m.UserID) {
		if _, ok := b.p.(AdminChecker); !ok {
			return sayIn(lang, refuseNotAdmin), "not_admin"
		}
	}
	if cmd != "" && cmd != CmdAsk {
		return "", ""
	}
	if n, max := Len(m.Text, Runes), pol.maxChars(); max > 0 && n > max {
		return sayIn(lang, refuseTooLong, n, max), "too_long"
	}
	now := b.r.cfg.Now()
	inst := m.Key.Platform + "/" + m.Key.Instance + "/"
	if !b.r.rates.allow(inst+"user/"+m.UserID, pol.UserRate, now) {
		return sayIn(lang, refuseUserRate), "user_rate"
	}
	if !b.r.rates.allow(inst+"chat/"+m.ChatID, pol.ChatRate, now) {
		return sayIn(lang, refuseChatRate), "chat_rate"
	}
	if !b.r.rates.allowDaily(inst+"user/"+m.UserID, pol.UserDailyQuota, now) {
		return sayIn(lang, refuseDailyQuota), "daily_quota"
	}
	return "", ""
}

// refused counts a refusal and shows it, at most once a minute per user.
func (r *Relay) refused(b *binding, m *Message, refusal, reason string) error {
	r.met.Message(m.Key, b.rt.BackendName, "refused", reason)
	show := r.notice.allow(m.Key.Platform+"/"+m.Key.Instance+"/"+m.UserID, Rate{N: 1, Per: time.Minute}, r.cfg.Now())
	if !show {
		b.completed(m)
		return nil
	}
	mm := *m
	return r.background(func() {
		r.notify(b, &mm, refusal)
		b.completed(&mm)
	})
}

// textOnly answers a picture, file or sticker without text with a short
// "I can read text only", at most once a minute per chat.
func (r *Relay) textOnly(b *binding, m Message) error {
	r.met.Message(m.Key, b.rt.BackendName, "ignored", "non_text")
	key := m.Key.Platform + "/" + m.Key.Instance + "/nontext/" + m.ChatID
	if !r.notice.allow(key, Rate{N: 1, Per: time.Minute}, r.cfg.Now()) {
		b.completed(&m)
		return nil
	}
	return r.background(func() {
		r.notify(b, &m, sayIn(r.lang(&m), noticeTextOnly))
		b.completed(&m)
	})
}

// edited handles a new text of a message sent earlier: while its answer
// streams, the answer restarts with the new text in the same reply;
// while it waits in the queue, the new text replaces the old; otherwise
// (its answer landed, or it was never a question) the edit is ignored.
// In cluster mode an edit this replica cannot apply goes to the replica
// that can (control.go).
func (r *Relay) edited(b *binding, m Message, ad Admission) {
	question := m.Text
	if ad.Command == CmdAsk {
		question = ad.Arg
	}
	key := m.Key.String()
	outcome := "ignored_edit"
	isQ := m.ID != "" && (ad.Command == "" || (ad.Command == CmdAsk && ad.Arg != ""))
	if isQ {
		outcome = r.editLocal(m, question)
	}
	if cc := r.control(); cc != nil && isQ && outcome == "ignored_edit" {
		mm := m
		mm.Ref = nil
		c := Control{Kind: ControlEdit, Conv: key, Message: &mm, Question: question, Entry: inboxID(&mm)}
		if r.background(func() {
			outcome := "ignored_edit"
			if r.sendControl(cc, c) {
				outcome = "sent_edit"
			}
			r.editDone(b, &m, outcome)
		}) == nil {
			return
		}
	}
	r.editDone(b, &m, outcome)
}

// editLocal applies the edit m (its question, question) to this relay's
// conversations and returns what it did: "restarted", "queued_edit" or
// "ignored_edit".
func (r *Relay) editLocal(m Message, question string) string {
	var cancel context.CancelCauseFunc
	outcome := "ignored_edit"
	r.mu.Lock()
	if c := r.convs[m.Key.String()]; c != nil && m.ID != "" {
		if c.current == m.ID && c.streaming && c.cancel != nil {
			c.edit = &edit{m: m, question: question}
			cancel, outcome = c.cancel, "restarted"
		} else {
			for i := range c.queue {
				if c.queue[i].m.ID == m.ID && c.queue[i].m.Key == m.Key {
					c.queue[i].m.Text = m.Text
					outcome = "queued_edit"
					break
				}
			}
		}
	}
	r.mu.Unlock()
	if cancel != nil {
		cancel(errEdited)
	}
	return outcome
}

// editDone logs and counts what an edit did and completes its message.
func (r *Relay) editDone(b *binding, m *Message, outcome string) {
	r.log.Debug("message edited", "platform", m.Key.Platform, "instance", m.Key.Instance, "key", m.Key.String(), "outcome", outcome)
	if outcome == "ignored_edit" {
		r.met.Message(m.Key, b.rt.BackendName, "ignored", "edited")
	}
	b.completed(m)
}

// stop cancels the answer being streamed in m's conversation. In cluster
// mode, when that answer does not run here, the replica running it stops
// it (control.go); this replica posts the one confirmation either way.
func (r *Relay) stop(b *binding, m Message) {
	key := m.Key.String()
	settled, stopped := r.stopLocal(key)
	cc := r.control()
	_ = r.background(func() {
		switch {
		case cc == nil: // one node: stopped here, or nothing ran
		case stopped:
			r.waitSettled(settled) // the confirmation after the final text, as for a remote stop
		default:
			stopped = r.sendControl(cc, Control{Kind: ControlStop, Conv: key})
		}
		text := sayIn(r.lang(&m), noticeNothingRunning)
		if stopped {
			text = sayIn(r.lang(&m), noticeStopped)
		}
		r.notify(b, &m, text)
		b.completed(&m)
	})
}

// stopLocal cancels the answer running in this relay's conversation key,
// when there is one, and returns the channel closed once its reply has
// settled.
func (r *Relay) stopLocal(key string) (settled <-chan struct{}, stopped bool) {
	r.mu.Lock()
	var cancel context.CancelCauseFunc
	if c := r.convs[key]; c != nil {
		cancel = c.cancel
		if c.last != nil {
			settled = c.last.settled
		}
	}
	r.mu.Unlock()
	if cancel == nil {
		return nil, false
	}
	cancel(errStopped)
	return settled, true
}
