package bridges

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

	mu     sync.Mutex
	convs  map[string]*conv
	closed bool
	wg     sync.WaitGroup
}

// conv is the per-conversation queue.
type conv struct {
	queue   []job
	running bool
	cancel  context.CancelCauseFunc // the answer in flight, nil when idle
}

type job struct {
	b  *binding
	m  Message
	id string
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
		hard: hard, hardCancel: cancel,
		convs: map[string]*conv{},
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
	return &binding{r: r, p: p, rt: rt}
}

// Handle implements Handler.
func (b *binding) Handle(ctx context.Context, m Message) error {
	r := b.r
	if strings.TrimSpace(m.Text) == "" {
		b.completed(&m)
		return nil
	}
	name, _, isCmd := ParseCommand(m.Text)
	if b.rt.Respond != "all" && !m.Addressed && !m.Private {
		b.completed(&m)
		return nil
	}
	key := m.Key.String()
	id := strconv.FormatUint(r.seq.Add(1), 36)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	c := r.convs[key]
	if c == nil {
		c = &conv{}
		r.convs[key] = c
	}
	if isCmd && name == CmdStop {
		cancel := c.cancel
		if len(c.queue) == 0 && !c.running {
			delete(r.convs, key)
		}
		r.wg.Add(1)
		r.mu.Unlock()
		text := textNothingRun
		if cancel != nil {
			cancel(errStopped)
			text = textStopped
		}
		go func() {
			defer r.wg.Done()
			r.notify(b, &m, text)
			b.completed(&m)
		}()
		return nil
	}
	if len(c.queue) >= r.cfg.QueueSize {
		r.wg.Add(1)
		r.mu.Unlock()
		go func() {
			defer r.wg.Done()
			r.notify(b, &m, textBusy)
			b.completed(&m)
		}()
		return nil
	}
	c.queue = append(c.queue, job{b: b, m: m, id: id})
	if !c.running {
		c.running = true
		r.wg.Add(1)
		go r.work(key, c)
	}
	r.mu.Unlock()
	return nil
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
		r.process(c, j)
		j.b.completed(&j.m)
	}
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
func (r *Relay) process(c *conv, j job) {
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
	name, arg, isCmd := ParseCommand(j.m.Text)
	if !isCmd {
		r.answer(c, j, j.m.Text, log)
		return
	}
	switch name {
	case CmdReset, CmdNew:
		if err := r.cfg.Store.Forget(j.m.Key); err != nil {
			log.Error("forget conversation", "err", err)
		}
		log.Info("conversation reset")
		r.notify(j.b, &j.m, textReset)
	case CmdHelp, CmdStart:
		r.notify(j.b, &j.m, HelpText)
	case CmdAsk:
		if arg == "" {
			r.notify(j.b, &j.m, textEmptyAsk)
			return
		}
		r.answer(c, j, arg, log)
	default:
		if j.m.Private {
			r.notify(j.b, &j.m, "Unknown command /"+name+". Try /help.")
		}
	}
}

// notify sends a short plain message answering m, within the budgets.
func (r *Relay) notify(b *binding, m *Message, text string) {
	lim := b.p.Limits(m)
	rp := newReply(b.p, m, lim, b.rt.EditInterval, r.budgets, r.log)
	rp.plain[0] = true
	rp.finish(text)
	ctx, cancel := context.WithTimeout(r.hard, 2*time.Minute)
	defer cancel()
	rp.run(ctx)
}

// answer asks the backend and streams the answer into a live reply.
func (r *Relay) answer(c *conv, j job, question string, log *slog.Logger) {
	b, m := j.b, &j.m
	start := r.cfg.Now()
	rec, ok, err := r.cfg.Store.Get(m.Key)
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
	gotText := func() { firstOnce.Do(func() { close(firstText) }) }
	defer gotText()
	if t, ok := b.p.(Typer); ok {
		go r.typing(actx, t, m, b.p.Limits(m).TypingEvery, firstText)
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
		if err := r.cfg.Store.Put(m.Key, rec); err != nil {
			log.Error("store conversation", "err", err)
		}
		log.Info("answered", "chars", len(text), "took", r.cfg.Now().Sub(start).Round(time.Millisecond))
	default:
		cause := context.Cause(actx)
		switch {
		case errors.Is(cause, errStopped):
			final = prefix + text + markStopped
			log.Info("answer stopped by user")
		case errors.Is(cause, errShutdown):
			final = prefix + text + markInterrupt
			log.Info("answer interrupted by shutdown")
		default:
			k := backend.KindOf(err)
			log.Error("backend failed", "kind", k.String(), "err", err)
			final = errorText(k)
			if strings.TrimSpace(text) != "" {
				final = prefix + text + "\n\n" + final
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
	log.Debug("reply written", "updates", upd, "requests", req, "rate_limited", lim)
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

// typing shows the typing indicator until the first text arrives.
func (r *Relay) typing(ctx context.Context, t Typer, m *Message, every time.Duration, first <-chan struct{}) {
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
		if err := t.Typing(ctx, m); err != nil {
			r.log.Debug("typing indicator", "err", err)
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
