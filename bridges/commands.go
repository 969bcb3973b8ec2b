package bridges

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// The chat commands (a contract): /reset and /new forget the conversation,
// /stop ends the answer being streamed, /help explains the bot, /ask
// forwards a question where a platform needs an explicit command.
const (
	CmdReset = "reset"
	CmdNew   = "new"
	CmdStop  = "stop"
	CmdHelp  = "help"
	CmdAsk   = "ask"
	CmdStart = "start"
)

// ParseCommand splits a message text of the form "/name args" into the
// lower-cased name (without any "@botname" suffix) and the rest. ok is
// false when text is not a command.
func ParseCommand(text string) (name, arg string, ok bool) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "/") || len(t) < 2 {
		return "", "", false
	}
	head, rest, _ := strings.Cut(t[1:], " ")
	if i := strings.IndexAny(head, "\n\t"); i >= 0 {
		rest = head[i+1:] + " " + rest
		head = head[:i]
	}
	head, _, _ = strings.Cut(head, "@")
	if head == "" || strings.ContainsAny(head, "/.") {
		return "", "", false // a path such as "/usr/bin", not a command
	}
	return strings.ToLower(head), strings.TrimSpace(rest), true
}

// process handles one message, recovering from a panic with an apology.
// It reports whether the message must stay pending in the inbox (its
// answer was interrupted by shutdown).
func (r *Relay) process(c *conv, j job) (pending bool) {
	log := r.logger(j)
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic while answering", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r.notify(j.b, &j.m, sayIn(r.lang(&j.m), noticePanic))
		}
	}()
	if r.cfg.LogContent {
		log.Debug("message", "user", j.m.UserID, "text", j.m.Text)
	}
	ad := Admit(&j.m, j.b.rt.Respond, "")
	lang := r.lang(&j.m)
	switch ad.Command {
	case "":
		return r.answer(c, j, j.m.Text, log)
	case CmdReset, CmdNew:
		if !r.resetAllowed(j.b, &j.m, log) {
			r.met.Message(j.m.Key, j.b.rt.BackendName, "refused", "not_admin")
			if r.notice.allow(j.m.Key.Platform+"/"+j.m.Key.Instance+"/"+j.m.UserID, Rate{N: 1, Per: time.Minute}, r.cfg.Now()) {
				r.notify(j.b, &j.m, sayIn(lang, refuseNotAdmin))
			}
			return false
		}
		if j.cl != nil {
			j.cl.forget = true // with the fenced Complete
			r.notify(j.b, &j.m, sayIn(lang, noticeReset))
			return false
		}
		t := time.Now()
		err := r.cfg.Store.Forget(j.m.Key)
		r.met.StoreOp("forget", time.Since(t))
		if err != nil {
			log.Error("forget conversation", "err", err)
			r.met.StoreError("forget")
		}
		log.Info("conversation reset")
		r.notify(j.b, &j.m, sayIn(lang, noticeReset))
	case CmdHelp:
		r.notify(j.b, &j.m, helpText(lang, Commands))
	case CmdAsk:
		if ad.Arg == "" {
			r.notify(j.b, &j.m, sayIn(lang, noticeEmptyAsk))
			return false
		}
		return r.answer(c, j, ad.Arg, log)
	default:
		if j.m.Private {
			r.notify(j.b, &j.m, sayIn(lang, noticeUnknownCommand, ad.Command))
		}
	}
	return false
}

// notify sends a short plain message answering m, within the budgets.
// With in, the messages an earlier run posted for m's answer, it replaces
// their text instead (removing all but the first).
func (r *Relay) notify(b *binding, m *Message, text string, in ...Sent) {
	lim := b.p.Limits(m)
	log := r.log.With("platform", m.Key.Platform, "instance", m.Key.Instance, "key", m.Key.String())
	rp := newReply(b.p, m, lim, b.rt.EditInterval, r.budgets, log)
	rp.resume(in)
	rp.plain[0] = true
	rp.finish(text)
	ctx, cancel := context.WithTimeout(r.hard, 2*time.Minute)
	defer cancel()
	rp.run(ctx)
}
