package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/store"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
)

// redisCluster is bridges.Cluster on store/redis: the partition queue
// (redisstore.Queue) with one fenced lease per partition. Each replica
// announces itself (Members) and holds about partitions/replicas of the
// partitions: it acquires free ones up to that share, and hands idle ones
// over (Release) when replicas join. A partition whose holder died is
// free again TTL after its last renewal; the next maintenance round of
// another replica (every tick, at most a second) acquires it and claims
// the entries the dead holder read but did not complete, with their
// checkpoints.
type redisCluster struct {
	db     *redisstore.DB
	q      *redisstore.Queue
	id     string
	ttl    time.Duration
	tick   time.Duration
	dedupe time.Duration
	log    *slog.Logger

	partitions int // for open

	mu      sync.Mutex
	held    map[int]*heldPart
	members []string
	jobs    map[string]*redisstore.Lease // one-time jobs' leases, by role

	view viewCache // the deployment view (clusterview.go)

	// Test hooks: paused stops every renewal and read (a frozen
	// process); aborted stops Run at once without handing over (a
	// killed one).
	paused  atomic.Bool
	aborted chan struct{}
	abort   sync.Once

	ctl controlState // the control path (cluster_control.go)
}

// heldPart is one partition this replica holds.
type heldPart struct {
	l       redisstore.Lease
	since   time.Time // acquired
	renewed time.Time
	handed  map[string]bool // stream IDs handed out, not completed or abandoned
	// done are the stream IDs completed lately: a re-claim whose answer
	// crossed a completion must not hand them out again.
	done map[string]time.Time
}

func newRedisCluster(db *redisstore.DB, q *redisstore.Queue, id string, ttl time.Duration, log *slog.Logger) *redisCluster {
	return &redisCluster{
		db: db, q: q, id: id, ttl: ttl, tick: min(time.Second, ttl/5), dedupe: 24 * time.Hour,
		log: log, held: map[int]*heldPart{}, jobs: map[string]*redisstore.Lease{}, aborted: make(chan struct{}),
	}
}

var _ bridges.Cluster = (*redisCluster)(nil)

// Accept implements bridges.Cluster.
func (c *redisCluster) Accept(ctx context.Context, conv string, e store.InboxEntry) (bool, error) {
	a, err := c.q.Accept(ctx, conv, e, c.dedupe)
	return a.Duplicate, err
}

// Abort stops Run at once without releasing anything and makes every
// claim invalid: from the other replicas' side, a killed process.
func (c *redisCluster) Abort() {
	c.abort.Do(func() {
		close(c.aborted)
		c.mu.Lock()
		c.held = map[int]*heldPart{}
		c.mu.Unlock()
	})
}

func (c *redisCluster) isAborted() bool {
	select {
	case <-c.aborted:
		return true
	default:
		return false
	}
}

// Run implements bridges.Cluster.
func (c *redisCluster) Run(ctx context.Context, deliver func(bridges.Claim)) error {
	var next time.Time
	failing := false
	for ctx.Err() == nil && !c.isAborted() {
		if c.paused.Load() {
			c.sleep(ctx, c.tick/4)
			continue
		}
		if time.Now().After(next) {
			c.maintain(ctx, deliver)
			next = time.Now().Add(c.tick)
		}
		leases := c.readable()
		if len(leases) == 0 {
			c.sleep(ctx, time.Until(next))
			continue
		}
		block := max(10*time.Millisecond, min(time.Until(next), 500*time.Millisecond))
		ds, err := c.q.Read(ctx, 64, block, leases...)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if !failing {
				c.log.Warn("cluster: reading the queue failed; retrying", "err", err)
			}
			failing = true
			c.sleep(ctx, 200*time.Millisecond)
			continue
		}
		failing = false
		if len(ds) > 0 {
			c.readEdits(ctx, ds)
		}
		for _, d := range ds {
			c.hand(d, deliver, false)
		}
		c.forgetEdits()
	}
	if c.isAborted() {
		return nil
	}
	c.drain()
	return nil
}

func (c *redisCluster) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-c.aborted:
	case <-t.C:
	}
}

// readable returns the leases still valid for acting, sorted.
func (c *redisCluster) readable() []redisstore.Lease {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []redisstore.Lease
	for _, h := range c.held {
		if h.l.Valid(now) {
			out = append(out, h.l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// hand gives d to the relay, once per holding: an entry already handed
// out (a re-claim of this replica's own pending entries) is skipped.
func (c *redisCluster) hand(d redisstore.Delivery, deliver func(bridges.Claim), claimed bool) {
	c.mu.Lock()
	h := c.held[d.Partition]
	if h == nil || h.handed[d.StreamID] || !h.done[d.StreamID].IsZero() {
		c.mu.Unlock()
		return
	}
	h.handed[d.StreamID] = true
	l := h.l
	c.mu.Unlock()
	if claimed {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cp, err := c.q.Checkpoints(ctx, d)
		cancel()
		if err != nil {
			c.log.Warn("cluster: cannot read a taken-over answer's checkpoint; it is posted anew", "err", err)
		} else if raw := cp["posted"]; raw != "" {
			var posted []store.PostedMessage
			if json.Unmarshal([]byte(raw), &posted) == nil {
				d.Entry.Posted = posted
			}
		}
	}
	deliver(&redisClaim{c: c, l: l, d: d})
}

// maintain announces this replica, renews its leases, hands excess idle
// partitions over, acquires free ones up to its share and re-claims
// entries of held partitions that a former holder read late.
func (c *redisCluster) maintain(ctx context.Context, deliver func(bridges.Claim)) {
	ctx, cancel := context.WithTimeout(ctx, c.ttl/3)
	defer cancel()
	members, err := c.db.Members(ctx, c.id, c.ttl)
	if err != nil {
		c.log.Warn("cluster: cannot announce this replica", "err", err)
	}
	c.mu.Lock()
	if err == nil {
		c.members = members
	}
	n := max(1, len(c.members))
	held := make(map[int]redisstore.Lease, len(c.held))
	for p, h := range c.held {
		held[p] = h.l
	}
	c.mu.Unlock()
	share := (c.q.Partitions() + n - 1) / n
	c.renewJobs(ctx)

	for p, l := range held {
		if !l.Valid(time.Now()) {
			// Lapsed (renewals failed past its validity deadline): its
			// claims stopped acting and some were abandoned, so it must
			// not act again, or a conversation's later entries would
			// overtake them. Give it up; re-acquiring it (a new token)
			// claims every pending entry again, in order.
			c.mu.Lock()
			if h := c.held[p]; h != nil && h.l.Token == l.Token {
				delete(c.held, p)
			}
			c.mu.Unlock()
			_ = c.db.Release(ctx, l)
			c.log.Warn("cluster: a partition's lease lapsed; it is handed over", "partition", p)
			continue
		}
		err := c.db.Renew(ctx, &l)
		c.mu.Lock()
		h := c.held[p]
		switch {
		case h == nil || h.l.Token != l.Token:
		case errors.Is(err, redisstore.ErrFenced):
			delete(c.held, p)
			c.log.Warn("cluster: lost a partition's lease; its answers are left to the new owner", "partition", p)
		case err != nil && !h.l.Valid(time.Now()):
			// Lapsed: its claims stopped acting; holding on would let
			// later entries of a conversation overtake the ones they
			// abandoned. Re-acquiring gives a new token and claims them
			// all again, in order.
			delete(c.held, p)
			c.log.Warn("cluster: a partition's lease lapsed (the store is unreachable); its answers are left to the next owner", "partition", p, "err", err)
		case err != nil:
			c.log.Warn("cluster: cannot renew a partition's lease", "partition", p, "err", err)
		default:
			h.l.Until, h.renewed = l.Until, time.Now()
		}
		c.mu.Unlock()
	}

	// Hand idle partitions over beyond the share (replicas joined).
	c.mu.Lock()
	var release []redisstore.Lease
	for p, h := range c.held {
		if len(c.held)-len(release) <= share {
			break
		}
		if len(h.handed) == 0 {
			release = append(release, h.l)
			delete(c.held, p)
		}
	}
	c.mu.Unlock()
	for _, l := range release {
		if err := c.db.Release(ctx, l); err != nil {
			c.log.Warn("cluster: releasing a partition", "lease", l.Name, "err", err)
		}
	}

	// Re-claim what a former holder read late (before acquiring, so the
	// new partitions' claims are not done twice).
	for _, l := range c.readable() {
		ds, err := c.q.Claim(ctx, l)
		if err != nil {
			continue
		}
		for _, d := range ds {
			c.hand(d, deliver, true)
		}
	}

	c.mu.Lock()
	want := share - len(c.held)
	c.mu.Unlock()
	if want <= 0 {
		return
	}
	names := make([]string, c.q.Partitions())
	for p := range names {
		names[p] = c.q.LeaseName(p)
	}
	busy, err := c.db.LeasesHeld(ctx, names)
	if err != nil {
		return
	}
	h := fnv.New32a()
	h.Write([]byte(c.id))
	off := int(h.Sum32() % uint32(len(names)))
	for i := range names {
		if want == 0 {
			break
		}
		p := (off + i) % len(names)
		if busy[p] {
			continue
		}
		l, err := c.db.Acquire(ctx, names[p], c.id, c.ttl)
		if err != nil {
			continue
		}
		now := time.Now()
		c.mu.Lock()
		c.held[p] = &heldPart{l: l, since: now, renewed: now, handed: map[string]bool{}, done: map[string]time.Time{}}
		c.mu.Unlock()
		want--
		ds, err := c.q.Claim(ctx, l)
		if err != nil {
			c.log.Warn("cluster: claiming a partition's pending entries", "partition", p, "err", err)
			continue
		}
		for _, d := range ds {
			c.hand(d, deliver, true)
		}
	}
}

// drain keeps the leases of partitions with answers in flight until they
// are completed or abandoned, then releases every lease.
func (c *redisCluster) drain() {
	for !c.isAborted() {
		c.mu.Lock()
		busy := 0
		for _, h := range c.held {
			busy += len(h.handed)
		}
		c.mu.Unlock()
		if busy == 0 {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.ttl/3)
		c.mu.Lock()
		for _, h := range c.held {
			l := h.l
			c.mu.Unlock()
			if err := c.db.Renew(ctx, &l); err == nil {
				c.mu.Lock()
				h.l.Until, h.renewed = l.Until, time.Now()
				c.mu.Unlock()
			}
			c.mu.Lock()
		}
		c.mu.Unlock()
		cancel()
		c.sleep(context.Background(), c.tick)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.mu.Lock()
	held := c.held
	c.held = map[int]*heldPart{}
	c.mu.Unlock()
	for _, h := range held {
		if err := c.db.Release(ctx, h.l); err != nil {
			c.log.Warn("cluster: releasing a partition", "lease", h.l.Name, "err", err)
		}
	}
	c.mu.Lock()
	jobs := c.jobs
	c.jobs = map[string]*redisstore.Lease{}
	c.mu.Unlock()
	for _, l := range jobs {
		_ = c.db.Release(ctx, *l)
	}
	if err := c.db.Leave(ctx, c.id); err != nil {
		c.log.Warn("cluster: leaving", "err", err)
	}
	c.log.Info("cluster: leases handed over", "partitions", len(held))
}

// settle forgets a handed-out entry (completed or abandoned) of the
// holding with token.
func (c *redisCluster) settle(p int, token int64, sid string, completed bool) {
	c.mu.Lock()
	if h := c.held[p]; h != nil && h.l.Token == token {
		delete(h.handed, sid)
		if completed {
			now := time.Now()
			h.done[sid] = now
			for id, at := range h.done {
				if now.Sub(at) > time.Minute {
					delete(h.done, id)
				}
			}
		}
	}
	c.mu.Unlock()
}

// clusterStatus is the replica's part of /readyz: its own partitions,
// and the whole deployment as Redis has it.
type clusterStatus struct {
	Replica    string            `json:"replica"`
	Replicas   []string          `json:"replicas"`
	Partitions []partitionStatus `json:"partitions"`
	// Deployment is set in /readyz, not by status.
	Deployment *deploymentView `json:"deployment,omitempty"`
}

type partitionStatus struct {
	Partition int    `json:"partition"`
	Token     int64  `json:"token"`
	HeldFor   string `json:"held_for"`
	Renewed   string `json:"renewed_ago"`
	InFlight  int    `json:"in_flight"`
}

func (c *redisCluster) status() clusterStatus {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := clusterStatus{Replica: c.id, Replicas: append([]string{}, c.members...), Partitions: []partitionStatus{}}
	for p, h := range c.held {
		st.Partitions = append(st.Partitions, partitionStatus{
			Partition: p, Token: h.l.Token, InFlight: len(h.handed),
			HeldFor: now.Sub(h.since).Round(time.Millisecond).String(),
			Renewed: now.Sub(h.renewed).Round(time.Millisecond).String(),
		})
	}
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].Partition < st.Partitions[j].Partition })
	return st
}

// redisClaim is one delivery handed to the relay.
type redisClaim struct {
	c       *redisCluster
	l       redisstore.Lease
	d       redisstore.Delivery
	settled atomic.Bool
}

func (cl *redisClaim) Entry() store.InboxEntry { return cl.d.Entry }

// Valid implements bridges.Claim: the partition is still held under the
// same token and its lease's validity deadline has not passed.
func (cl *redisClaim) Valid() bool {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.held[cl.d.Partition]
	return h != nil && h.l.Token == cl.l.Token && h.l.Valid(time.Now())
}

// errNotOwner refuses a write this replica knows to be stale already.
var errNotOwner = fmt.Errorf("cluster: %w", redisstore.ErrFenced)

func (cl *redisClaim) Checkpoint(posted []store.PostedMessage) error {
	if !cl.Valid() {
		return errNotOwner
	}
	data, err := json.Marshal(posted)
	if err != nil {
		return err
	}
	return cl.retry(func(ctx context.Context) error {
		return cl.c.q.Checkpoint(ctx, cl.l, cl.d, "posted", string(data))
	})
}

// retry runs a fenced write until it succeeds, is fenced, or the claim is
// no longer valid: a brief store outage delays the answer instead of
// abandoning it (which would post it again, or let the conversation's
// next question overtake it).
func (cl *redisClaim) retry(write func(ctx context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := write(ctx)
		cancel()
		if err == nil || errors.Is(err, redisstore.ErrFenced) || !cl.Valid() {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

func (cl *redisClaim) Complete(comp bridges.Completion) error {
	if !cl.Valid() {
		return errNotOwner
	}
	err := cl.retry(func(ctx context.Context) error {
		return cl.c.q.Complete(ctx, cl.l, cl.d, redisstore.Completion{Record: comp.Record, Forget: comp.Forget})
	})
	if err == nil && cl.settled.CompareAndSwap(false, true) {
		cl.c.settle(cl.d.Partition, cl.l.Token, cl.d.StreamID, true)
	}
	return err
}

func (cl *redisClaim) Abandon() {
	if cl.settled.CompareAndSwap(false, true) {
		cl.c.settle(cl.d.Partition, cl.l.Token, cl.d.StreamID, false)
	}
}

// buildCluster returns the cluster of a Redis store, nil for bbolt. It
// does no I/O: open prepares the queue.
func buildCluster(cfg *Config, db bridgeStore, log *slog.Logger) *redisCluster {
	rs, ok := db.(redisStore)
	if !ok || cfg.StoreKind != "redis" {
		return nil
	}
	cc := cfg.Cluster
	if cc.ReplicaID == "" {
		cc.ReplicaID = defaultReplicaID()
	}
	if cc.LeaseTTL <= 0 {
		cc.LeaseTTL = 15 * time.Second
	}
	if cc.Partitions <= 0 {
		cc.Partitions = 64
	}
	c := newRedisCluster(rs.DB, nil, cc.ReplicaID, cc.LeaseTTL, log.With("replica", cc.ReplicaID))
	c.partitions = cc.Partitions
	return c
}

// open creates (or checks) the partition queue: a partition count other
// than the one recorded in Redis is refused.
func (c *redisCluster) open(ctx context.Context) error {
	if c == nil || c.q != nil {
		return nil
	}
	q, err := c.db.Queue(ctx, c.partitions)
	if err != nil {
		return fmt.Errorf("cluster.partitions: %w", err)
	}
	c.q = q
	c.log.Info("cluster mode", "replica", c.id, "partitions", q.Partitions(), "lease_ttl", c.ttl)
	return nil
}

// statusFunc is /readyz's cluster part; nil outside cluster mode.
func (c *redisCluster) statusFunc() func() any {
	if c == nil {
		return nil
	}
	return func() any {
		st := c.status()
		d := c.deployment()
		st.Deployment = &d
		return st
	}
}

// viewFunc is the operator page's cluster section; nil outside cluster
// mode.
func (c *redisCluster) viewFunc() func() *deploymentView {
	if c == nil {
		return nil
	}
	return func() *deploymentView {
		d := c.deployment()
		return &d
	}
}

// leaderFunc is bridges.Deps.Leader; nil outside cluster mode. The roles
// asked are noted for the deployment view.
func (c *redisCluster) leaderFunc() func(string) bool {
	if c == nil {
		return nil
	}
	return func(role string) bool {
		c.view.noteRole(role)
		return c.leads(role)
	}
}

// leads reports whether this replica does job role, asked more than once
// (Telegram's poller asks before every getUpdates): a role this replica
// holds is reported without a round trip while its lease is valid, false
// (stop acting) once a renewal is overdue; a role it does not hold is
// tried: the replica that gets its lease does the job, and keeps the
// lease (renewed by maintain, released by drain) while it runs. A failure
// to reach Redis counts as "not the leader" (and is logged): doing a job
// twice is what must never happen. A refusal is not logged (non-leaders
// ask every second).
func (c *redisCluster) leads(role string) bool {
	c.mu.Lock()
	l := c.jobs[role]
	held := l != nil
	valid := held && l.Valid(time.Now())
	c.mu.Unlock()
	if held {
		return valid
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nl, err := c.db.Acquire(ctx, "job/"+role, c.id, c.ttl)
	if err != nil {
		if !errors.Is(err, redisstore.ErrLeaseHeld) {
			c.log.Warn("cluster: cannot take a job's lease; another replica does it", "job", role, "err", err)
		}
		return false
	}
	c.mu.Lock()
	c.jobs[role] = &nl
	c.mu.Unlock()
	c.log.Info("cluster: this replica does the job", "job", role)
	return true
}

// renewJobs keeps the one-time jobs' leases.
func (c *redisCluster) renewJobs(ctx context.Context) {
	c.mu.Lock()
	jobs := make(map[string]redisstore.Lease, len(c.jobs))
	for r, l := range c.jobs {
		jobs[r] = *l
	}
	c.mu.Unlock()
	for role, l := range jobs {
		err := c.db.Renew(ctx, &l)
		c.mu.Lock()
		if errors.Is(err, redisstore.ErrFenced) {
			delete(c.jobs, role)
		} else if err == nil && c.jobs[role] != nil {
			c.jobs[role].Until = l.Until
		}
		c.mu.Unlock()
	}
}
