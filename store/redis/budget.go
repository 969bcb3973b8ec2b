package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Budget is one shared budget as the limiter books it (the fields of
// bridges.Budget): a GCRA limiter of one request per Every with Burst
// more, and, when Window and Max are set, at most Max requests in any
// rolling Window, counted over requests that actually left.
type Budget struct {
	Key    string
	Every  time.Duration
	Burst  int
	Window time.Duration
	Max    int
}

func (b Budget) windowed() bool { return b.Window > 0 && b.Max > 0 }

// Budgets is the limiter's state for the whole deployment: every replica
// sharing the prefix books on the same budgets, atomically, in Lua
// scripts on the server's clock. Times cross the wire only as durations
// from now (the caller's delay, the server's answer), so the replicas'
// clocks need not agree. It is safe for concurrent use.
//
// Keys: <prefix>:budget:<key> is a hash (tat, paused: microseconds on the
// server's clock) expiring once the budget is back at full burst;
// <prefix>:budget:<key>:win a sorted set of the requests of a rolling
// window (score: when the request was done; a request in flight has a
// score InflightTTL after it left, so a replica that dies mid-request
// frees the slot then).
type Budgets struct {
	db  *DB
	id  string
	seq atomic.Uint64
	// InflightTTL is how long a request that left counts as in flight
	// when its replica never reports it done; zero means 30 s.
	InflightTTL time.Duration
}

// inflightRetry is how soon a request checks again when a window is full
// of requests still in flight (bridges uses the same).
const inflightRetry = 20 * time.Millisecond

// Budgets returns the deployment's shared budgets.
func (db *DB) Budgets() *Budgets {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Budgets{db: db, id: hex.EncodeToString(b[:])}
}

func (b *Budgets) member() string {
	return b.id + ":" + strconv.FormatUint(b.seq.Add(1), 36)
}

func (b *Budgets) inflightTTL() time.Duration {
	if b.InflightTTL > 0 {
		return b.InflightTTL
	}
	return 30 * time.Second
}

func (b *Budgets) hashKey(key string) string { return b.db.key("budget:" + key) }
func (b *Budgets) winKey(key string) string  { return b.db.key("budget:" + key + ":win") }

func us(d time.Duration) int64 { return d.Microseconds() }

func fromUS(v any) time.Duration {
	n, _ := v.(int64)
	return time.Duration(n) * time.Microsecond
}

// now_us is the server's clock; ttl keeps a hash until it is back at
// full burst and unpaused.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

// bookLua books (bookScript, bookDepartScript): KEYS the budgets'
// hashes (every other key from KEYS[from], step apart); ARGV[1] delay,
// ARGV[2] horizon (< 0: urgent), then every and burst per budget from
// ARGV[arg] (microseconds). It leaves slot set when booked, and tats
// each budget's; otherwise it returns {0, again - now, 0, then each
// budget's tat - now}: an edit must ask again.
func bookLua(from, step, arg, per int) string {
	key := func(i string) string {
		return fmt.Sprintf("KEYS[%d + %d * (%s - 1)]", from, step, i)
	}
	argv := func(i string, off int) string {
		return fmt.Sprintf("ARGV[%d + %d * (%s - 1)]", arg+off, per, i)
	}
	return `
local at = now + tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local slot, again = at, at
local tats, pauses = {}, {}
for i = 1, nb do
  local every = tonumber(` + argv("i", 0) + `)
  local burst = tonumber(` + argv("i", 1) + `)
  local v = redis.call('HMGET', ` + key("i") + `, 'tat', 'paused')
  local tat = tonumber(v[1]) or 0
  local paused = tonumber(v[2]) or 0
  tats[i], pauses[i] = tat, paused
  local e = tat - burst * every
  if e > slot then slot = e end
  if e - every > again then again = e - every end
  if paused > slot then slot = paused end
end
if horizon >= 0 then
  if slot - horizon > again then again = slot - horizon end
  if again > at + ` + strconv.FormatInt(us(askSlack), 10) + ` then
    local r = {0, again - now, 0}
    for i = 1, nb do r[3 + i] = tats[i] - now end
    return r
  end
end
for i = 1, nb do
  local every = tonumber(` + argv("i", 0) + `)
  local tat = tats[i]
  if tat < slot then tat = slot end
  tat = tat + every
  tats[i] = tat
  redis.call('HSET', ` + key("i") + `, 'tat', string.format('%.0f', tat))
  local keep = math.max(tat, pauses[i]) - now
  redis.call('PEXPIRE', ` + key("i") + `, math.floor(keep / 1000) + 1000)
end
`
}

// bookScript: KEYS the budgets' hashes; ARGV delay, horizon (< 0:
// urgent), then every and burst per budget (microseconds). Returns {1,
// slot - now} when booked, {0, again - now} when an edit must ask again.
var bookScript = goredis.NewScript(luaNow + `local nb = #KEYS` + bookLua(1, 1, 3, 2) + `
return {1, slot - now}
`)

// departLua is the departure check and count (departScript,
// bookDepartScript): KEYS pairs of (hash, window set) per budget from
// KEYS[1]; window and max per budget from ARGV[arg], per apart (0: not
// windowed);
// member and in-flight TTL in the variables of those names. It returns
// {0, retry - now} when the request may not leave; else it counts it in
// flight on every window and goes on.
func departLua(arg, per int) string {
	w := fmt.Sprintf("tonumber(ARGV[%d + %d * (i - 1)])", arg, per)
	m := fmt.Sprintf("tonumber(ARGV[%d + %d * (i - 1)])", arg+1, per)
	return `
local retry = now
for i = 1, nd do
  local paused = tonumber(redis.call('HGET', KEYS[2 * i - 1], 'paused') or '0')
  if paused > retry then retry = paused end
  local w = ` + w + `
  local m = ` + m + `
  if w > 0 and m > 0 then
    local z = KEYS[2 * i]
    redis.call('ZREMRANGEBYSCORE', z, '-inf', string.format('%.0f', now - w))
    local c = redis.call('ZCARD', z)
    if c >= m then
      local e = redis.call('ZRANGE', z, c - m, c - m, 'WITHSCORES')
      local s = tonumber(e[2])
      local open
      if s > now then open = now + ` + strconv.FormatInt(us(inflightRetry), 10) + ` else open = s + w end
      if open > retry then retry = open end
    end
  end
end
if retry > now then return {0, retry - now} end
for i = 1, nd do
  local w = ` + w + `
  local m = ` + m + `
  if w > 0 and m > 0 then
    redis.call('ZADD', KEYS[2 * i], string.format('%.0f', now + ttl), member)
    redis.call('PEXPIRE', KEYS[2 * i], math.floor((ttl + w) / 1000) + 1000)
  end
end
`
}

// bookDepartScript books as bookScript and, when the slot is at most
// ARGV[3] from now, departs at once as departScript (a request counted
// in flight from now, at most that lead early). KEYS pairs of (hash,
// window set) per budget; ARGV delay, horizon, lead, member, in-flight
// TTL, then every, burst, window and max per budget. Returns {booked,
// slot - now (again - now when an edit must ask again), departed, then
// each budget's tat - now}: departed is 0 when the slot is beyond the
// lead or the departure refused (the request departs later).
var bookDepartScript = goredis.NewScript(luaNow + `
local nb = #KEYS / 2
local nd = nb
local member, ttl = ARGV[4], tonumber(ARGV[5])
` + bookLua(1, 2, 6, 4) + `
local function answer(dep)
  local r = {1, slot - now, dep}
  for i = 1, nb do r[3 + i] = tats[i] - now end
  return r
end
if slot - now > tonumber(ARGV[3]) then return answer(0) end
local r = (function()` + departLua(8, 4) + `
return nil
end)()
if r then return answer(0) end
return answer(1)
`)

// peekScript: KEYS the hashes; ARGV delay, then every and burst per
// budget. Returns when an edit could go, from now.
var peekScript = goredis.NewScript(luaNow + `
local t = now + tonumber(ARGV[1])
for i = 1, #KEYS do
  local every = tonumber(ARGV[1 + 2 * i])
  local burst = tonumber(ARGV[2 + 2 * i])
  local v = redis.call('HMGET', KEYS[i], 'tat', 'paused')
  if v[1] or v[2] then
    local e = (tonumber(v[1]) or 0) - burst * every
    if e > t then t = e end
    local paused = tonumber(v[2]) or 0
    if paused > t then t = paused end
  end
end
return t - now
`)

// pauseScript: KEYS[1] the hash; ARGV[1] the pause from now.
var pauseScript = goredis.NewScript(luaNow + `
local untl = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
if untl > paused then
  redis.call('HSET', KEYS[1], 'paused', string.format('%.0f', untl))
  paused = untl
end
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
redis.call('PEXPIRE', KEYS[1], math.floor((math.max(tat, paused) - now) / 1000) + 1000)
return 1
`)

// departScript: KEYS pairs of (hash, window set) per budget; ARGV
// member, in-flight TTL, then window and max per budget (0: not
// windowed). Returns {1, 0} when the request leaves (counted in flight on
// every window), else {0, retry - now}.
var departScript = goredis.NewScript(luaNow + `
local nd = #KEYS / 2
local member, ttl = ARGV[1], tonumber(ARGV[2])
` + departLua(3, 2) + `
return {1, 0}
`)

// doneScript: KEYS the window sets; ARGV member, how long ago the
// request was done. Moves the member from in flight to done.
var doneScript = goredis.NewScript(luaNow + `
local at = now - tonumber(ARGV[2])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', string.format('%.0f', at), ARGV[1])
end
return 1
`)

func paceArgs(delay time.Duration, horizon int64, bs []Budget) []any {
	args := make([]any, 0, 2+2*len(bs))
	args = append(args, us(delay), horizon)
	for _, bd := range bs {
		args = append(args, us(bd.Every), bd.Burst)
	}
	return args
}

// askSlack is how much later than asked an edit's slot may be and still be
// booked: a replica told to ask again at t asks with t as it sees it,
// which the server sees a round trip's jitter off.
const askSlack = 5 * time.Millisecond

// Book books one request on every budget in bs at once, no earlier than
// delay from now, and returns how long from now it may be sent. With
// horizon < 0 the request is urgent and takes the first free slot
// however far; otherwise it is an intermediate edit, which books nothing
// and reports false, with when to ask again, when its slot is more than
// horizon after delay or more than one Every ahead in any budget (the
// contract of bridges' limiter, give or take askSlack). One EVALSHA.
func (b *Budgets) Book(ctx context.Context, delay time.Duration, bs []Budget, horizon time.Duration) (time.Duration, bool, error) {
	if len(bs) == 0 {
		return max(delay, 0), true, nil
	}
	keys := make([]string, len(bs))
	for i, bd := range bs {
		keys[i] = b.hashKey(bd.Key)
	}
	h := int64(-1)
	if horizon >= 0 {
		h = us(horizon)
	}
	res, err := bookScript.Run(ctx, b.db.rdb, keys, paceArgs(delay, h, bs)...).Slice()
	if err != nil {
		return 0, false, fmt.Errorf("book budget %s: %w", bs[0].Key, b.db.clean(err))
	}
	ok, _ := res[0].(int64)
	return fromUS(res[1]), ok == 1, nil
}

// Peek returns how long from now an intermediate edit on bs could go, no
// earlier than delay, without booking it.
func (b *Budgets) Peek(ctx context.Context, delay time.Duration, bs []Budget) (time.Duration, error) {
	if len(bs) == 0 {
		return max(delay, 0), nil
	}
	keys := make([]string, len(bs))
	for i, bd := range bs {
		keys[i] = b.hashKey(bd.Key)
	}
	res, err := peekScript.Run(ctx, b.db.rdb, keys, paceArgs(delay, 0, bs)...).Int64()
	if err != nil {
		return 0, fmt.Errorf("peek budget %s: %w", bs[0].Key, b.db.clean(err))
	}
	return time.Duration(res) * time.Microsecond, nil
}

// Pause stops every request on key for d from now (a retry-after); a
// longer pause already set stays.
func (b *Budgets) Pause(ctx context.Context, key string, d time.Duration) error {
	if err := pauseScript.Run(ctx, b.db.rdb, []string{b.hashKey(key)}, us(d)).Err(); err != nil {
		return fmt.Errorf("pause budget %s: %w", key, b.db.clean(err))
	}
	return nil
}

// Departure is a request that left, counted in flight on its windows
// until Done.
type Departure struct {
	b      *Budgets
	member string
	keys   []string
}

// Depart checks, just before a request on bs leaves, that no budget is
// paused and every rolling window has room (over requests that actually
// left, every replica's), and counts it in flight on every windowed
// budget at once. When it may not leave yet, ok is false and retry is how
// long from now to check again.
func (b *Budgets) Depart(ctx context.Context, bs []Budget) (d Departure, retry time.Duration, ok bool, err error) {
	if len(bs) == 0 {
		return Departure{b: b}, 0, true, nil
	}
	d, keys, wins := b.departure(bs, 2)
	args := append([]any{d.member, us(b.inflightTTL())}, wins...)
	res, err := departScript.Run(ctx, b.db.rdb, keys, args...).Slice()
	if err != nil {
		return Departure{}, 0, false, fmt.Errorf("depart budget %s: %w", bs[0].Key, b.db.clean(err))
	}
	v, _ := res[0].(int64)
	return d, fromUS(res[1]), v == 1, nil
}

// departure returns a new departure on bs, the script's keys (hash and
// window set per budget) and each budget's window and max (0, 0 when not
// windowed), with per-2 more slots per budget for the caller's
// arguments.
func (b *Budgets) departure(bs []Budget, per int) (Departure, []string, []any) {
	d := Departure{b: b, member: b.member()}
	keys := make([]string, 0, 2*len(bs))
	args := make([]any, 0, per*len(bs))
	for _, bd := range bs {
		keys = append(keys, b.hashKey(bd.Key), b.winKey(bd.Key))
		if bd.windowed() {
			args = append(args, us(bd.Window), bd.Max)
			d.keys = append(d.keys, b.winKey(bd.Key))
		} else {
			args = append(args, 0, 0)
		}
	}
	return d, keys, args
}

// Booking is what BookDepart did: the slot booked (Wait from now; Booked
// false when an edit must ask again at Wait instead) and, when the slot
// was due within the lead, the departure counted at once (Departed).
// Tats is each budget's theoretical arrival time after the call, from
// now: the next free slot of a budget is its Tat less Burst paces.
type Booking struct {
	Wait     time.Duration
	Booked   bool
	Departed bool
	Tats     []time.Duration
	Departure
}

// BookDepart is Book and, when the slot it booked is at most lead from
// now, Depart, in one script (one EVALSHA): a request due at once checks
// its departure in the same round trip as its booking, counted in flight
// from now (at most lead early: a window then counts it longer, never
// shorter). When the slot is further off, or the departure is refused,
// the request departs later with Depart as usual.
func (b *Budgets) BookDepart(ctx context.Context, delay time.Duration, bs []Budget, horizon, lead time.Duration) (Booking, error) {
	if len(bs) == 0 {
		return Booking{Wait: max(delay, 0), Booked: true, Departed: true, Departure: Departure{b: b}}, nil
	}
	h := int64(-1)
	if horizon >= 0 {
		h = us(horizon)
	}
	d, keys, wins := b.departure(bs, 4)
	args := make([]any, 0, 5+4*len(bs))
	args = append(args, us(delay), h, us(max(lead, 0)), d.member, us(b.inflightTTL()))
	for i, bd := range bs {
		args = append(args, us(bd.Every), bd.Burst, wins[2*i], wins[2*i+1])
	}
	res, err := bookDepartScript.Run(ctx, b.db.rdb, keys, args...).Slice()
	if err != nil {
		return Booking{}, fmt.Errorf("book budget %s: %w", bs[0].Key, b.db.clean(err))
	}
	ok, _ := res[0].(int64)
	dep, _ := res[2].(int64)
	bk := Booking{Wait: fromUS(res[1]), Booked: ok == 1, Departed: dep == 1}
	if bk.Departed {
		bk.Departure = d
	}
	for _, v := range res[3:] {
		bk.Tats = append(bk.Tats, fromUS(v))
	}
	return bk, nil
}

// Windowed reports whether d counts on any rolling window (Done has
// something to do).
func (d Departure) Windowed() bool { return len(d.keys) > 0 }

// Done counts the departed request within its windows as done ago (how
// long before now its answer came back).
func (d Departure) Done(ctx context.Context, ago time.Duration) error {
	if len(d.keys) == 0 {
		return nil
	}
	if err := doneScript.Run(ctx, d.b.db.rdb, d.keys, d.member, us(max(ago, 0))).Err(); err != nil {
		return fmt.Errorf("budget done: %w", d.b.db.clean(err))
	}
	return nil
}

// Cancel withdraws a departure whose request never left: no longer in
// flight, and not counted within its windows.
func (d Departure) Cancel(ctx context.Context) error {
	if len(d.keys) == 0 {
		return nil
	}
	_, err := d.b.db.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range d.keys {
			p.ZRem(ctx, k, d.member)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("budget cancel: %w", d.b.db.clean(err))
	}
	return nil
}

// allowScript: KEYS[1] the window set; ARGV max, per, member. A rolling
// window of events on the server's clock.
var allowScript = goredis.NewScript(luaNow + `
local per = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - per))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.floor(per / 1000) + 1000)
return 1
`)

// Allow counts one event for key if fewer than n were counted by any
// replica within the last per (on the server's clock), and reports
// whether it did: the deployment's question rates and once-a-minute
// notices.
func (b *Budgets) Allow(ctx context.Context, key string, n int, per time.Duration) (bool, error) {
	v, err := allowScript.Run(ctx, b.db.rdb, []string{b.db.key("window:" + key)}, n, us(per), b.member()).Int64()
	if err != nil {
		return false, fmt.Errorf("window %s: %w", key, b.db.clean(err))
	}
	return v == 1, nil
}
