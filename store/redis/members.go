package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The replicas of a deployment announce themselves, so that each can take
// its share of the partitions:
//
//	P:replicas  ZSET replica ID -> expiry (ms, on the server's clock)
//
// A replica that stops renewing drops out ttl after its last Members call.

var membersScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// Members marks id live for ttl and returns every live replica's ID,
// sorted (id among them). An empty id only lists.
func (db *DB) Members(ctx context.Context, id string, ttl time.Duration) ([]string, error) {
	if strings.Contains(id, ":") {
		return nil, errors.New("members: a replica ID has no ':'")
	}
	res, err := membersScript.Run(ctx, db.rdb, []string{db.key("replicas")}, id, ms(ttl)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("members: %w", db.clean(err))
	}
	return res, nil
}

// Leave removes id from the live replicas at once (a drained replica).
func (db *DB) Leave(ctx context.Context, id string) error {
	if err := db.rdb.ZRem(ctx, db.key("replicas"), id).Err(); err != nil {
		return fmt.Errorf("leave: %w", db.clean(err))
	}
	return nil
}

// LeasesHeld reports for each name whether someone holds that lease now
// (one round trip), so a replica tries to acquire only free ones.
func (db *DB) LeasesHeld(ctx context.Context, names []string) ([]bool, error) {
	p := db.rdb.Pipeline()
	cmds := make([]*goredis.IntCmd, len(names))
	for i, n := range names {
		cmds[i] = p.Exists(ctx, db.leaseKey(n))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("leases held: %w", db.clean(err))
	}
	out := make([]bool, len(names))
	for i, c := range cmds {
		out[i] = c.Val() == 1
	}
	return out, nil
}
