package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chat-bridge/chat-bridge/store"
)

// Queue is the durable intake of a cluster: conversations are spread over
// a fixed number of partitions; each partition is one Redis Stream, read
// by the replica holding the partition's lease. Exactly once and in order
// come from four pieces:
//
//   - Accept (any replica, before the platform is acknowledged) writes the
//     dedupe mark and the stream entry in one script: a message is never
//     marked seen without being queued, and a redelivery is a duplicate.
//   - One holder per partition (lease "pNN", fenced): entries are read in
//     stream order, which is accept order, so a conversation — always in
//     the same partition — is answered in order by one replica.
//   - Checkpoint (fenced) records the platform messages posted for an
//     entry, so a new holder continues them instead of posting again.
//   - Complete (fenced) writes the conversation record, acknowledges and
//     deletes the entry and drops its checkpoint in one script: the record
//     and the queue never disagree, and a former holder cannot complete
//     over the new one.
//
// Layout, per partition NN (two digits):
//
//	P:pNN:in           STREAM, group "relay"; fields conv, entry (JSON InboxEntry)
//	P:pNN:seen:<id>    STRING stream ID, then "done"; PX dedupe ttl
//	P:pNN:reply:<id>   HASH checkpoint fields (e.g. p0 -> chat/message), PX 24h
//	P:lease:pNN        the partition's lease (lease.go)
//	P:meta partitions  the partition count; a different count is refused
//
// Entries are deleted (XDEL) at completion, never trimmed by length, which
// could drop pending ones.
type Queue struct {
	db *DB
	n  int
}

// group is the stream consumer group of the answering replicas.
const group = "relay"

// checkpointTTL bounds how long an abandoned checkpoint stays.
const checkpointTTL = 24 * time.Hour

// Queue returns the queue of partitions partitions (64 is the design's
// default), creating the streams' consumer group. The count is recorded
// the first time; a different count is refused, because it would move
// conversations between partitions (a migration, not a setting).
func (db *DB) Queue(ctx context.Context, partitions int) (*Queue, error) {
	if partitions < 1 || partitions > 100 {
		return nil, fmt.Errorf("queue: partitions must be 1 to 100, not %d", partitions)
	}
	meta := db.key("meta")
	if err := db.rdb.HSetNX(ctx, meta, "partitions", partitions).Err(); err != nil {
		return nil, fmt.Errorf("queue: %w", db.clean(err))
	}
	stored, err := db.rdb.HGet(ctx, meta, "partitions").Int()
	if err != nil {
		return nil, fmt.Errorf("queue: %w", db.clean(err))
	}
	if stored != partitions {
		return nil, fmt.Errorf("queue: the store under prefix %q has %d partitions, not %d: every replica must use the same count", db.prefix, stored, partitions)
	}
	q := &Queue{db: db, n: partitions}
	for p := range partitions {
		err := db.rdb.XGroupCreateMkStream(ctx, q.stream(p), group, "0").Err()
		if err != nil && !goredis.HasErrorPrefix(err, "BUSYGROUP") {
			return nil, fmt.Errorf("queue: create group of partition %d: %w", p, db.clean(err))
		}
	}
	return q, nil
}

// Partitions returns the partition count.
func (q *Queue) Partitions() int { return q.n }

// Partition returns the partition of a conversation key (its String
// form): FNV-1a 32 of the key, modulo the count.
func (q *Queue) Partition(conv string) int {
	h := fnv.New32a()
	h.Write([]byte(conv))
	return int(h.Sum32() % uint32(q.n))
}

// LeaseName returns the name of partition p's lease, for Acquire.
func (q *Queue) LeaseName(p int) string { return fmt.Sprintf("p%02d", p) }

func (q *Queue) part(p int) string                { return q.db.key(fmt.Sprintf("p%02d", p)) }
func (q *Queue) stream(p int) string              { return q.part(p) + ":in" }
func (q *Queue) seenKey(p int, id string) string  { return q.part(p) + ":seen:" + id }
func (q *Queue) replyKey(p int, id string) string { return q.part(p) + ":reply:" + id }

// Accepted is the result of Accept.
type Accepted struct {
	Partition int
	// StreamID is the entry's stream ID; for a duplicate, the first
	// acceptance's ("done" once it was completed).
	StreamID string
	// Duplicate is true when the ID was accepted before, within the ttl:
	// nothing was queued; acknowledge the platform and drop it.
	Duplicate bool
}

var acceptScript = goredis.NewScript(`
local prev = redis.call('GET', KEYS[1])
if prev then
  return {1, prev}
end
local sid = redis.call('XADD', KEYS[2], '*', 'conv', ARGV[1], 'entry', ARGV[2])
redis.call('SET', KEYS[1], sid, 'PX', ARGV[3])
return {0, sid}
`)

// Accept queues e for the conversation conv (Key.String()) unless e.ID
// was accepted within ttl (24h outlives every platform's redelivery), in
// one atomic script. It returns once the server has applied it (on disk
// with appendfsync always): the caller acknowledges the platform only
// then, and on an error does not, so the platform redelivers.
func (q *Queue) Accept(ctx context.Context, conv string, e store.InboxEntry, ttl time.Duration) (Accepted, error) {
	if e.ID == "" || conv == "" {
		return Accepted{}, errors.New("accept: empty ID or conversation")
	}
	data, err := json.Marshal(e)
	if err != nil {
		return Accepted{}, fmt.Errorf("accept %s: encode: %w", e.ID, err)
	}
	p := q.Partition(conv)
	res, err := acceptScript.Run(ctx, q.db.rdb, []string{q.seenKey(p, e.ID), q.stream(p)}, conv, data, ms(ttl)).Slice()
	if err != nil {
		return Accepted{}, fmt.Errorf("accept %s: %w", e.ID, q.db.clean(err))
	}
	dup, _ := res[0].(int64)
	sid, _ := res[1].(string)
	return Accepted{Partition: p, StreamID: sid, Duplicate: dup == 1}, nil
}

// Delivery is one queued entry handed to its partition's holder.
type Delivery struct {
	Partition int
	StreamID  string
	// Conversation is the conversation key given to Accept.
	Conversation string
	Entry        store.InboxEntry
}

func (q *Queue) deliveries(p int, msgs []goredis.XMessage) ([]Delivery, error) {
	out := make([]Delivery, 0, len(msgs))
	for _, m := range msgs {
		conv, _ := m.Values["conv"].(string)
		raw, _ := m.Values["entry"].(string)
		var e store.InboxEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("partition %d entry %s: decode: %w", p, m.ID, err)
		}
		out = append(out, Delivery{Partition: p, StreamID: m.ID, Conversation: conv, Entry: e})
	}
	return out, nil
}

// partitionOf checks that l is the lease of a partition and returns it.
func (q *Queue) partitionOf(l Lease) (int, error) {
	var p int
	if _, err := fmt.Sscanf(l.Name, "p%d", &p); err != nil || p < 0 || p >= q.n || q.LeaseName(p) != l.Name {
		return 0, fmt.Errorf("lease %q is not a partition lease", l.Name)
	}
	return p, nil
}

// Read returns up to count new entries of the partitions whose leases are
// given (all held by one holder), in stream order per partition, waiting
// up to block for one (0: do not wait). Reading is not fenced — a former
// holder's read is harmless, its Checkpoint and Complete are refused.
func (q *Queue) Read(ctx context.Context, count int, block time.Duration, leases ...Lease) ([]Delivery, error) {
	if len(leases) == 0 {
		return nil, nil
	}
	streams := make([]string, 0, 2*len(leases))
	byStream := map[string]int{}
	for _, l := range leases {
		p, err := q.partitionOf(l)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		streams = append(streams, q.stream(p))
		byStream[q.stream(p)] = p
	}
	for range leases {
		streams = append(streams, ">")
	}
	if block <= 0 {
		block = -1 // go-redis: no BLOCK argument
	}
	res, err := q.db.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{
		Group: group, Consumer: leases[0].Holder, Streams: streams, Count: int64(count), Block: block,
	}).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read: %w", q.db.clean(err))
	}
	var out []Delivery
	for _, s := range res {
		d, err := q.deliveries(byStream[s.Stream], s.Messages)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		out = append(out, d...)
	}
	return out, nil
}

// Claim takes over the entries of l's partition that an earlier holder
// read but did not complete, and returns them in stream order (they
// precede every unread entry, so Claim then Read keeps accept order).
// Call it once after acquiring the partition, before Read. The lease, not
// the entries' idle time, proves the earlier holder gone or fenced.
func (q *Queue) Claim(ctx context.Context, l Lease) ([]Delivery, error) {
	p, err := q.partitionOf(l)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if cur, ok, err := q.db.LeaseHolder(ctx, l.Name); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	} else if !ok || cur.Holder != l.Holder || cur.Token != l.Token {
		return nil, fmt.Errorf("claim partition %d: %w", p, ErrFenced)
	}
	var out []Delivery
	start := "0-0"
	for {
		msgs, next, err := q.db.rdb.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
			Stream: q.stream(p), Group: group, Consumer: l.Holder, MinIdle: 0, Start: start, Count: 100,
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("claim partition %d: %w", p, q.db.clean(err))
		}
		d, err := q.deliveries(p, msgs)
		if err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		out = append(out, d...)
		if next == "0-0" {
			return out, nil
		}
		start = next
	}
}

var checkpointScript = goredis.NewScript(fence + `
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
`)

// Checkpoint records field = value for d (e.g. "p0" = the chat and message
// ID of the first part posted), while l holds d's partition; otherwise it
// writes nothing and returns ErrFenced.
func (q *Queue) Checkpoint(ctx context.Context, l Lease, d Delivery, field, value string) error {
	if p, err := q.partitionOf(l); err != nil || p != d.Partition {
		return fmt.Errorf("checkpoint %s: lease %q is not of partition %d", d.Entry.ID, l.Name, d.Partition)
	}
	keys := []string{q.db.leaseKey(l.Name), q.replyKey(d.Partition, d.Entry.ID)}
	if err := checkpointScript.Run(ctx, q.db.rdb, keys, l.value(), field, value, ms(checkpointTTL)).Err(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", d.Entry.ID, q.db.fenced(err))
	}
	return nil
}

// Checkpoints returns d's checkpoint fields: empty for a fresh entry, the
// posted messages to continue for one taken over.
func (q *Queue) Checkpoints(ctx context.Context, d Delivery) (map[string]string, error) {
	m, err := q.db.rdb.HGetAll(ctx, q.replyKey(d.Partition, d.Entry.ID)).Result()
	if err != nil {
		return nil, fmt.Errorf("checkpoints %s: %w", d.Entry.ID, q.db.clean(err))
	}
	return m, nil
}

var completeScript = goredis.NewScript(fence + `
if ARGV[2] == 'put' then
  if tonumber(ARGV[4]) > 0 then
    redis.call('SET', KEYS[5], ARGV[3], 'PX', ARGV[4])
  else
    redis.call('SET', KEYS[5], ARGV[3])
  end
elseif ARGV[2] == 'forget' then
  redis.call('DEL', KEYS[5])
end
redis.call('XACK', KEYS[2], ARGV[5], ARGV[6])
redis.call('XDEL', KEYS[2], ARGV[6])
redis.call('DEL', KEYS[4])
redis.call('SET', KEYS[3], 'done', 'XX', 'KEEPTTL')
return 1
`)

// Completion says what completing an entry does to its conversation.
type Completion struct {
	// Record, when set, is stored as the conversation's record (as Put).
	Record *store.Record
	// Forget deletes the conversation's record (/reset).
	Forget bool
}

// Complete finishes d while l holds its partition, in one script: the
// conversation record is stored (or forgotten), the entry acknowledged
// and deleted, its checkpoint dropped, and its dedupe mark kept as "done"
// until its ttl. Otherwise nothing is written and it returns ErrFenced.
func (q *Queue) Complete(ctx context.Context, l Lease, d Delivery, c Completion) error {
	if p, err := q.partitionOf(l); err != nil || p != d.Partition {
		return fmt.Errorf("complete %s: lease %q is not of partition %d", d.Entry.ID, l.Name, d.Partition)
	}
	mode, data, px := "none", []byte(nil), int64(0)
	switch {
	case c.Forget:
		mode = "forget"
	case c.Record != nil:
		var err error
		if data, err = json.Marshal(*c.Record); err != nil {
			return fmt.Errorf("complete %s: encode: %w", d.Entry.ID, err)
		}
		mode = "put"
		if e := q.db.expiry(*c.Record); e > 0 {
			px = ms(e)
		}
	}
	keys := []string{
		q.db.leaseKey(l.Name), q.stream(d.Partition), q.seenKey(d.Partition, d.Entry.ID),
		q.replyKey(d.Partition, d.Entry.ID), q.db.key("conv:" + d.Conversation),
	}
	err := completeScript.Run(ctx, q.db.rdb, keys, l.value(), mode, data, strconv.FormatInt(px, 10), group, d.StreamID).Err()
	if err != nil {
		return fmt.Errorf("complete %s: %w", d.Entry.ID, q.db.fenced(err))
	}
	return nil
}

// Backlog returns the number of entries in partition p not yet completed
// (read or not), for metrics and the operator view.
func (q *Queue) Backlog(ctx context.Context, p int) (int64, error) {
	n, err := q.db.rdb.XLen(ctx, q.stream(p)).Result()
	if err != nil {
		return 0, fmt.Errorf("backlog of partition %d: %w", p, q.db.clean(err))
	}
	return n, nil
}
