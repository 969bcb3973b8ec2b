package discord

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
)

// The gateway side: one gateway per shard, each with a discordgo session
// of its own, connecting, resuming and identifying anew as Discord asks.
// All shards run in this process; their Identify frames keep Discord's
// pace (one per identifyEvery per max_concurrency bucket, from the
// session_start_limit of GET /gateway/bot).

// defaultOpenTimeout bounds one gateway Open.
const defaultOpenTimeout = 30 * time.Second

// shardCount returns how many shards to run and the identify concurrency:
// Config.Shards, or Discord's recommendation when it is 0.
func (a *Adapter) shardCount(ctx context.Context) (shards, concurrency int, err error) {
	if a.cfg.Shards == 1 {
		return 1, 1, nil
	}
	wait := time.Second
	for {
		cctx, rec := withRecorder(ctx)
		gb, err := a.s.GatewayBot(a.opts(cctx)...)
		if err == nil {
			shards = max(1, gb.Shards)
			if a.cfg.Shards > 0 {
				shards = a.cfg.Shards
			}
			if shards > 1 {
				a.log.Info("running shards", "shards", shards, "recommended", gb.Shards)
			}
			return shards, max(1, gb.SessionStartLimit.MaxConcurrency), nil
		}
		if ctx.Err() != nil {
			return 0, 0, nil
		}
		err = wrapErr("get gateway bot", err, rec)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == 401 {
			a.log.Error("discord refused the bot", "err", err)
			return 0, 0, &GatewayError{Code: 4004, Err: err}
		}
		a.log.Warn("gateway discovery failed, retrying", "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, 0, nil
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Minute)
	}
}

// identifyGate paces Identify frames: one per every in each of buckets
// buckets (shard ID modulo max_concurrency).
type identifyGate struct {
	every   time.Duration
	buckets int

	mu   sync.Mutex
	last map[int]time.Time
}

// wait reserves the next Identify slot of shard's bucket and waits for
// it; false when ctx ended first.
func (q *identifyGate) wait(ctx context.Context, shard int) bool {
	q.mu.Lock()
	b := shard % max(1, q.buckets)
	now := time.Now()
	at := now
	if last, ok := q.last[b]; ok && last.Add(q.every).After(now) {
		at = last.Add(q.every)
	}
	q.last[b] = at
	q.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// gateway is one shard's connection to the Discord gateway.
type gateway struct {
	a            *Adapter
	shard, count int
	log          *slog.Logger
	events       chan<- any
	gate         *identifyGate

	s            *discordgo.Session
	detach       []func()
	hasSession   atomic.Bool // READY was seen: Open resumes
	ready        atomic.Bool // READY or RESUMED, not disconnected since
	disconnected chan struct{}
}

func newGateway(a *Adapter, shard, count int, events chan<- any, gate *identifyGate) *gateway {
	g := &gateway{a: a, shard: shard, count: count, log: a.log, events: events, gate: gate,
		disconnected: make(chan struct{}, 1)}
	if count > 1 {
		g.log = a.log.With("shard", shard)
	}
	return g
}

// run keeps the shard connected until ctx ends.
func (g *gateway) run(ctx context.Context) error {
	if err := g.fresh(ctx); err != nil {
		return err
	}
	defer g.close()
	for first := true; ; first = false {
		if err := g.connect(ctx); err != nil || ctx.Err() != nil {
			return err
		}
		if first && g.shard == 0 && !g.a.cfg.SkipCommands {
			g.a.registerCommands(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-g.disconnected:
			if ctx.Err() != nil {
				return nil
			}
			g.log.Warn("gateway connection lost, reconnecting")
		}
	}
}

func (g *gateway) setReady(v bool) {
	if g.ready.CompareAndSwap(!v, v) {
		if v {
			g.a.readyShards.Add(1)
		} else {
			g.a.readyShards.Add(-1)
		}
	}
}

// fresh replaces the gateway session with a new one, which identifies
// anew instead of resuming.
func (g *gateway) fresh(ctx context.Context) error {
	if g.s != nil {
		g.close()
	}
	s, err := g.a.newSession()
	if err != nil {
		return err
	}
	if g.count > 1 {
		s.ShardID, s.ShardCount = g.shard, g.count
	}
	s.Dialer.NetDialContext = func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(dctx, network, addr)
		if err == nil {
			// Unblocks an Open stuck reading from a silent gateway.
			context.AfterFunc(ctx, func() { c.Close() })
		}
		return c, err
	}
	enqueue := func(ev any) {
		select {
		case g.events <- ev:
		case <-ctx.Done():
		}
	}
	g.hasSession.Store(false)
	g.detach = []func(){
		// Ready runs inside discordgo's Open, with the session locked: it
		// must not call the session.
		s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) {
			g.hasSession.Store(true)
			g.setReady(true)
			g.a.ready(r)
		}),
		s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) { g.setReady(true) }),
		s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { enqueue(m) }),
		s.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) { enqueue(i) }),
		s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) {
			g.setReady(false)
			select {
			case g.disconnected <- struct{}{}:
			default:
			}
		}),
	}
	if g.a.sessionHook != nil {
		g.a.sessionHook(s)
	}
	g.s = s
	return nil
}

// connect opens the gateway (identifying, or resuming a known session),
// retrying with backoff; it returns a *GatewayError for fatal close codes
// and nil when ctx ends.
func (g *gateway) connect(ctx context.Context) error {
	wait := time.Second
	for {
		if !g.hasSession.Load() && !g.gate.wait(ctx, g.shard) {
			return nil
		}
		err := g.s.Open()
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			g.log.Info("connected to the gateway")
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if ge := gatewayError(err); ge != nil {
			g.log.Error("discord refused the bot", "code", ge.Code, "err", ge)
			return ge
		}
		if sessionInvalid(err) {
			// discordgo would resume the dead session forever.
			g.log.Warn("gateway session invalidated, identifying anew", "err", err)
			if err := g.fresh(ctx); err != nil {
				return err
			}
			continue
		}
		g.log.Warn("gateway connection failed, retrying", "in", wait, "err", redact(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Minute)
	}
}

// close closes the connection (discordgo sleeps 1 s in it) and removes
// the handlers.
func (g *gateway) close() {
	if err := g.s.Close(); err != nil {
		g.log.Debug("close gateway", "err", err)
	}
	for _, d := range g.detach {
		d()
	}
	g.setReady(false)
}

// ready records who the bot is. It runs inside discordgo's Open, with the
// session locked: it must not call the session.
func (a *Adapter) ready(r *discordgo.Ready) {
	if r == nil || r.User == nil || r.User.ID == "" {
		a.log.Warn("READY without a bot user")
		return
	}
	b := &botInfo{ID: r.User.ID, Name: r.User.Username, AppID: r.User.ID}
	if r.Application != nil && r.Application.ID != "" {
		b.AppID = r.Application.ID
	}
	a.bot.Store(b)
}

// botUser returns the bot's identity, or an empty one before READY.
func (a *Adapter) botUser() botInfo {
	if b := a.bot.Load(); b != nil {
		return *b
	}
	return botInfo{}
}
