package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/bwmarrin/discordgo"
	"github.com/chat-bridge/chat-bridge/bridges"
)

// The gateway side: one gateway per shard, each with a discordgo session
// of its own, connecting, resuming and identifying anew as Discord asks.
// All shards run in this process; their Identify frames keep Discord's
// pace (one per identifyEvery per max_concurrency bucket, from the
// session_start_limit of GET /gateway/bot).
//
// Three guards against discordgo v0.29.0 (each with a test against
// discordtest that fails without it):
//
//   - Open is bounded (openTimeout). An Op 7 arriving as the frame after
//     Identify/Resume makes Open deadlock on its own lock
//     (bwmarrin/discordgo#513); a bounded Open abandons such a session
//     (its sockets closed, its handlers removed; the goroutine stuck on
//     discordgo's lock cannot be freed without patching discordgo) and
//     identifies with a new one.
//   - The adapter never calls Session.Close while the session's listener
//     goroutine may answer an Op 1: Close sets the connection to nil under
//     it, and the listener's write then panics in discordgo's goroutine,
//     killing the process (#1702). Instead close() shuts the socket under
//     the session; the listener gets a read error and closes the session
//     itself, in its own goroutine, and close() waits for that. (Chosen
//     over carrying a patched copy of discordgo: no fork to keep up, no
//     change outside the adapter.) discordgo's own heartbeat goroutine
//     may still Close on a missed ACK; the listener has then long left
//     the Op 1 branch (Close sleeps 1 s before it clears the connection).
//   - Resumes go to READY's resume_gateway_url: discordgo keeps the URL it
//     dials in an unexported field, which setGatewayURL sets before a
//     resume (TestResumeGatewayURL fails if a discordgo upgrade renames
//     it).

// defaultOpenTimeout bounds one gateway Open: Hello, Identify and READY
// take well under a second on a healthy connection.
const defaultOpenTimeout = 30 * time.Second

// errOpenTimeout is connect's error for an abandoned Open.
var errOpenTimeout = errors.New("gateway open did not finish")

// shardCount returns how many shards to run and the identify concurrency:
// Config.Shards, or Discord's recommendation when it is 0.
func (a *Adapter) shardCount(ctx context.Context) (shards, concurrency int, err error) {
	if a.cfg.Shards == 1 && a.leader == nil {
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
			a.setLastError(err)
			return 0, 0, &GatewayError{Code: 4004, Err: err}
		}
		a.log.Warn("gateway discovery failed, retrying", "in", wait, "err", err)
		a.setLastError(err)
		if !bridges.Sleep(ctx, wait) {
			return 0, 0, nil
		}
		wait = min(2*wait, 2*time.Minute)
	}
}

// identifyGate paces Identify frames: one per every in each of buckets
// buckets (shard ID modulo max_concurrency).
type identifyGate struct {
	every   time.Duration
	buckets int

	// shared, in cluster mode, takes the bucket's deployment-wide slot;
	// false means another replica identified within every.
	shared func(bucket int) bool

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
	if !bridges.Sleep(ctx, time.Until(at)) {
		return false
	}
	for q.shared != nil && !q.shared(b) {
		if !bridges.Sleep(ctx, q.every/20) {
			return false
		}
	}
	return true
}

// gateway is one shard's connection to the Discord gateway.
type gateway struct {
	a            *Adapter
	shard, count int
	log          *slog.Logger
	events       chan<- any
	gate         *identifyGate
	noCommands   bool // cluster mode: runCluster registers the commands

	s            *discordgo.Session
	detach       []func()
	socks        *sockets
	hasSession   atomic.Bool // READY was seen: Open resumes
	ready        atomic.Bool // READY or RESUMED, not disconnected since
	open         atomic.Bool // Open succeeded and no Disconnect since: a listener runs
	resumeURL    atomic.Pointer[string]
	disconnected chan struct{}
}

// sockets are the network connections one session dialed.
type sockets struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (k *sockets) add(c net.Conn) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conns = append(k.conns, c)
}

// closeAll closes them; a listener reading from one gets an error.
func (k *sockets) closeAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.conns {
		c.Close()
	}
	k.conns = nil
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
		if first && g.shard == 0 && !g.a.cfg.SkipCommands && !g.noCommands {
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
			g.a.setLastError(fmt.Errorf("shard %d: gateway connection lost", g.shard))
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
	socks := &sockets{}
	s.Dialer.NetDialContext = func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(dctx, network, addr)
		if err == nil {
			socks.add(c)
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
	g.open.Store(false)
	g.resumeURL.Store(nil)
	g.detach = []func(){
		s.AddHandler(func(_ *discordgo.Session, e *discordgo.Event) {
			if e.Type != "READY" {
				return
			}
			var r struct {
				ResumeURL string `json:"resume_gateway_url"`
			}
			if err := json.Unmarshal(e.RawData, &r); err != nil || r.ResumeURL == "" {
				g.log.Warn("READY without resume_gateway_url; resuming at the gateway URL")
				return
			}
			g.resumeURL.Store(&r.ResumeURL)
		}),
		// Ready runs inside discordgo's Open, with the session locked: it
		// must not call the session.
		s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) {
			g.hasSession.Store(true)
			g.setReady(true)
			g.a.ready(r)
		}),
		s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) { g.setReady(true) }),
		s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { enqueue(m) }),
		s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageUpdate) { enqueue(m) }),
		s.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) { enqueue(i) }),
		s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) {
			g.open.Store(false)
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
	g.s, g.socks = s, socks
	return nil
}

// connect opens the gateway (identifying, or resuming a known session),
// retrying with backoff; it returns a *GatewayError for fatal close codes
// and nil when ctx ends.
func (g *gateway) connect(ctx context.Context) error {
	wait := time.Second
	for {
		if g.s == nil {
			if err := g.fresh(ctx); err != nil {
				return err
			}
		}
		if !g.hasSession.Load() {
			g.discover(ctx)
			if !g.gate.wait(ctx, g.shard) {
				return nil
			}
		}
		if u := g.resumeURL.Load(); u != nil && g.hasSession.Load() {
			if !setGatewayURL(g.s, *u) {
				g.log.Warn("cannot set discordgo's gateway URL; resuming at the gateway URL")
			}
		}
		err := g.openBounded(ctx)
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			g.open.Store(true)
			g.log.Info("connected to the gateway")
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errOpenTimeout) {
			g.log.Error("gateway open did not finish; abandoning the session and identifying anew", "after", g.a.openTimeout)
			g.a.setLastError(fmt.Errorf("shard %d: gateway open did not finish within %s", g.shard, g.a.openTimeout))
			g.abandon()
			continue
		}
		if ge := gatewayError(err); ge != nil {
			g.log.Error("discord refused the bot", "code", ge.Code, "err", ge)
			g.a.setLastError(ge)
			return ge
		}
		if sessionInvalid(err) {
			// discordgo would resume the dead session forever.
			g.log.Warn("gateway session invalidated, identifying anew", "err", err)
			g.a.setLastError(fmt.Errorf("shard %d: gateway session invalidated: %w", g.shard, redact(err)))
			if err := g.fresh(ctx); err != nil {
				return err
			}
			continue
		}
		g.log.Warn("gateway connection failed, retrying", "in", wait, "err", redact(err))
		g.a.setLastError(fmt.Errorf("shard %d: gateway connection failed: %w", g.shard, redact(err)))
		if !bridges.Sleep(ctx, wait) {
			return nil
		}
		wait = min(2*wait, 2*time.Minute)
	}
}

// openBounded runs Open, giving up after openTimeout (#513) or when ctx
// ends and Open does not return soon after (its socket is closed then).
func (g *gateway) openBounded(ctx context.Context) error {
	s := g.s
	done := make(chan error, 1)
	go func() { done <- s.Open() }()
	t := time.NewTimer(g.a.openTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errOpenTimeout
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Second):
			return errOpenTimeout
		}
	}
}

// abandon drops a session whose Open is stuck: it closes the session's
// sockets and removes its handlers, without calling into the session
// (whose lock the stuck Open holds).
func (g *gateway) abandon() {
	g.socks.closeAll()
	for _, d := range g.detach {
		d()
	}
	g.setReady(false)
	g.s, g.detach = nil, nil
}

// close ends the session and removes its handlers. While a listener runs
// it never calls Session.Close (#1702): it closes the socket, and the
// listener closes the session itself, which close waits for (discordgo
// sleeps 1 s in Close).
func (g *gateway) close() {
	if g.s == nil {
		return
	}
	if g.open.Load() {
		g.socks.closeAll()
		select {
		case <-g.disconnected:
		case <-time.After(5 * time.Second):
			g.log.Warn("gateway listener did not stop")
		}
	} else if err := g.s.Close(); err != nil { // no listener: nothing can race
		g.log.Debug("close gateway", "err", err)
	}
	for _, d := range g.detach {
		d()
	}
	g.setReady(false)
	g.s, g.detach = nil, nil
}

// discover asks for the gateway's URL (GET /gateway) before the shard's
// Identify slot and gives it to the session, so that the request, booked
// on the global budget (budgets.go), cannot delay the Identify past its
// slot, as it would inside Open. When it fails Open asks again.
func (g *gateway) discover(ctx context.Context) {
	cctx, rec := withRecorder(ctx)
	u, err := g.a.s.Gateway(g.a.opts(cctx)...)
	if err != nil {
		g.log.Debug("discover the gateway; Open asks again", "err", wrapErr("get gateway", err, rec))
		return
	}
	if !setGatewayURL(g.s, u) {
		g.log.Debug("cannot set discordgo's gateway URL; Open asks for it")
	}
}

// setGatewayURL sets the URL discordgo's next Open dials (the unexported
// Session.gateway of v0.29.0, which has no resume_gateway_url support),
// with the query discordgo adds; false if the field is not there.
func setGatewayURL(s *discordgo.Session, u string) bool {
	f := reflect.ValueOf(s).Elem().FieldByName("gateway")
	if !f.IsValid() || f.Kind() != reflect.String {
		return false
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	s.Lock()
	defer s.Unlock()
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetString(u + "?v=" + discordgo.APIVersion + "&encoding=json")
	return true
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
