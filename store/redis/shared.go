package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// dayCountTTL keeps a day's counter past the end of its day in every time
// zone, then lets the server drop it.
const dayCountTTL = 48 * time.Hour

var countDailyScript = goredis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return {0, n}
end
n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {1, n}
`)

// CountDaily counts one event for key on day (the caller's day, e.g.
// "2026-12-02" in UTC) unless limit events are counted already, in one
// atomic step: every replica shares the count, so N replicas together
// allow limit events a day, not N × limit. It returns whether this event
// was counted and the day's count. A day's counter expires 48h after its
// first event.
func (kv *KV) CountDaily(ctx context.Context, key, day string, limit int) (counted bool, count int, err error) {
	if limit <= 0 {
		return false, 0, errors.New("count daily: limit must be positive")
	}
	res, err := countDailyScript.Run(ctx, kv.db.rdb, []string{kv.data + ":day:" + day + ":" + key}, limit, ms(dayCountTTL)).Slice()
	if err != nil {
		return false, 0, fmt.Errorf("kv %s count daily %q: %w", kv.ns, key, kv.db.clean(err))
	}
	ok, _ := res[0].(int64)
	n, _ := res[1].(int64)
	return ok == 1, int(n), nil
}

// Keep holds l for as long as ctx lasts: it renews the lease every TTL/6
// and returns (releasing the lease, with a fresh context) when ctx ends,
// or returns ErrFenced as soon as a renewal is refused — ownership is
// lost and the caller must stop acting for the lease at once. onRenew,
// when set, receives the lease after each successful renewal (its new
// Until). A renewal that fails for another reason (the server
// unreachable) is retried until l.Until passes, then Keep returns that
// error: past Until the holder must stop anyway.
func (db *DB) Keep(ctx context.Context, l Lease, onRenew func(Lease)) error {
	every := max(l.TTL/6, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := db.Release(rctx, l); err != nil && !errors.Is(err, ErrFenced) {
				return err
			}
			return nil
		case <-t.C:
		}
		err := db.Renew(ctx, &l)
		switch {
		case err == nil:
			if onRenew != nil {
				onRenew(l)
			}
		case errors.Is(err, ErrFenced):
			return err
		case ctx.Err() != nil:
			// ending: the next loop releases
		case !l.Valid(db.now()):
			return err
		}
	}
}
