package bridges

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chat-bridge/chat-bridge/store"
)

// The relay's files: relay.go queues messages per conversation and shuts
// down; admit.go decides who is addressed; handle.go refuses, notes edits
// and stops; commands.go runs the chat commands; answer.go answers one
// turn; inbox.go keeps accepted messages durably and resumes them after a
// restart; cluster.go does the same as one of N replicas; reply.go writes
// the live reply; notices.go holds every text a user sees.

// ErrClosed is returned by Handle once the relay is shutting down.
var ErrClosed = errors.New("bridge is shutting down")

var (
	errStopped  = errors.New("stopped by /stop")
	errShutdown = errors.New("interrupted by shutdown")
	errEdited   = errors.New("question edited")
)

// Relay turns incoming messages into backend questions and live replies.
// Messages of one conversation are answered in order, one at a time;
// different conversations run concurrently. A Relay is safe for concurrent
// use.
type Relay struct {
	cfg     Config
	log     *slog.Logger
	met     Metrics
	budgets *limiter
	seq     atomic.Uint64

	// hard ends the writers of live replies when even the shutdown grace
	// for final texts is over.
	hard       context.Context
	hardCancel context.CancelFunc
	started    time.Time // Recover resumes only messages accepted before it

	mu      sync.Mutex
	convs   map[string]*conv
	closed  bool
	closing chan struct{} // closed when Shutdown starts
	wg      sync.WaitGroup

	bindings map[string]*binding // by Route.Name, for Recover
	// claims are the inbox IDs this run queued (bounded): a redelivery of
	// one of them is not answered again.
	claims     map[string]struct{}
	claimOrder []string
	rates      *windows // per-user and per-chat question rates, quotas
	errs       *windows // errors shown per chat and kind
	notice     *windows // refusals shown, at most one a minute per user
	admins     *adminCache
	// clusterStopped is closed when RunCluster returns.
	clusterStopped chan struct{}
	clusterRunning atomic.Bool
}

// conv is the per-conversation queue.
type conv struct {
	queue   []job
	running bool
	cancel  context.CancelCauseFunc // the answer in flight, nil when idle
	// current is the platform ID of the message being answered;
	// streaming is true while its backend stream runs, when an edit of
	// it (edit) restarts the answer.
	current   string
	streaming bool
	edit      *edit
	// last is the conversation's latest reply; while it is unsettled the
	// next reply posts after it (reply.after). detached is set by answer
	// when it left that reply to settle in its own goroutine, which then
	// completes the job, so that the next question is asked at once.
	last     *reply
	detached bool
}

// edit is the new text of the message being answered.
type edit struct {
	m        Message
	question string
}

// job is one accepted message waiting in its conversation's queue.
type job struct {
	b        *binding
	m        Message
	id       string
	received time.Time // when the bridge accepted m (PendingMaxAge counts from it)
	inboxID  string    // "" when not kept in the inbox
	// entry is m's inbox entry (when inboxID is set), which the reply
	// updates with the messages it posts; posted are the messages a
	// previous run posted for this answer (a resumed job).
	entry  *store.InboxEntry
	posted []Sent
	cl     *clusterJob // cluster mode: the claim (cluster.go)
}

// NewRelay returns a relay; it starts no goroutine until messages arrive.
func NewRelay(cfg Config) (*Relay, error) {
	if cfg.Store == nil {
		return nil, errors.New("relay: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hard, cancel := context.WithCancel(context.Background())
	r := &Relay{
		cfg: cfg, log: cfg.Logger, met: cfg.Metrics, budgets: newLimiter(),
		hard: hard, hardCancel: cancel, started: cfg.Now(),
		convs: map[string]*conv{}, closing: make(chan struct{}),
		bindings: map[string]*binding{}, claims: map[string]struct{}{},
		errs: newWindows(), notice: newWindows(), admins: newAdminCache(),
		clusterStopped: make(chan struct{}),
	}
	r.rates = newWindows()
	r.rates.kv = cfg.QuotaKV
	r.rates.onErr = func(op string, err error) {
		r.log.Error("quota: "+op+" failed; the daily count may be lost", "err", err)
		r.met.StoreError(op)
	}
	return r, nil
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
	if ad.Ignore && ad.Reason == "empty" && m.NonText && (b.rt.Respond == "all" || m.Private || m.Mentioned || m.ReplyToBot || m.InBotThread) {
		return r.textOnly(b, m)
	}
	if ad.Ignore {
		r.met.Message(m.Key, b.rt.BackendName, "ignored", ad.Reason)
		b.completed(&m)
		return nil
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if m.Edited {
		r.edited(b, m, ad)
		return nil
	}
	r.met.Message(m.Key, b.rt.BackendName, "received", "")
	if ad.Command == CmdStop {
		r.stop(b, m)
		return nil
	}
	if refusal, reason := b.refuse(&m, ad); refusal != "" {
		return r.refused(b, &m, refusal, reason)
	}
	j := job{b: b, m: m, id: strconv.FormatUint(r.seq.Add(1), 36), received: r.cfg.Now()}
	if r.cfg.Cluster != nil {
		if !replicaLocal(b.p) {
			return r.accept(ctx, j)
		}
		return r.enqueue(j) // answered here, where its browser listens
	}
	if dup := r.keep(&j); dup {
		b.completed(&m)
		return nil
	}
	return r.enqueue(j)
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
		r.met.Message(j.m.Key, j.b.rt.BackendName, "refused", "busy")
		go func() {
			defer r.wg.Done()
			r.notify(j.b, &j.m, sayIn(r.lang(&j.m), noticeBusy))
			r.inboxDone(j)
			j.b.completed(&j.m)
		}()
		return nil
	}
	c.queue = append(c.queue, j)
	r.claim(j.inboxID)
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
			if c.last == nil || isClosed(c.last.settled) {
				delete(r.convs, key)
			} // else the last reply's settled deletes it, keeping the order for a new question
			r.mu.Unlock()
			return
		}
		j := c.queue[0]
		c.queue = c.queue[1:]
		c.current = j.m.ID
		last := c.last
		r.mu.Unlock()
		if j.cl != nil && !j.cl.c.Valid() {
			j.cl.c.Abandon() // the partition's new owner answers it
			continue
		}
		if last != nil && !isQuestion(&j) {
			// A command's notice is no pipelined answer: it waits for the
			// previous answer's final text, to show after it.
			<-last.settled
		}
		pending := r.process(c, j)
		r.mu.Lock()
		c.current, c.edit = "", nil
		detached := c.detached
		c.detached = false
		r.mu.Unlock()
		if detached {
			continue // the answer's own goroutine completes j
		}
		if !pending {
			r.inboxDone(j)
		} else if j.cl != nil {
			j.cl.c.Abandon()
		}
		j.b.completed(&j.m)
	}
}

// settled forgets the conversation c, whose worker has ended, once its
// last reply rp settled (a new question meanwhile made c run again).
func (r *Relay) settled(key string, c *conv, rp *reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.last == rp {
		c.last = nil
		if !c.running && len(c.queue) == 0 && r.convs[key] == c {
			delete(r.convs, key)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// isQuestion reports whether j is answered by the backend (a plain
// message or /ask).
func isQuestion(j *job) bool {
	ad := Admit(&j.m, j.b.rt.Respond, "")
	return ad.Command == "" || ad.Command == CmdAsk
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

// Shutdown stops accepting messages and waits for live replies to finish
// until ctx ends; then it interrupts the remaining answers, whose replies
// get their partial text and an "interrupted" note, and waits up to final
// more for those texts to land.
func (r *Relay) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.closing)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		r.hardCancel()
		r.waitCluster()
		return nil
	case <-ctx.Done():
	}
	r.mu.Lock()
	dropped := 0
	for _, c := range r.convs {
		dropped += len(c.queue)
		for _, j := range c.queue {
			if j.cl != nil {
				j.cl.c.Abandon() // handed over with the lease
			}
		}
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
		r.waitCluster()
		return nil
	case <-t.C:
		r.hardCancel()
		<-done
		r.waitCluster()
		return errors.New("shutdown: some final texts could not be written in time")
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
