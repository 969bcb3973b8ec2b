package discord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Cluster mode (Deps.Leader set): the instance's shards are leased across
// the replicas, one role per shard ("discord/NAME/shard/I"). A replica
// runs the gateway sessions of the shards it leads, starts one when it
// gains the role and stops it when it loses the role (a renewal overdue);
// a dead replica's shard is taken by another within the lease TTL and
// identifies anew. The identify pace holds deployment-wide: besides the
// local gate, each Identify takes its max_concurrency bucket's slot in the
// shared KV (Seen "identify/B" for identifyEvery: atomic on Redis, on the
// server's clock). One replica registers the slash commands
// ("discord/NAME/commands"). Every replica sends answers over REST,
// whichever shard received the question.

// shardRole is the cluster role of one shard.
func (a *Adapter) shardRole(shard int) string {
	return fmt.Sprintf("discord/%s/shard/%d", a.cfg.Name, shard)
}

// commandsRole is the cluster role of the replica that registers the
// slash commands.
func (a *Adapter) commandsRole() string { return "discord/" + a.cfg.Name + "/commands" }

// sharedIdentify takes the deployment-wide Identify slot of bucket; false
// while another replica (or shard) identified in it within identifyEvery,
// or when the KV cannot say (identifying too fast is what must not
// happen).
func (a *Adapter) sharedIdentify(bucket int) bool {
	seen, err := a.kv.Seen(fmt.Sprintf("identify/%d", bucket), a.identifyEvery)
	if err != nil {
		a.log.Warn("cluster: cannot book an identify slot; waiting", "err", err)
		return false
	}
	return !seen
}

// runCluster is Run in cluster mode: every leaderEvery it asks for the
// shard roles and starts or stops gateways to match, taking at most one
// new shard per round so that replicas starting together spread the
// shards.
func (a *Adapter) runCluster(ctx context.Context, h bridges.Handler, count, concurrency int) error {
	a.shards.Store(0)
	a.clusterUp.Store(true)
	defer a.clusterUp.Store(false)
	events := make(chan any, 64)
	gate := &identifyGate{every: a.identifyEvery, buckets: concurrency, last: map[int]time.Time{}, shared: a.sharedIdentify}
	errc := make(chan error, count)
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	shards := map[int]*running{}
	var wg sync.WaitGroup
	stop := func(id int) {
		r := shards[id]
		r.cancel()
		<-r.done
		delete(shards, id)
		a.shards.Add(-1)
	}
	defer func() {
		for id := range shards {
			stop(id)
		}
		wg.Wait()
	}()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wg.Go(func() { a.work(wctx, h, events) })
	commands := a.cfg.SkipCommands
	t := time.NewTicker(a.leaderEvery)
	defer t.Stop()
	for {
		took := false
		for id := range count {
			role := a.shardRole(id)
			r := shards[id]
			switch {
			case r != nil && !a.leader(role):
				a.log.Info("cluster: lost a shard; stopping its gateway", "shard", id)
				stop(id)
			case r == nil && !took && a.leader(role):
				took = true
				a.log.Info("cluster: this replica runs a shard", "shard", id, "shards", count)
				sctx, cancel := context.WithCancel(ctx)
				r := &running{cancel: cancel, done: make(chan struct{})}
				shards[id] = r
				a.shards.Add(1)
				g := newGateway(a, id, count, events, gate)
				g.noCommands = true
				wg.Go(func() {
					defer close(r.done)
					if err := g.run(sctx); err != nil {
						select {
						case errc <- err:
						default: // Run returns the first
						}
					}
				})
			}
		}
		if !commands && a.botUser().AppID != "" && a.leader(a.commandsRole()) {
			commands = true
			a.registerOnce(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-t.C:
		}
	}
}

// commandsKeep is how long a registration of one command set counts for
// the deployment: a replica that takes the commands role over (its
// holder died) does not register the same set again within it.
const commandsKeep = 24 * time.Hour

// registerOnce registers the slash commands unless a replica registered
// the same set within commandsKeep: the time of the last registration is
// kept in the shared KV under the set's hash, so a deploy that changes
// the commands registers them. Only the commands role's holder calls it.
func (a *Adapter) registerOnce(ctx context.Context) {
	b, _ := json.Marshal(slashCommands())
	sum := sha256.Sum256(b)
	mark := "commands/" + hex.EncodeToString(sum[:8])
	if v, ok, err := a.kv.Get(mark); err == nil && ok {
		if sec, err := strconv.ParseInt(string(v), 10, 64); err == nil && a.now().Sub(time.Unix(sec, 0)) < commandsKeep {
			a.log.Debug("cluster: slash commands already registered by a replica")
			return
		}
	}
	if a.registerCommands(ctx) {
		if err := a.kv.Put(mark, []byte(strconv.FormatInt(a.now().Unix(), 10))); err != nil {
			a.log.Warn("cluster: record the slash commands' registration", "err", err)
		}
	}
}
