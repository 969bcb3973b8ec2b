package bridges

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/store"
)

// ErrClosed is returned by Handle once the relay is shutting down.
var ErrClosed = errors.New("bridge is shutting down")

var (
	errStopped  = errors.New("stopped by /stop")
	errShutdown = errors.New("interrupted by shutdown")
	errIdle     = errors.New("backend idle timeout")
)

// Relay turns incoming messages into backend questions and live replies.
// Messages of one conversation are answered in order, one at a time;
// different conversations run concurrently. A Relay is safe for concurrent
// use.
type Relay struct {
	cfg     Config
	log     *slog.Logger
	budgets *limiter
	seq     atomic.Uint64

	// hard ends the writers of live replies when even the shutdown grace
	// for final texts is over.
	hard       context.Context
	hardCancel context.CancelFunc
	started    time.Time // Recover resumes only messages accepted before it

	mu     sync.Mutex
	convs  map[string]*conv
	closed bool
	wg     sync.WaitGroup

	bindings map[string]*binding // by Route.Name, for Recover
	// claims are the inbox IDs this run queued (bounded): a redelivery of
	// one of them is not answered again.
	claims     map[string]struct{}
	claimOrder []string
	rates      *windows // per-user and per-chat question rates, quotas
	errs       *windows // errors shown per chat and kind
	notice     *windows // refusals shown, at most one a minute per user
}

// conv is the per-conversation queue.
type conv struct {
	queue   []job
	running bool
	cancel  context.CancelCauseFunc // the answer in flight, nil when idle
}

type job struct {
	b       *binding
	m       Message
	id      string
	inboxID string // "" when not kept in the inbox
}

// NewRelay returns a relay; it starts no goroutine until messages arrive.
func NewRelay(cfg Config) (*Relay, error) {
	if cfg.Store == nil {
		return nil, errors.New("relay: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hard, cancel := context.WithCancel(context.Background())
	return &Relay{
		cfg: cfg, log: cfg.Logger, budgets: newLimiter(),
		hard: hard, hardCancel: cancel, started: cfg.Now(),
		convs:    map[string]*conv{},
		bindings: map[string]*binding{}, claims: map[string]struct{}{},
		rates: &windows{logs: map[string][]time.Time{}, day: map[string]dayCount{}, kv: cfg.QuotaKV},
		errs:  newWindows(), notice: newWindows(),
	}, nil
}

// binding is one platform instance bound to its route.
type binding struct {
	r  *Relay
	p  Platform
	rt Route
}

// Bind returns the Handler an adapter's Run gets: messages it accepts are
// answered on p through rt.
func (r *Relay) Bind(p Platform, rt Route) Handler {
	if rt.IdleTimeout <= 0 {
		rt.IdleTimeout = 60 * time.Second
	}
	b := &binding{r: r, p: p, rt: rt}
	if rt.Name != "" {
		r.mu.Lock()
		r.bindings[rt.Name] = b
		r.mu.Unlock()
	}
	return b
}

// Handle implements Handler.
func (b *binding) Handle(ctx context.Context, m Message) error {
	r := b.r
	ad := Admit(&m, b.rt.Respond, b.rt.Scope)
	m.Key = ad.Key
	if ad.Ignore {
		r.cfg.Metrics.message(m.Key, b.rt.BackendName, "ignored", ad.Reason)
		b.completed(&m)
		return nil
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	r.cfg.Metrics.message(m.Key, b.rt.BackendName, "received", "")
	if ad.Command == CmdStop {
		r.stop(b, m)
		return nil
	}
	if refusal, reason := b.refuse(&m, ad); refusal != "" {
		r.cfg.Metrics.message(m.Key, b.rt.BackendName, "refused", reason)
		show := r.notice.allow(m.Key.Platform+"/"+m.Key.Instance+"/"+m.UserID, Rate{N: 1, Per: time.Minute}, r.cfg.Now())
		if !show {
			b.completed(&m)
			return nil
		}
		return r.background(func() {
			r.notify(b, &m, refusal)
			b.completed(&m)
		})
	}
	j := job{b: b, m: m, id: strconv.FormatUint(r.seq.Add(1), 36)}
	if r.cfg.Inbox != nil && b.rt.Name != "" {
		j.inboxID = inboxID(&m)
		if r.claimed(j.inboxID) {
			// A platform redelivered a message this run is answering or
			// has answered (resumed from the inbox after a restart).
			r.log.Debug("duplicate delivery ignored", "platform", m.Key.Platform, "key", m.Key.String())
			b.completed(&m)
			return nil
		}
		pm := m
		pm.Ref = nil
		payload, err := json.Marshal(pm)
		if err == nil {
			err = r.cfg.Inbox.InboxAdd(store.InboxEntry{
				ID: j.inboxID, Key: b.rt.Name, Payload: payload, Received: r.cfg.Now(),
			})
		}
		if err != nil {
			r.log.Error("inbox: cannot keep the message durably; answering it anyway",
				"platform", m.Key.Platform, "instance", m.Key.Instance, "key", m.Key.String(), "err", err)
			j.inboxID = ""
		} else {
			r.cfg.Metrics.inboxDepth(1)
		}
	}
	return r.enqueue(j)
}

// inboxID names a message in the inbox: its conversation and platform ID.
func inboxID(m *Message) string {
	id := m.ID
	if id == "" {
		id = newID()
	}
	return m.Key.String() + "#" + id
}

// stop cancels the answer being streamed in m's conversation.
func (r *Relay) stop(b *binding, m Message) {
	key := m.Key.String()
	r.mu.Lock()
	var cancel context.CancelCauseFunc
	if c := r.convs[key]; c != nil {
		cancel = c.cancel
	}
	r.mu.Unlock()
	text := textNothingRun
	if cancel != nil {
		cancel(errStopped)
		text = textStopped
	}
	_ = r.background(func() {
		r.notify(b, &m, text)
		b.completed(&m)
	})
}

// background runs f in a goroutine the relay waits for at shutdown.
func (r *Relay) background(f func()) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		f()
	}()
	return nil
}

// enqueue queues j on its conversation, starting the conversation's
// worker if needed.
func (r *Relay) enqueue(j job) error {
	key := j.m.Key.String()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed // the inbox entry, if any, stays pending
	}
	c := r.convs[key]
	if c == nil {
		c = &conv{}
		r.convs[key] = c
	}
	if len(c.queue) >= r.cfg.QueueSize {
		r.wg.Add(1)
		r.mu.Unlock()
		r.cfg.Metrics.message(j.m.Key, j.b.rt.BackendName, "refused", "busy")
		go func() {
			defer r.wg.Done()
			r.notify(j.b, &j.m, textBusy)
			r.inboxDone(j)
			j.b.completed(&j.m)
		}()
		return nil
	}
	c.queue = append(c.queue, j)
	if _, dup := r.claims[j.inboxID]; j.inboxID != "" && !dup {
		// Remember the last 4096 claims.
		r.claims[j.inboxID] = struct{}{}
		r.claimOrder = append(r.claimOrder, j.inboxID)
		if len(r.claimOrder) > 4096 {
			delete(r.claims, r.claimOrder[0])
			r.claimOrder = r.claimOrder[1:]
		}
	}
	if !c.running {
		c.running = true
		r.wg.Add(1)
		go r.work(key, c)
	}
	r.mu.Unlock()
	return nil
}

// claimed reports whether this run has queued or finished the message
// with inbox ID id.
func (r *Relay) claimed(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.claims[id]
	return ok
}

func (r *Relay) inboxDone(j job) {
	if j.inboxID == "" || r.cfg.Inbox == nil {
		return
	}
	if err := r.cfg.Inbox.InboxDone(j.inboxID); err != nil {
		r.log.Error("inbox: mark done", "err", err)
		return
	}
	r.cfg.Metrics.inboxDepth(-1)
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
		return 0, 0, fmt.Errorf("read inbox: %w", err)
	}
	maxAge := r.cfg.PendingMaxAge
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	now := r.cfg.Now()
	for _, e := range entries {
		if !e.Received.Before(r.started) || r.claimed(e.ID) {
			continue // accepted by this run: already queued
		}
		r.mu.Lock()
		b := r.bindings[e.Key]
		r.mu.Unlock()
		var m Message
		if b == nil || json.Unmarshal(e.Payload, &m) != nil {
			r.log.Warn("inbox: dropping a pending message of an instance no longer configured", "route", e.Key)
			_ = r.cfg.Inbox.InboxDone(e.ID)
			continue
		}
		r.cfg.Metrics.inboxDepth(1)
		j := job{b: b, m: m, id: strconv.FormatUint(r.seq.Add(1), 36), inboxID: e.ID}
		if now.Sub(e.Received) > maxAge {
			apologised++
			when := e.Received.UTC().Format("15:04 UTC")
			if err := r.background(func() {
				r.notify(b, &j.m, "Sorry — I was restarted and could not answer your message from "+when+". Please ask again.")
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

// work answers the queued messages of one conversation in order.
func (r *Relay) work(key string, c *conv) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			delete(r.convs, key)
			r.mu.Unlock()
			return
		}
		j := c.queue[0]
		c.queue = c.queue[1:]
		r.mu.Unlock()
		if !r.process(c, j) {
			r.inboxDone(j)
		}
		j.b.completed(&j.m)
	}
}

// refuse applies the access policy to m and returns the polite refusal to
// show, or "" when m may go on. Called with r.mu held; it does no I/O.
func (b *binding) refuse(m *Message, ad Admission) (text, reason string) {
	pol := b.rt.Policy
	cmd := ad.Command
	if (cmd == CmdReset || cmd == CmdNew) && pol.ResetAdminsOnly && !m.Private && !pol.isAdmin(m.UserID) {
		return "Only the group's admins can start a new conversation here.", "not_admin"
	}
	if cmd != "" && cmd != CmdAsk {
		return "", ""
	}
	if n, max := Len(m.Text, Runes), pol.maxChars(); max > 0 && n > max {
		return fmt.Sprintf("Your message is too long (%d characters). Please keep questions under %d characters.", n, max), "too_long"
	}
	now := b.r.cfg.Now()
	inst := m.Key.Platform + "/" + m.Key.Instance + "/"
	if !b.r.rates.allow(inst+"user/"+m.UserID, pol.UserRate, now) {
		return "You're asking faster than I can answer. Please wait a moment and try again.", "user_rate"
	}
	if !b.r.rates.allow(inst+"chat/"+m.ChatID, pol.ChatRate, now) {
		return "This chat is asking faster than I can answer. Please wait a moment and try again.", "chat_rate"
	}
	if !b.r.rates.allowDaily(inst+"user/"+m.UserID, pol.UserDailyQuota, now) {
		return "You've reached today's limit of questions. Please come back tomorrow.", "daily_quota"
	}
	return "", ""
}

func (b *binding) completed(m *Message) {
	if c, ok := b.p.(Completer); ok {
		c.Completed(m)
	}
}

func (r *Relay) logger(j job) *slog.Logger {
	return r.log.With("platform", j.m.Key.Platform, "instance", j.m.Key.Instance,
		"key", j.m.Key.String(), "req", j.id)
}

// process handles one message, recovering from a panic with an apology.
// It reports whether the message must stay pending in the inbox (its
// answer was interrupted by shutdown).
func (r *Relay) process(c *conv, j job) (pending bool) {
	log := r.logger(j)
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic while answering", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r.notify(j.b, &j.m, textPanic)
		}
	}()
	if r.cfg.LogContent {
		log.Debug("message", "user", j.m.UserID, "text", j.m.Text)
	}
	ad := Admit(&j.m, j.b.rt.Respond, "")
	if ad.Command == "" {
		return r.answer(c, j, j.m.Text, log)
	}
	arg := ad.Arg
	switch ad.Command {
	case CmdReset, CmdNew:
		t := time.Now()
		err := r.cfg.Store.Forget(j.m.Key)
		r.cfg.Metrics.storeOp("forget", t)
		if err != nil {
			log.Error("forget conversation", "err", err)
		}
		log.Info("conversation reset")
		r.notify(j.b, &j.m, textReset)
	case CmdHelp:
		r.notify(j.b, &j.m, HelpText)
	case CmdAsk:
		if arg == "" {
			r.notify(j.b, &j.m, textEmptyAsk)
			return false
		}
		return r.answer(c, j, arg, log)
	default:
		if j.m.Private {
			r.notify(j.b, &j.m, "Unknown command /"+ad.Command+". Try /help.")
		}
	}
	return false
}

// notify sends a short plain message answering m, within the budgets.
func (r *Relay) notify(b *binding, m *Message, text string) {
	lim := b.p.Limits(m)
	log := r.log.With("platform", m.Key.Platform, "instance", m.Key.Instance, "key", m.Key.String())
	rp := newReply(b.p, m, lim, b.rt.EditInterval, r.budgets, log)
	rp.plain[0] = true
	rp.finish(text)
	ctx, cancel := context.WithTimeout(r.hard, 2*time.Minute)
	defer cancel()
	rp.run(ctx)
}

// answer asks the backend and streams the answer into a live reply. It
// reports whether the answer was interrupted by shutdown.
func (r *Relay) answer(c *conv, j job, question string, log *slog.Logger) (interrupted bool) {
	b, m := j.b, &j.m
	start := r.cfg.Now()
	r.cfg.Metrics.liveReplies(1)
	defer r.cfg.Metrics.liveReplies(-1)
	t0 := time.Now()
	rec, ok, err := r.cfg.Store.Get(m.Key)
	r.cfg.Metrics.storeOp("get", t0)
	if err != nil {
		log.Error("read conversation", "err", err)
		ok = false
	}
	fresh := func() store.Record {
		return store.Record{Backend: b.rt.BackendName, SessionID: newID(), Created: start}
	}
	if !ok || rec.Backend != b.rt.BackendName ||
		(r.cfg.IdleReset > 0 && start.Sub(rec.LastUsed) > r.cfg.IdleReset) {
		rec = fresh()
	}

	rp := newReply(b.p, m, b.p.Limits(m), b.rt.EditInterval, r.budgets, log)
	rp.observe = r.cfg.Metrics.addedLatency()
	wctx, wcancel := context.WithCancel(r.hard)
	defer wcancel()
	go rp.run(wctx)

	actx, acancel := context.WithCancelCause(context.Background())
	defer acancel(nil)
	r.mu.Lock()
	c.cancel = acancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		c.cancel = nil
		r.mu.Unlock()
	}()

	firstText := make(chan struct{})
	var firstOnce sync.Once
	gotText := func() {
		firstOnce.Do(func() {
			close(firstText)
			r.cfg.Metrics.firstTextAfter(b.rt.BackendName, time.Since(t0))
		})
	}
	defer gotText()
	if t, ok := b.p.(Typer); ok {
		go r.typing(actx, t, m, b.p.Limits(m), firstText)
	}

	prefix := ""
	ans, err := r.stream(actx, b, rec, question, rp, prefix, gotText)
	if be := (*backend.Error)(nil); errors.As(err, &be) && be.Kind == backend.KindConversationExpired &&
		rec.ConversationID != "" && ans.Text() == "" && actx.Err() == nil {
		log.Info("stored conversation expired, starting a new one", "err", err)
		rec = fresh()
		prefix = textExpired
		ans, err = r.stream(actx, b, rec, question, rp, prefix, gotText)
	}

	text := ans.Text()
	var final string
	switch {
	case err == nil:
		if strings.TrimSpace(text) == "" {
			text = textNoAnswer
		}
		final = prefix + text + noticeText(ans.Notices)
		if b.rt.Citations && ans.Done != nil {
			final += citationText(ans.Done.Citations)
		}
		if ans.Done != nil && ans.Done.ConversationID != "" {
			rec.ConversationID = ans.Done.ConversationID
		}
		rec.LastUsed = r.cfg.Now()
		rec.Turns++
		if hk, ok := b.rt.Backend.(backend.HistoryKeeper); ok {
			rec.History = append(rec.History, backend.Turn{Question: question, Answer: text})
			if n := hk.HistoryTurns(); n > 0 && len(rec.History) > n {
				rec.History = rec.History[len(rec.History)-n:]
			}
		}
		t := time.Now()
		if err := r.cfg.Store.Put(m.Key, rec); err != nil {
			log.Error("store conversation", "err", err)
		}
		r.cfg.Metrics.storeOp("put", t)
		r.cfg.Metrics.message(m.Key, b.rt.BackendName, "answered", "")
		log.Info("answered", "chars", len(text), "took", r.cfg.Now().Sub(start).Round(time.Millisecond))
	default:
		cause := context.Cause(actx)
		switch {
		case errors.Is(cause, errStopped):
			final = prefix + text + markStopped
			log.Info("answer stopped by user")
			r.cfg.Metrics.message(m.Key, b.rt.BackendName, "answered", "stopped")
		case errors.Is(cause, errShutdown):
			interrupted = j.inboxID != ""
			final = prefix + text + markInterrupt
			if interrupted {
				final = prefix + text + markResume
			}
			log.Info("answer interrupted by shutdown", "answer_again_after_restart", interrupted)
			r.cfg.Metrics.message(m.Key, b.rt.BackendName, "failed", "shutdown")
		default:
			k := backend.KindOf(err)
			log.Error("backend failed", "kind", k.String(), "err", err)
			r.cfg.Metrics.message(m.Key, b.rt.BackendName, "failed", k.String())
			final = ""
			if strings.TrimSpace(text) != "" {
				final = prefix + text
			}
			if r.showError(b, m, k) {
				if final != "" {
					final += "\n\n"
				}
				final += errorText(k)
			}
		}
		if r.cfg.LogContent {
			log.Debug("partial answer", "text", text)
		}
	}
	gotText()
	rp.finish(strings.TrimLeft(final, " "))
	rp.wait()
	upd, req, lim := rp.stats()
	r.cfg.Metrics.reply(m.Key, upd, req, lim)
	r.cfg.Metrics.answered(b.rt.BackendName, time.Since(t0))
	log.Debug("reply written", "updates", upd, "requests", req, "rate_limited", lim)
	return interrupted
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
			if err := rc.React(ctx, m, "⚠️"); err == nil {
				return false
			}
		}
	}
	key := m.Key.Platform + "/" + m.Key.Instance + "/" + m.ChatID + "/" + k.String()
	return r.errs.allow(key, Rate{N: 1, Per: time.Minute}, r.cfg.Now())
}

// stream runs one backend request, feeding the reply, and returns the
// accumulated answer and the error that ended the stream, if any.
func (r *Relay) stream(ctx context.Context, b *binding, rec store.Record, question string,
	rp *reply, prefix string, gotText func()) (*backend.Answer, error) {
	req := backend.Request{
		Question:       question,
		ConversationID: rec.ConversationID,
		SessionID:      rec.SessionID,
	}
	if _, ok := b.rt.Backend.(backend.HistoryKeeper); ok {
		req.History = rec.History
	}
	ictx, icancel := context.WithCancelCause(ctx)
	defer icancel(nil)
	idle := b.rt.IdleTimeout
	timer := time.AfterFunc(idle, func() { icancel(errIdle) })
	defer timer.Stop()

	ans := &backend.Answer{}
	s := b.rt.Backend.Ask(ictx, req)
	defer s.Close()
	for s.Next() {
		timer.Reset(idle)
		ev := s.Current()
		ans.Add(ev)
		switch ev.(type) {
		case backend.Delta, backend.Replace:
			if t := ans.Text(); strings.TrimSpace(t) != "" {
				gotText()
				rp.update(prefix + t)
			}
		}
	}
	err := s.Err()
	if err != nil && errors.Is(context.Cause(ictx), errIdle) && ctx.Err() == nil {
		err = &backend.Error{Kind: backend.KindUnavailable,
			Message: fmt.Sprintf("no data from the backend for %s", idle), Err: err}
	}
	return ans, err
}

// typing shows the typing indicator until the first text arrives. Each
// indicator draws from Limits.TypingBudgets when a slot is free within a
// second; otherwise that round is skipped, so indicators never crowd out
// answers.
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

// Shutdown stops accepting messages and waits for live replies to finish
// until ctx ends; then it interrupts the remaining answers, whose replies
// get their partial text and an "interrupted" note, and waits up to final
// more for those texts to land.
func (r *Relay) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		r.hardCancel()
		return nil
	case <-ctx.Done():
	}
	r.mu.Lock()
	dropped := 0
	for _, c := range r.convs {
		dropped += len(c.queue)
		c.queue = nil
		if c.cancel != nil {
			c.cancel(errShutdown)
		}
	}
	r.mu.Unlock()
	if dropped > 0 {
		r.log.Warn("shutdown: questions not yet started were dropped", "count", dropped)
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-done:
		r.hardCancel()
		return nil
	case <-t.C:
		r.hardCancel()
		<-done
		return errors.New("shutdown: some final texts could not be written in time")
	}
}

func noticeText(ns []backend.Notice) string {
	var b strings.Builder
	for _, n := range ns {
		if strings.TrimSpace(n.Message) != "" {
			b.WriteString("\n\n_" + strings.TrimSpace(n.Message) + "_")
		}
	}
	return b.String()
}

// citationText renders the sources as a compact Markdown footer.
func citationText(cs []backend.Citation) string {
	seen := map[string]bool{}
	var items []string
	for _, c := range cs {
		if c.URL == "" || seen[c.URL] {
			continue
		}
		seen[c.URL] = true
		title := strings.TrimSpace(c.Title)
		if title == "" {
			title = c.URL
		}
		title = strings.NewReplacer("[", "(", "]", ")").Replace(title)
		items = append(items, "["+title+"]("+c.URL+")")
		if len(items) == 5 {
			break
		}
	}
	if len(items) == 0 {
		return ""
	}
	return "\n\n**Sources:** " + strings.Join(items, " · ")
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
