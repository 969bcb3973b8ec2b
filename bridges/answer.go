package bridges

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/store"
)

// turn is one question being answered: the conversation record read from
// the store, the backend stream, the live reply, and what is written back.
//
// The idle timeout is not the relay's: a backend silent for its
// idle_timeout ends its own stream with a KindUnavailable error (the
// backend clients own that knob, see backend/internal/wire's
// Policy.Idle), which the turn shows like any other failure. The store
// owns idle_reset (store.Config.IdleReset): Get reports a conversation
// idle that long absent.
type turn struct {
	r        *Relay
	b        *binding
	j        *job // the answer's own (m points into it): one copy, not two
	m        *Message
	log      *slog.Logger
	question string
	start    time.Time // by cfg.Now, for the conversation record and logs
	t0       time.Time // by the wall clock, for metrics

	lang string // of the notices (Relay.lang)

	// backendName and backend answer the turn: the stored conversation's,
	// or the route's for a new one (load).
	backendName string
	backend     backend.Backend

	rec    store.Record
	isNew  bool            // no stored conversation: the turn starts one
	thread []ThreadMessage // earlier messages of the thread, sent with a new conversation's first question
	prefix string          // shown before the answer (the expired-conversation note)
	rp     *reply

	// status is the progress line last shown (StatusShower).
	status string

	// ctx is the answer's context; /stop and shutdown cancel it with a
	// cause (errStopped, errShutdown).
	ctx       context.Context
	firstOnce sync.Once
	firstText chan struct{}
}

// answer asks the backend and streams the answer into a live reply. It
// reports whether the answer was interrupted by shutdown and must stay
// pending in the inbox.
func (r *Relay) answer(c *conv, j job, question string, log *slog.Logger) (interrupted bool) {
	t := &turn{r: r, b: j.b, j: &j, m: &j.m, log: log, question: question, lang: r.lang(&j.m),
		start: r.cfg.Now(), t0: time.Now(), firstText: make(chan struct{})}
	r.met.LiveReplies(1)
	detached := false
	defer func() {
		if !detached {
			r.met.LiveReplies(-1)
		}
	}()
	t.load()
	if j.cl != nil && !j.cl.c.Valid() {
		return true // lost the conversation meanwhile: the next owner answers
	}

	t.rp = newReply(t.b.p, t.m, t.b.p.Limits(t.m), t.b.rt.EditInterval, r.budgets, log)
	t.rp.observe = r.met.AddedLatency
	t.rp.onPosted = r.progress(j)
	t.rp.valid = j.valid()
	if len(j.posted) > 0 {
		log.Info("resuming the answer in the messages posted before the restart", "messages", len(j.posted))
		t.rp.resume(j.posted)
	}
	r.mu.Lock()
	if prev := c.last; prev != nil {
		select {
		case <-prev.settled:
		default:
			t.rp.after = prev
		}
	}
	c.last = t.rp
	r.mu.Unlock()
	// settledOnce closes the reply's settled channel on every way out.
	settledOnce := sync.OnceFunc(func() { close(t.rp.settled) })
	wctx, wcancel := context.WithCancel(r.hard)
	defer func() {
		if !detached {
			wcancel()
			settledOnce()
		}
	}()
	// The writer goroutine, once the reply's final text is written, also
	// settles the turn (tail, handed over below): a conversation waiting
	// for its final text's slot holds that one goroutine, not the worker.
	hand := &handoff{}
	go func() {
		t.rp.run(wctx)
		if f := hand.writerDone(); f != nil {
			f()
		}
	}()

	defer func() {
		r.mu.Lock()
		c.cancel = nil
		r.mu.Unlock()
	}()

	stopTyping := t.startTyping(wctx)
	t.readThread() // the typing indicator shows meanwhile
	var (
		ans *backend.Answer
		err error
	)
	for {
		actx, acancel := context.WithCancelCause(context.Background())
		defer acancel(nil)
		t.ctx = actx
		r.mu.Lock()
		c.cancel, c.streaming = acancel, true
		r.mu.Unlock()
		ans, err = t.ask()
		if be := (*backend.Error)(nil); errors.As(err, &be) && be.Kind == backend.KindConversationExpired &&
			t.rec.ConversationID != "" && ans.Text() == "" && actx.Err() == nil {
			log.Info("stored conversation expired, starting a new one", "err", err)
			t.rec = t.fresh()
			t.prefix = sayIn(t.lang, noticeExpired)
			ans, err = t.ask()
		}
		r.mu.Lock()
		c.streaming = false
		ed := c.edit
		c.edit = nil
		r.mu.Unlock()
		if ed == nil || !errors.Is(context.Cause(actx), errEdited) {
			break
		}
		// The user edited the question while its answer streamed: ask
		// again with the new text, in the same reply.
		log.Info("question edited while answering; answering the new text")
		if r.cfg.LogContent {
			log.Debug("edited message", "user", ed.m.UserID, "text", ed.m.Text)
		}
		t.m.Text, t.question = ed.m.Text, ed.question
	}
	t.gotText()
	stopTyping()

	// conclude stores the conversation (its ID) before the next question
	// of the conversation can be asked.
	final, res := t.conclude(ans, err)
	t.rp.finish(strings.TrimLeft(final, " "))
	tail := func() bool {
		t.rp.wait()
		landed, failure, pending := t.settle(wctx)
		settledOnce()
		upd, req, lim := t.rp.stats()
		r.met.Reply(t.m.Key, upd, req, lim)
		log.Debug("reply written", "updates", upd, "requests", req, "rate_limited", lim, "landed", landed)
		return t.report(res, landed, failure, pending)
	}
	// Pipelined: the worker goes on with the conversation's next question
	// (or ends) at once, while the reply's last edits and final text are
	// paced out; the next reply posts in order after this one
	// (reply.after), and the conversation is kept until this one settles
	// (settled).
	finished := make(chan struct{})
	done := func() {
		defer close(finished)
		defer r.wg.Done()
		defer r.met.LiveReplies(-1)
		defer wcancel()
		defer settledOnce()
		defer r.settled(t.m.Key.String(), c, t.rp)
		pending := false
		func() {
			defer func() {
				if p := recover(); p != nil {
					log.Error("panic while writing the answer", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				}
			}()
			pending = tail()
		}()
		if !pending {
			r.inboxDone(j)
		} else if j.cl != nil {
			j.cl.c.Abandon() // the partition's next owner finishes it
		}
		j.b.completed(&j.m)
	}
	r.mu.Lock()
	detached = true
	c.detached = true
	r.wg.Add(1)
	r.mu.Unlock()
	if !hand.give(done) {
		go done() // the writer ended before the final text (its context)
	}
	if j.cl != nil {
		// Cluster mode: the conversation record is written by the fenced
		// Complete once the final text landed, so the conversation's next
		// question waits for it here instead of being pipelined.
		<-finished
	}
	return false
}

// handoff passes the end of a turn (settling its reply) to the reply's
// writer goroutine, or tells that the writer has already returned.
type handoff struct {
	mu     sync.Mutex
	tail   func()
	exited bool
}

// give hands f to the writer; false when the writer has returned and
// will not run it.
func (h *handoff) give(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.exited {
		return false
	}
	h.tail = f
	return true
}

// writerDone marks the writer returned and returns the tail to run, if
// one was given.
func (h *handoff) writerDone() func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.exited = true
	f := h.tail
	h.tail = nil
	return f
}

// result is how the backend side of a turn ended, counted once the reply
// has settled.
type result struct {
	outcome, reason string // for the messages metric
	chars           int    // the answer's length, for the "answered" log line
	interrupted     bool   // shutdown cut the answer and the inbox resumes it
}

// report logs and counts the turn's outcome now that the reply has
// settled, and reports whether the message stays pending in the inbox.
// An answer counts as answered only when its final text landed; a final
// text the platform refused for good is counted as failed with the
// platform's reason.
func (t *turn) report(res result, landed bool, failure error, pending bool) (keep bool) {
	r, m, log, be := t.r, t.m, t.log, t.backendName
	switch {
	case res.interrupted:
		r.met.Message(m.Key, be, res.outcome, res.reason)
		return true
	case res.outcome == "failed":
		// The backend failed; its notice landing or not changes nothing.
		r.met.Message(m.Key, be, res.outcome, res.reason)
		return false
	case landed:
		r.met.Message(m.Key, be, res.outcome, res.reason)
		r.met.Answer(be, time.Since(t.t0))
		if res.reason == "" {
			log.Info("answered", "chars", res.chars, "took", r.cfg.Now().Sub(t.start).Round(time.Millisecond))
		}
		return false
	case errors.Is(failure, ErrFenced) && t.j.cl != nil:
		// Not completed here (the fenced Complete would be refused): the
		// entry is left, and the partition's new owner answers it.
		log.Info("cluster: this replica lost the conversation mid-answer; its new owner answers it")
		r.met.Message(m.Key, be, "failed", "fenced")
		return true
	case pending && t.j.inboxID != "":
		log.Info("the final text has not landed yet; the message stays pending for the next run", "err", failure)
		r.met.Message(m.Key, be, "failed", "shutdown")
		return true
	}
	reason, ok := permanent(failure)
	switch {
	case ok:
		log.Error("the platform refused the answer for good; not answered", "reason", reason, "err", failure)
	case failure != nil:
		reason = "not_landed"
		log.Error("the answer's final text never landed; giving up", "pending_max_age", r.pendingMaxAge(), "err", failure)
	default:
		reason = "shutdown"
		log.Warn("the answer's final text was cut short by shutdown")
	}
	r.met.Message(m.Key, be, "failed", reason)
	return false
}

// settle waits for the reply's final text to land. A passing refusal (a
// 5xx, a network error, a timeout) is retried in the same messages, with
// backoff from 1s doubling to a minute, while the message is younger
// than PendingMaxAge; pending is true when shutdown began meanwhile, or
// cut the reply short, so the inbox keeps the message for the next run.
func (t *turn) settle(wctx context.Context) (landed bool, failure error, pending bool) {
	wait := time.Second
	for {
		landed, failure = t.rp.outcome()
		switch {
		case landed:
			return true, nil, false
		case failure == nil:
			return false, nil, true // cut short by the hard shutdown
		case !passing(failure):
			return false, failure, false
		case t.r.cfg.Now().Add(wait).Sub(t.j.received) > t.r.pendingMaxAge():
			return false, failure, false
		}
		t.log.Warn("the answer's final text did not land; retrying", "in", wait, "err", failure)
		tm := time.NewTimer(wait)
		select {
		case <-tm.C:
		case <-t.r.closing:
			tm.Stop()
			return false, failure, true
		}
		wait = min(2*wait, time.Minute)
		t.rp.rearm()
		go t.rp.run(wctx)
		t.rp.wait()
	}
}

// fresh returns the record of a new conversation.
func (t *turn) fresh() store.Record {
	return store.Record{Backend: t.backendName, SessionID: newID(), Created: t.start}
}

// load reads the conversation and picks its backend: a stored
// conversation keeps the backend it began with while that backend is
// configured; a new one (none stored: the store forgets idle ones, /reset
// forgot it, or its backend is gone) gets the route's.
func (t *turn) load() {
	t.backendName, t.backend = t.b.rt.routed(t.m)
	t0 := time.Now()
	rec, ok, err := t.r.cfg.Store.Get(t.m.Key)
	if err != nil && t.j.cl != nil {
		rec, ok, err = t.r.clusterGet(*t.j, t.m.Key, err)
	}
	t.r.met.StoreOp("get", time.Since(t0))
	if err != nil {
		t.log.Error("read conversation; starting a new one", "err", err)
		t.r.met.StoreError("get")
		ok = false
	}
	if ok && rec.Backend != t.backendName {
		if be, found := t.b.rt.backendNamed(rec.Backend); found {
			t.backendName, t.backend = rec.Backend, be
		} else {
			t.log.Info("the conversation's backend is no longer configured; starting a new one", "was", rec.Backend)
			ok = false
		}
	}
	if !ok {
		rec = t.fresh()
	}
	t.rec, t.isNew = rec, !ok
}

// gotText marks the first answer text (or the end of the answer): the
// typing indicator stops.
func (t *turn) gotText() {
	t.firstOnce.Do(func() {
		close(t.firstText)
		t.r.met.FirstText(t.backendName, time.Since(t.t0))
	})
}

// startTyping shows the typing indicator, when the platform has one,
// until the first text; the returned func stops it and waits for it.
func (t *turn) startTyping(parent context.Context) (stop func()) {
	ty, ok := t.b.p.(Typer)
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.r.typing(ctx, ty, t.m, t.b.p.Limits(t.m), t.firstText)
	}()
	return func() {
		cancel()
		<-done
	}
}

// ask runs one backend request, feeding the reply, and returns the
// accumulated answer and the error that ended the stream, if any.
func (t *turn) ask() (*backend.Answer, error) {
	req := backend.Request{
		Question:       t.question,
		ConversationID: t.rec.ConversationID,
		SessionID:      t.rec.SessionID,
	}
	if _, ok := t.backend.(backend.HistoryKeeper); ok {
		req.History = append(threadTurns(t.thread), t.rec.History...)
	} else if len(t.thread) > 0 {
		req.Question = threadPreface(t.thread, t.question)
	}
	ans := &backend.Answer{}
	s := t.backend.Ask(t.ctx, req)
	defer s.Close()
	for s.Next() {
		ev := s.Current()
		ans.Add(ev)
		switch ev := ev.(type) {
		case backend.Delta, backend.Replace:
			if text := ans.Text(); strings.TrimSpace(text) != "" {
				t.gotText()
				t.rp.update(t.prefix + text)
			}
		case backend.Status:
			t.showStatus(ev.Stage)
		case backend.Notice:
			t.log.Info("backend notice", "code", ev.Code, "message", ev.Message)
		}
	}
	return ans, s.Err()
}

// showStatus shows the progress line for a backend.Status stage in the
// reply's place, on a StatusShower platform, until the first text.
// Elsewhere the typing indicator stays.
func (t *turn) showStatus(stage string) {
	ss, ok := t.b.p.(StatusShower)
	if !ok {
		return
	}
	select {
	case <-t.firstText:
		return // the answer's text replaced the status line
	default:
	}
	var text string
	switch st := strings.ToLower(stage); {
	case strings.Contains(st, "retriev"), strings.Contains(st, "search"), strings.Contains(st, "lookup"):
		text = sayIn(t.lang, statusSearching)
	case strings.Contains(st, "generat"), strings.Contains(st, "writ"), strings.Contains(st, "answer"):
		text = sayIn(t.lang, statusWriting)
	}
	if text == "" || text == t.status {
		return
	}
	t.status = text
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	if err := ss.ShowStatus(ctx, t.m, text); err != nil {
		t.log.Debug("status line", "stage", stage, "err", err)
	}
}

// conclude turns the end of the answer into the reply's final text and
// stores the conversation when the answer completed. The outcome is
// counted by report, once the reply has settled.
func (t *turn) conclude(ans *backend.Answer, err error) (final string, res result) {
	r, b, m, log := t.r, t.b, t.m, t.log
	text := ans.Text()
	if err == nil {
		if strings.TrimSpace(text) == "" {
			text = sayIn(t.lang, noticeNoAnswer)
		}
		final = t.prefix + text + t.noticeText(ans.Notices)
		if cp := b.rt.citations(t.backendName); cp.Show && ans.Done != nil {
			final += citationText(t.lang, ans.Done.Citations, cp.Max)
		}
		t.save(ans, text)
		return final, result{outcome: "answered", chars: len(text)}
	}
	if r.cfg.LogContent {
		defer log.Debug("partial answer", "text", text)
	}
	cause := context.Cause(t.ctx)
	switch {
	case errors.Is(cause, errStopped):
		log.Info("answer stopped by user")
		return t.prefix + text + sayIn(t.lang, markStopped), result{outcome: "answered", reason: "stopped"}
	case errors.Is(cause, errShutdown):
		res = result{outcome: "failed", reason: "shutdown", interrupted: t.j.inboxID != "" || t.j.cl != nil}
		final = t.prefix + text + sayIn(t.lang, markInterrupt)
		if res.interrupted {
			final = t.prefix + text + sayIn(t.lang, markResume)
		}
		log.Info("answer interrupted by shutdown", "answer_again_after_restart", res.interrupted)
		return final, res
	}
	k := backend.KindOf(err)
	log.Error("backend failed", "kind", k.String(), "err", err)
	res = result{outcome: "failed", reason: k.String()}
	if strings.TrimSpace(text) != "" {
		final = t.prefix + text
	}
	if r.showError(b, m, k) {
		if final != "" {
			final += "\n\n"
		}
		final += errorText(t.lang, k)
	}
	return final, res
}

// save stores the conversation after a completed answer.
func (t *turn) save(ans *backend.Answer, text string) {
	rec := t.rec
	if ans.Done != nil && ans.Done.ConversationID != "" {
		rec.ConversationID = ans.Done.ConversationID
	}
	rec.LastUsed = t.r.cfg.Now()
	rec.Turns++
	if hk, ok := t.backend.(backend.HistoryKeeper); ok {
		// The thread the conversation began in stays its history, as the
		// backend's own memory would keep it.
		rec.History = append(append(rec.History, threadTurns(t.thread)...), backend.Turn{Question: t.question, Answer: text})
		if n := hk.HistoryTurns(); n > 0 && len(rec.History) > n {
			rec.History = rec.History[len(rec.History)-n:]
		}
	}
	if t.j.cl != nil {
		t.j.cl.rec = &rec // written by the fenced Complete
		return
	}
	t0 := time.Now()
	err := t.r.cfg.Store.Put(t.m.Key, rec)
	t.r.met.StoreOp("put", time.Since(t0))
	if err != nil {
		t.log.Error("store conversation; the next question starts a new one", "err", err)
		t.r.met.StoreError("put")
	}
}

// showError applies the error policy: in private chats the error is always
// shown; in groups, per Policy.ErrorPolicy, and the same failure in a chat
// is shown at most once a minute.
func (r *Relay) showError(b *binding, m *Message, k backend.Kind) bool {
	if m.Private {
		return true
	}
	switch b.rt.Policy.ErrorPolicy {
	case "silent":
		return false
	case "reaction":
		if rc, ok := b.p.(Reactor); ok {
			ctx, cancel := context.WithTimeout(r.hard, 10*time.Second)
			defer cancel()
			if err := rc.React(ctx, m, sayIn(r.lang(m), reactionFailed)); err == nil {
				return false
			}
		}
	}
	key := m.Key.Platform + "/" + m.Key.Instance + "/" + m.ChatID + "/" + k.String()
	return r.errs.allow(key, Rate{N: 1, Per: time.Minute}, r.cfg.Now())
}

// typing shows the typing indicator until the first text arrives or ctx
// ends. Each indicator draws from Limits.TypingBudgets when a slot is free
// within a second; otherwise that round is skipped, so indicators never
// crowd out answers.
func (r *Relay) typing(ctx context.Context, t Typer, m *Message, lim Limits, first <-chan struct{}) {
	every := lim.TypingEvery
	if every <= 0 {
		every = 4 * time.Second
	}
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-first:
			return
		case <-ctx.Done():
			return
		default:
		}
		if at, ok := r.budgets.book(time.Now(), lim.TypingBudgets, time.Second); ok {
			if sleepUntil(ctx, at) != nil {
				return
			}
			if err := t.Typing(ctx, m); err != nil {
				r.log.Debug("typing indicator", "err", err)
			}
		}
		select {
		case <-first:
			return
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// noticeText is the small print the backend's notices add under the
// answer: the ones that change its quality (rag_unavailable: the
// knowledge base could not be searched), once each. The others were
// logged as they came (ask) and are not shown.
func (t *turn) noticeText(ns []backend.Notice) string {
	for _, n := range ns {
		if n.Code == "rag_unavailable" {
			return sayIn(t.lang, markRagUnavailable)
		}
	}
	return ""
}

// citationText renders at most max (zero: 5) sources as a Markdown
// footer: one source inline ("**Sources:** [Title](url)"), several as a
// numbered list. A source without a URL is shown by its title;
// duplicates (the same URL, or the same title without a URL) are merged.
func citationText(lang string, cs []backend.Citation, max int) string {
	if max <= 0 {
		max = 5
	}
	seen := map[string]bool{}
	var items []string
	for _, c := range cs {
		title := strings.Join(strings.Fields(c.Title), " ")
		url := strings.TrimSpace(c.URL)
		key := "url:" + url
		if url == "" {
			key = "title:" + strings.ToLower(title)
		}
		if (url == "" && title == "") || seen[key] {
			continue
		}
		seen[key] = true
		if title == "" {
			title = url
		}
		title = strings.NewReplacer("[", "(", "]", ")").Replace(title)
		item := title
		if url != "" {
			item = "[" + title + "](" + url + ")"
		}
		items = append(items, item)
		if len(items) == max {
			break
		}
	}
	label := "\n\n**" + sayIn(lang, labelSources) + "**"
	switch len(items) {
	case 0:
		return ""
	case 1:
		return label + " " + items[0]
	}
	var b strings.Builder
	b.WriteString(label)
	for i, it := range items {
		fmt.Fprintf(&b, "\n%d. %s", i+1, it)
	}
	return b.String()
}
