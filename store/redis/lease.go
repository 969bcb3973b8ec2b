package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Leases give one replica at a time a duty (a partition of the queue, the
// Telegram poller, a Discord shard, setWebhook), with a fencing token:
//
//	P:lease:<name>  STRING "<holder>:<token>", PX ttl
//	P:epoch:<name>  counter, never expires: INCR per acquisition
//
// The token of a name only grows (the counter outlives every lease and,
// with AOF, a server restart), so a write guarded by a token can tell the
// current holder from a former one that was frozen past its TTL and woke
// up: every fenced script first compares the lease's value with the
// caller's and refuses with ErrFenced when they differ. Redis writes are
// fenced this way; platform calls cannot be, so a holder also stops
// acting on platforms once Lease.Until has passed (self-fencing: Until is
// TTL minus a third of it after the last successful acquire or renew was
// sent, so it passes well before anyone else can acquire the lease).

// ErrFenced means a fenced write or renewal was refused: the caller's lease
// expired or another holder has it now. The caller must stop acting for
// that lease (no more writes, no more platform calls) and drop it.
var ErrFenced = errors.New("fenced: the lease expired or is held by another replica")

// ErrLeaseHeld means Acquire found the lease held by another holder.
var ErrLeaseHeld = errors.New("lease held by another replica")

// Lease is one acquisition of a named lease. Its zero value holds nothing.
type Lease struct {
	// Name is the lease's name, e.g. "p07" or "telegram/main/poller".
	Name string
	// Holder is the acquiring replica's ID.
	Holder string
	// Token is the fencing token: larger than every earlier acquisition's
	// of the same name.
	Token int64
	// TTL is how long the lease lives without a renewal.
	TTL time.Duration
	// Until is when the holder must stop acting on platforms unless a
	// renewal succeeds first (sent time + TTL − TTL/3, on the store's
	// clock).
	Until time.Time
}

// value is the lease key's content.
func (l Lease) value() string { return l.Holder + ":" + strconv.FormatInt(l.Token, 10) }

// Valid reports whether the holder may still act on platforms at now.
func (l Lease) Valid(now time.Time) bool { return l.Token > 0 && now.Before(l.Until) }

func (db *DB) leaseKey(name string) string { return db.key("lease:" + name) }
func (db *DB) epochKey(name string) string { return db.key("epoch:" + name) }

func until(sent time.Time, ttl time.Duration) time.Time { return sent.Add(ttl - ttl/3) }

func ms(d time.Duration) int64 { return max(1, d.Milliseconds()) }

// fence is the prelude of every fenced script: KEYS[1] is the lease,
// ARGV[1] the caller's lease value.
const fence = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED')
end
`

// fenced maps a script's FENCED reply to ErrFenced.
func (db *DB) fenced(err error) error {
	if goredis.HasErrorPrefix(err, "FENCED") {
		return ErrFenced
	}
	return db.clean(err)
}

var acquireScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  return {0, cur}
end
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. e, 'PX', ARGV[2])
return {1, e}
`)

// Acquire takes the lease name for holder for ttl, with a new fencing
// token. It returns ErrLeaseHeld when another acquisition holds it (even
// one of the same holder: a holder renews, it does not re-acquire).
func (db *DB) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error) {
	if name == "" || holder == "" || strings.Contains(holder, ":") {
		return Lease{}, fmt.Errorf("acquire lease %q: name and holder must be set, holder without ':'", name)
	}
	sent := db.now()
	res, err := acquireScript.Run(ctx, db.rdb, []string{db.leaseKey(name), db.epochKey(name)}, holder, ms(ttl)).Slice()
	if err != nil {
		return Lease{}, fmt.Errorf("acquire lease %q: %w", name, db.clean(err))
	}
	if n, _ := res[0].(int64); n != 1 {
		return Lease{}, fmt.Errorf("acquire lease %q: %w", name, ErrLeaseHeld)
	}
	token, _ := res[1].(int64)
	return Lease{Name: name, Holder: holder, Token: token, TTL: ttl, Until: until(sent, ttl)}, nil
}

var renewScript = goredis.NewScript(fence + `
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// Renew extends l by its TTL and moves l.Until forward. It returns
// ErrFenced when l is no longer the current acquisition; l is then left as
// it was and must be dropped.
func (db *DB) Renew(ctx context.Context, l *Lease) error {
	sent := db.now()
	err := renewScript.Run(ctx, db.rdb, []string{db.leaseKey(l.Name)}, l.value(), ms(l.TTL)).Err()
	if err != nil {
		return fmt.Errorf("renew lease %q: %w", l.Name, db.fenced(err))
	}
	l.Until = until(sent, l.TTL)
	return nil
}

var releaseScript = goredis.NewScript(fence + `
redis.call('DEL', KEYS[1])
return 1
`)

// Release gives l up at once (a drain hands over without waiting for the
// TTL). Releasing a lease that is no longer l returns ErrFenced and
// leaves the current holder's lease alone.
func (db *DB) Release(ctx context.Context, l Lease) error {
	if err := releaseScript.Run(ctx, db.rdb, []string{db.leaseKey(l.Name)}, l.value()).Err(); err != nil {
		return fmt.Errorf("release lease %q: %w", l.Name, db.fenced(err))
	}
	return nil
}

// LeaseInfo is a lease as an operator sees it.
type LeaseInfo struct {
	Holder string
	Token  int64
	// Left is the time to expiry without a renewal.
	Left time.Duration
}

// LeaseHolder returns who holds name now; ok is false when nobody does.
func (db *DB) LeaseHolder(ctx context.Context, name string) (info LeaseInfo, ok bool, err error) {
	p := db.rdb.Pipeline()
	get := p.Get(ctx, db.leaseKey(name))
	ttl := p.PTTL(ctx, db.leaseKey(name))
	if _, err := p.Exec(ctx); errors.Is(err, goredis.Nil) {
		return LeaseInfo{}, false, nil
	} else if err != nil {
		return LeaseInfo{}, false, fmt.Errorf("lease %q: %w", name, db.clean(err))
	}
	v := get.Val()
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return LeaseInfo{}, false, fmt.Errorf("lease %q: bad value %q", name, v)
	}
	token, err := strconv.ParseInt(v[i+1:], 10, 64)
	if err != nil {
		return LeaseInfo{}, false, fmt.Errorf("lease %q: bad value %q", name, v)
	}
	return LeaseInfo{Holder: v[:i], Token: token, Left: ttl.Val()}, true, nil
}

var putFencedScript = goredis.NewScript(fence + `
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`)

// PutFenced stores value under key like Put, but only while l is the
// current acquisition of its lease (e.g. the Telegram poller's offset
// under the poller lease): otherwise it writes nothing and returns
// ErrFenced.
func (kv *KV) PutFenced(ctx context.Context, l Lease, key string, value []byte) error {
	err := putFencedScript.Run(ctx, kv.db.rdb, []string{kv.db.leaseKey(l.Name), kv.data}, l.value(), key, value).Err()
	if err != nil {
		return fmt.Errorf("kv %s put %q: %w", kv.ns, key, kv.db.fenced(err))
	}
	return nil
}
