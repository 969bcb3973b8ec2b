package redis

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/chat-bridge/chat-bridge/store"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

func openQueue(t *testing.T, db *DB, partitions int) *Queue {
	t.Helper()
	q, err := db.Queue(t.Context(), partitions)
	if err != nil {
		t.Fatalf("Queue(%d) = %v", partitions, err)
	}
	return q
}

func entry(id, text string) store.InboxEntry {
	return store.InboxEntry{ID: id, Key: "telegram/main", Payload: []byte(text), Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// TestAcceptOnce: concurrent duplicate accepts on several replicas give
// exactly one queued entry, and the dedupe mark exists only with it.
func TestAcceptOnce(t *testing.T) {
	url := redistest.Start(t)
	replicas := make([]*Queue, 3)
	for i := range replicas {
		replicas[i] = openQueue(t, openTest(t, url, Config{Prefix: "q"}, Options{}), 8)
	}
	db := replicas[0].db
	ctx := t.Context()
	const conv, callers = "slack/work/C1/1.1", 100
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		fresh  []Accepted
		copies atomic.Int64
	)
	for i := range callers {
		wg.Go(func() {
			a, err := replicas[i%len(replicas)].Accept(ctx, conv, entry("slack/work/C1/1.1#1.1", "hi"), 24*time.Hour)
			if err != nil {
				t.Errorf("Accept = %v", err)
				return
			}
			if a.Duplicate {
				copies.Add(1)
				return
			}
			mu.Lock()
			fresh = append(fresh, a)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(fresh) != 1 || copies.Load() != callers-1 {
		t.Fatalf("%d concurrent accepts of one ID: %d queued, %d duplicates; want 1 and %d", callers, len(fresh), copies.Load(), callers-1)
	}
	q := replicas[0]
	p := q.Partition(conv)
	if fresh[0].Partition != p {
		t.Errorf("Accepted.Partition = %d, want %d", fresh[0].Partition, p)
	}
	if n, _ := q.Backlog(ctx, p); n != 1 {
		t.Errorf("Backlog = %d, want 1", n)
	}
	mark := db.Client().Get(ctx, q.seenKey(p, "slack/work/C1/1.1#1.1")).Val()
	if mark != fresh[0].StreamID {
		t.Errorf("dedupe mark = %q, want the stream ID %q", mark, fresh[0].StreamID)
	}
	if ttl := db.Client().PTTL(ctx, q.seenKey(p, "slack/work/C1/1.1#1.1")).Val(); ttl < 23*time.Hour {
		t.Errorf("dedupe mark PTTL = %v, want about 24h", ttl)
	}
	if entries := db.Client().XRange(ctx, q.stream(p), mark, mark).Val(); len(entries) != 1 {
		t.Errorf("the mark's stream entry: %d found, want 1", len(entries))
	}
	if a, err := q.Accept(ctx, conv, entry("slack/work/C1/1.1#1.2", "next"), time.Hour); err != nil || a.Duplicate {
		t.Errorf("Accept(another ID) = %+v, %v, want queued", a, err)
	}
	if n, _ := q.Backlog(ctx, p); n != 2 {
		t.Errorf("Backlog = %d, want 2", n)
	}
	if _, err := q.Accept(ctx, conv, store.InboxEntry{}, time.Hour); err == nil {
		t.Error("Accept(empty ID) = nil, want an error")
	}
}

// TestQueueOrderAndTakeover: the partition holder reads a conversation's
// entries in accept order; after it dies mid-answer, the next holder
// claims its unfinished entries first, in order, sees its checkpoint,
// and the dead holder's late writes are refused (stale token).
func TestQueueOrderAndTakeover(t *testing.T) {
	url := redistest.Start(t)
	ctx := t.Context()
	qa := openQueue(t, openTest(t, url, Config{Prefix: "q"}, Options{}), 4)
	qb := openQueue(t, openTest(t, url, Config{Prefix: "q"}, Options{}), 4)
	in := openQueue(t, openTest(t, url, Config{Prefix: "q"}, Options{}), 4) // a replica that only accepts

	// Two conversations in one partition, interleaved.
	convs := []string{"telegram/main/1"}
	for i := 2; len(convs) < 2; i++ {
		if c := fmt.Sprintf("telegram/main/%d", i); qa.Partition(c) == qa.Partition(convs[0]) {
			convs = append(convs, c)
		}
	}
	p := qa.Partition(convs[0])
	want := map[string][]string{}
	for i := range 6 {
		conv := convs[i%2]
		id := fmt.Sprintf("%s#%d", conv, i)
		if _, err := in.Accept(ctx, conv, entry(id, fmt.Sprint("q", i)), time.Hour); err != nil {
			t.Fatal(err)
		}
		want[conv] = append(want[conv], id)
	}

	la, err := qa.db.Acquire(ctx, qa.LeaseName(p), "replica-a", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if claimed, err := qa.Claim(ctx, la); err != nil || len(claimed) != 0 {
		t.Fatalf("Claim(fresh partition) = %d entries, %v, want none", len(claimed), err)
	}
	got, err := qa.Read(ctx, 4, 0, la)
	if err != nil || len(got) != 4 {
		t.Fatalf("Read(4) = %d entries, %v", len(got), err)
	}
	// a answers the first entry completely, posts the first part of the
	// second, then dies.
	rec := store.Record{Backend: "b", ConversationID: "conv-a1", Turns: 1}
	if err := qa.Complete(ctx, la, got[0], Completion{Record: &rec}); err != nil {
		t.Fatalf("Complete = %v", err)
	}
	if err := qa.Checkpoint(ctx, la, got[1], "p0", "1/555"); err != nil {
		t.Fatalf("Checkpoint = %v", err)
	}
	qa.db.Client().Del(ctx, qa.db.leaseKey(qa.LeaseName(p))) // a's lease expires

	lb, err := qb.db.Acquire(ctx, qb.LeaseName(p), "replica-b", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := qb.Claim(ctx, lb)
	if err != nil {
		t.Fatalf("Claim = %v", err)
	}
	rest, err := qb.Read(ctx, 10, 0, lb)
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	if len(claimed) != 3 || len(rest) != 2 {
		t.Fatalf("takeover: claimed %d, read %d; want a's 3 unfinished, then 2 unread", len(claimed), len(rest))
	}
	if !cmp.Equal(claimed[0], got[1]) {
		t.Errorf("first claimed = %+v, want a's unfinished %+v", claimed[0], got[1])
	}
	cp, err := qb.Checkpoints(ctx, claimed[0])
	if err != nil || cp["p0"] != "1/555" {
		t.Errorf("Checkpoints(taken over) = %v, %v, want p0 = 1/555 (continue that message)", cp, err)
	}
	if cp, _ := qb.Checkpoints(ctx, claimed[1]); len(cp) != 0 {
		t.Errorf("Checkpoints(never started) = %v, want none", cp)
	}
	// Order per conversation across the takeover: a's completed entry,
	// then b's in claim-then-read order.
	order := map[string][]string{got[0].Conversation: {got[0].Entry.ID}}
	for _, d := range append(claimed, rest...) {
		order[d.Conversation] = append(order[d.Conversation], d.Entry.ID)
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("answer order per conversation (-accepted +answered):\n%s", diff)
	}

	// b continues the conversation a left: it reads a's record.
	k, _ := store.ParseKey(claimed[0].Conversation)
	if r, ok, _ := qb.db.Get(k); claimed[0].Conversation == got[0].Conversation && (!ok || r.ConversationID != "conv-a1") {
		t.Errorf("record of %s = %+v, %v, want a's conv-a1", k, r, ok)
	}

	// a wakes up: its checkpoint and completion are refused and change
	// nothing.
	if err := qa.Checkpoint(ctx, la, got[1], "p0", "1/999"); !errors.Is(err, ErrFenced) {
		t.Errorf("Checkpoint(stale lease) = %v, want ErrFenced", err)
	}
	stale := store.Record{Backend: "b", ConversationID: "stale"}
	if err := qa.Complete(ctx, la, got[1], Completion{Record: &stale}); !errors.Is(err, ErrFenced) {
		t.Errorf("Complete(stale lease) = %v, want ErrFenced", err)
	}
	if cp, _ := qb.Checkpoints(ctx, got[1]); cp["p0"] != "1/555" {
		t.Errorf("checkpoint after the stale write = %v, want 1/555", cp)
	}
	k1, _ := store.ParseKey(got[1].Conversation)
	if r, _, _ := qb.db.Get(k1); r.ConversationID == "stale" {
		t.Error("the stale Complete wrote the conversation record")
	}
	if n, _ := qb.Backlog(ctx, p); n != 5 {
		t.Errorf("Backlog after the stale Complete = %d, want 5 (nothing removed)", n)
	}

	// b completes everything; /reset forgets the record.
	for i, d := range append(claimed, rest...) {
		c := Completion{Record: &store.Record{Backend: "b", ConversationID: "conv-b" + fmt.Sprint(i)}}
		if i == 4 {
			c = Completion{Forget: true}
		}
		if err := qb.Complete(ctx, lb, d, c); err != nil {
			t.Fatalf("Complete(%s) = %v", d.Entry.ID, err)
		}
	}
	if n, _ := qb.Backlog(ctx, p); n != 0 {
		t.Errorf("Backlog after completing all = %d, want 0", n)
	}
	if cp, _ := qb.Checkpoints(ctx, got[1]); len(cp) != 0 {
		t.Errorf("checkpoint after Complete = %v, want dropped", cp)
	}
	last := rest[1]
	lk, _ := store.ParseKey(last.Conversation)
	if _, ok, _ := qb.db.Get(lk); ok {
		t.Errorf("record of %s after Complete{Forget} = present", lk)
	}
	other := convs[0]
	if last.Conversation == other {
		other = convs[1]
	}
	ok2, _ := store.ParseKey(other)
	if r, ok, _ := qb.db.Get(ok2); !ok || !strings.HasPrefix(r.ConversationID, "conv-b") {
		t.Errorf("record of %s = %+v, %v, want b's", other, r, ok)
	}
	// Completed IDs stay deduplicated.
	if a, err := in.Accept(ctx, got[0].Conversation, got[0].Entry, time.Hour); err != nil || !a.Duplicate || a.StreamID != "done" {
		t.Errorf("Accept(completed ID) = %+v, %v, want a duplicate marked done", a, err)
	}
	if pending := qb.db.Client().XPending(ctx, qb.stream(p), group).Val(); pending.Count != 0 {
		t.Errorf("pending entries after completion = %d, want 0", pending.Count)
	}
	if _, err := qa.Claim(ctx, la); !errors.Is(err, ErrFenced) {
		t.Errorf("Claim(stale lease) = %v, want ErrFenced", err)
	}
}

func TestQueueRead(t *testing.T) {
	url := redistest.Start(t)
	ctx := t.Context()
	q := openQueue(t, openTest(t, url, Config{Prefix: "q"}, Options{}), 2)
	l0, _ := q.db.Acquire(ctx, q.LeaseName(0), "r", time.Minute)
	l1, _ := q.db.Acquire(ctx, q.LeaseName(1), "r", time.Minute)
	if got, err := q.Read(ctx, 10, 0, l0, l1); err != nil || len(got) != 0 {
		t.Errorf("Read(empty) = %v, %v, want nothing", got, err)
	}
	// A blocked Read wakes up for an accept on another replica.
	other := openQueue(t, openTest(t, url, Config{Prefix: "q"}, Options{}), 2)
	done := make(chan []Delivery)
	go func() {
		got, err := q.Read(ctx, 10, 10*time.Second, l0, l1)
		if err != nil {
			t.Errorf("Read(block) = %v", err)
		}
		done <- got
	}()
	start := time.Now()
	time.Sleep(50 * time.Millisecond) // let the Read block first (either order passes)
	if _, err := other.Accept(ctx, "discord/main/7", entry("discord/main/7#1", "x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if len(got) != 1 || got[0].Conversation != "discord/main/7" || string(got[0].Entry.Payload) != "x" {
		t.Errorf("Read(block) = %+v, want the accepted entry", got)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("blocked Read returned after %v, want at the accept", time.Since(start))
	}
	if _, err := q.Read(ctx, 1, 0, Lease{Name: "telegram/main/poller", Holder: "r", Token: 1}); err == nil {
		t.Error("Read(not a partition lease) = nil, want an error")
	}
}

func TestQueuePartitions(t *testing.T) {
	url := redistest.Start(t)
	db := openTest(t, url, Config{Prefix: "q"}, Options{})
	q := openQueue(t, db, 64)
	if _, err := db.Queue(t.Context(), 32); err == nil || !strings.Contains(err.Error(), "has 64 partitions, not 32") {
		t.Errorf("Queue(32) on a 64-partition store = %v, want refused", err)
	}
	openQueue(t, openTest(t, url, Config{Prefix: "q"}, Options{}), 64) // the same count reopens
	if _, err := db.Queue(t.Context(), 0); err == nil {
		t.Error("Queue(0) = nil, want an error")
	}
	counts := make([]int, 64)
	for i := range 6400 {
		k := fmt.Sprintf("telegram/main/%d", i)
		p := q.Partition(k)
		if p != q.Partition(k) {
			t.Fatalf("Partition(%s) not stable", k)
		}
		counts[p]++
	}
	for p, n := range counts {
		if n < 50 || n > 150 {
			t.Errorf("partition %d got %d of 6400 keys, want about 100", p, n)
		}
	}
	// FNV-1a 32 is the contract (every replica and version must agree).
	if p := q.Partition("telegram/main/1"); p != int(fnv1a("telegram/main/1")%64) {
		t.Errorf("Partition = %d, want FNV-1a 32 mod 64", p)
	}
}

func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// TestAcceptSurvivesServerKill: with appendonly yes and appendfsync
// always, every acknowledged accept survives a SIGKILL of redis-server,
// and after the restart no dedupe mark exists without its entry nor an
// entry without its mark.
func TestAcceptSurvivesServerKill(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	ctx := t.Context()
	db := openTest(t, srv.URL, Config{Prefix: "q"}, Options{Timeout: time.Second})
	q := openQueue(t, db, 4)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]bool{}
		stop  atomic.Bool
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("telegram/main/%d#%d", w, i)
				a, err := q.Accept(ctx, fmt.Sprintf("telegram/main/%d", w), entry(id, "x"), time.Hour)
				if err != nil {
					return // the server is gone: the platform would redeliver
				}
				if !a.Duplicate {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Stop() // SIGKILL mid-load
	stop.Store(true)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no accept acknowledged before the kill")
	}
	srv.Restart()

	marks := map[string]string{}
	for p := range q.Partitions() {
		iter := db.Client().Scan(ctx, 0, q.part(p)+":seen:*", 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			marks[strings.TrimPrefix(k, q.part(p)+":seen:")] = db.Client().Get(ctx, k).Val()
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("scan after restart: %v", err)
		}
	}
	entries := map[string]string{}
	for p := range q.Partitions() {
		for _, m := range db.Client().XRange(ctx, q.stream(p), "-", "+").Val() {
			d, err := q.deliveries(p, []goredis.XMessage{m})
			if err != nil {
				t.Fatal(err)
			}
			entries[d[0].Entry.ID] = m.ID
		}
	}
	for id := range acked {
		if _, ok := entries[id]; !ok {
			t.Errorf("acknowledged accept %s lost in the kill", id)
		}
	}
	for id, sid := range marks {
		if entries[id] != sid {
			t.Errorf("dedupe mark %s -> %s without its stream entry (entry %q)", id, sid, entries[id])
		}
	}
	for id, sid := range entries {
		if marks[id] != sid {
			t.Errorf("stream entry %s (%s) without its dedupe mark", id, sid)
		}
	}
	t.Logf("%d accepts acknowledged before the kill, %d entries after the restart", len(acked), len(entries))
	// The store works again after the restart (the client reconnects).
	if a, err := q.Accept(ctx, "telegram/main/0", entry("after", "x"), time.Hour); err != nil || a.Duplicate {
		t.Errorf("Accept after the restart = %+v, %v", a, err)
	}
}
