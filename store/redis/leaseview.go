package redis

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The deployment view (/readyz, the operator page) reads every lease of a
// known list of names and the live replicas in one script, on the
// server's clock. A lease nobody holds has no key, so how long it has
// been free is kept beside the leases, by the view itself:
//
//	P:leasefree  HASH name -> ms (server clock) the first ReadLeases found it free
//
// An entry goes as soon as a ReadLeases finds the lease held again; the
// hash expires a day after the last ReadLeases, so names no longer asked
// about do not stay. Nothing on the hot path reads or writes it.

// ReplicaState is one live replica as the view sees it.
type ReplicaState struct {
	ID string
	// Left is how long the replica stays listed without announcing
	// itself again (it announces every maintenance tick).
	Left time.Duration
}

// LeaseState is one named lease as the view sees it.
type LeaseState struct {
	Name string
	// LeaseInfo is the current holder, its token and the time to expiry;
	// Holder is "" when nobody holds the lease.
	LeaseInfo
	// Epoch is the latest token ever given for the name (0: never
	// acquired); the next acquisition gets a larger one.
	Epoch int64
	// FreeFor is, for a lease nobody holds, how long it has been free:
	// since the first ReadLeases that found it free, so a lower bound.
	FreeFor time.Duration
}

// Held reports whether someone holds the lease.
func (s LeaseState) Held() bool { return s.Holder != "" }

// LeasesView is the live replicas and the leases of a list of names, read
// at one instant of the server's clock.
type LeasesView struct {
	// At is when it was read, on the server's clock.
	At       time.Time
	Replicas []ReplicaState // sorted by ID
	Leases   []LeaseState   // in the order of the names asked
}

// readLeasesScript: KEYS[1] the replicas, KEYS[2] the free-since hash,
// then a lease key and its epoch key per name; ARGV the names. It returns
// the server's time (ms), the live replicas with their expiry, then per
// name {value or "", pttl, epoch, free since (ms) or 0}.
var readLeasesScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local out = {now, redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')}
for i, name in ipairs(ARGV) do
  local lk, ek = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local v = redis.call('GET', lk)
  local ep = tonumber(redis.call('GET', ek) or '0')
  if v then
    redis.call('HDEL', KEYS[2], name)
    out[#out + 1] = {v, redis.call('PTTL', lk), ep, 0}
  else
    local since = tonumber(redis.call('HGET', KEYS[2], name) or '0')
    if since == 0 then
      since = now
      redis.call('HSET', KEYS[2], name, now)
    end
    out[#out + 1] = {'', -2, ep, since}
  end
end
redis.call('PEXPIRE', KEYS[2], 86400000)
return out
`)

// ReadLeases returns the live replicas and the state of each lease of
// names, in one round trip (one script, whatever the number of names).
// It is for operators, not the hot path: it writes only the free-since
// marks of FreeFor.
func (db *DB) ReadLeases(ctx context.Context, names []string) (LeasesView, error) {
	keys := make([]string, 0, 2+2*len(names))
	keys = append(keys, db.key("replicas"), db.key("leasefree"))
	args := make([]any, len(names))
	for i, n := range names {
		keys = append(keys, db.leaseKey(n), db.epochKey(n))
		args[i] = n
	}
	res, err := readLeasesScript.Run(ctx, db.rdb, keys, args...).Slice()
	if err != nil {
		return LeasesView{}, fmt.Errorf("read leases: %w", db.clean(err))
	}
	bad := func(what string) (LeasesView, error) {
		return LeasesView{}, fmt.Errorf("read leases: unexpected reply (%s)", what)
	}
	if len(res) != 2+len(names) {
		return bad("length")
	}
	nowMS, ok := res[0].(int64)
	if !ok {
		return bad("time")
	}
	view := LeasesView{At: time.UnixMilli(nowMS)}
	members, _ := res[1].([]any)
	for i := 0; i+1 < len(members); i += 2 {
		id, _ := members[i].(string)
		exp, err := strconv.ParseFloat(fmt.Sprint(members[i+1]), 64)
		if err != nil {
			return bad("replica expiry")
		}
		view.Replicas = append(view.Replicas, ReplicaState{ID: id, Left: time.Duration(int64(exp)-nowMS) * time.Millisecond})
	}
	sort.Slice(view.Replicas, func(i, j int) bool { return view.Replicas[i].ID < view.Replicas[j].ID })
	for i, n := range names {
		row, _ := res[2+i].([]any)
		if len(row) != 4 {
			return bad("lease " + n)
		}
		v, _ := row[0].(string)
		pttl, _ := row[1].(int64)
		epoch, _ := row[2].(int64)
		since, _ := row[3].(int64)
		st := LeaseState{Name: n, Epoch: epoch}
		if v == "" {
			st.FreeFor = time.Duration(nowMS-since) * time.Millisecond
		} else {
			j := strings.LastIndexByte(v, ':')
			token, err := strconv.ParseInt(v[j+1:], 10, 64)
			if j < 0 || err != nil {
				return LeasesView{}, fmt.Errorf("lease %q: bad value %q", n, v)
			}
			st.LeaseInfo = LeaseInfo{Holder: v[:j], Token: token, Left: time.Duration(max(0, pttl)) * time.Millisecond}
		}
		view.Leases = append(view.Leases, st)
	}
	return view, nil
}
