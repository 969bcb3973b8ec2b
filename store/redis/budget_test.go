package redis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestBudgetsBookAtomically: three clients (three replicas), 8
// goroutines each, book 600 urgent requests at once on a nest of a
// group's budget and the bot's: every booking moves both budgets on
// exactly once, so the bot's next free slot is 600 paces out and the
// group's 600 of its own, as one process would book them; and the
// departure windows count each request once.
func TestBudgetsBookAtomically(t *testing.T) {
	url := redistest.Start(t)
	bot := Budget{Key: "bot", Every: 10 * time.Millisecond}
	group := Budget{Key: "group", Every: 5 * time.Millisecond, Window: time.Hour, Max: 1 << 20}
	var clients []*Budgets
	for range 3 {
		clients = append(clients, openTest(t, url, Config{Prefix: "dep"}, Options{}).Budgets())
	}
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		b := clients[i%3]
		wg.Go(func() {
			for range 25 {
				if _, ok, err := b.Book(ctx, 0, []Budget{group, bot}, -1); err != nil || !ok {
					errs <- fmt.Errorf("Book = %v, %v", ok, err)
					return
				}
				d, _, ok, err := b.Depart(ctx, []Budget{group})
				if err != nil || !ok {
					errs <- fmt.Errorf("Depart = %v, %v", ok, err)
					return
				}
				if err := d.Done(ctx, 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	for _, c := range []struct {
		b    Budget
		want time.Duration
	}{{bot, 600 * bot.Every}, {group, 600 * bot.Every}} {
		// The bot's pace holds the nest; the group's tat follows the
		// slots, one of its own paces past the last.
		next, err := clients[0].Peek(ctx, 0, []Budget{c.b})
		if err != nil {
			t.Fatal(err)
		}
		want := c.want - elapsed
		if c.b.Key == "group" {
			want = c.want - bot.Every + group.Every - elapsed
		}
		if d := next - want; d < -50*time.Millisecond || d > 50*time.Millisecond {
			t.Errorf("%s: next free slot in %s, want about %s (600 bookings, each counted once)", c.b.Key, next, want)
		}
	}
	n, err := clients[0].db.rdb.ZCard(ctx, clients[0].winKey("group")).Result()
	if err != nil || n != 600 {
		t.Errorf("group window counts %d requests (%v), want 600", n, err)
	}
}

// TestBudgetsBookDepart: a booking due within the lead departs in the
// same script, one command, counted in flight on the windows as Depart
// counts it; a booking due later, or one the window has no room for,
// only books (Depart then checks it as usual); Cancel withdraws a
// departure that never left, so the window has room again.
func TestBudgetsBookDepart(t *testing.T) {
	db := openTest(t, redistest.Start(t), Config{Prefix: "bookdepart"}, Options{})
	b := db.Budgets()
	ctx := context.Background()
	cc := redistest.Count(db.rdb)
	group := Budget{Key: "group", Every: time.Millisecond, Window: time.Hour, Max: 2}
	bot := Budget{Key: "bot", Every: time.Millisecond}
	nest := []Budget{group, bot}
	// Load the script (a first EVALSHA may fall back to EVAL).
	if _, err := b.BookDepart(ctx, 0, []Budget{{Key: "warm", Every: time.Millisecond}}, -1, 0); err != nil {
		t.Fatal(err)
	}
	before := cc.Commands.Load()
	first, err := b.BookDepart(ctx, 0, nest, -1, 40*time.Millisecond)
	if err != nil || !first.Booked || !first.Departed || !first.Windowed() {
		t.Fatalf("BookDepart in empty budgets = %+v, %v; want booked and departed on the window", first, err)
	}
	if n := cc.Commands.Load() - before; n != 1 {
		t.Errorf("BookDepart sent %d commands, want 1 (one script: booking and departure in one round trip)", n)
	}
	if n, err := db.rdb.ZCard(ctx, b.winKey("group")).Result(); err != nil || n != 1 {
		t.Errorf("window counts %d in flight (%v), want 1", n, err)
	}
	// The second fills the window of 2; the third is booked but may not
	// leave yet, and Depart agrees.
	if bk, err := b.BookDepart(ctx, 0, nest, -1, 40*time.Millisecond); err != nil || !bk.Departed {
		t.Fatalf("second BookDepart = %+v, %v; want departed", bk, err)
	}
	third, err := b.BookDepart(ctx, 0, nest, -1, 40*time.Millisecond)
	if err != nil || !third.Booked || third.Departed {
		t.Fatalf("BookDepart with the window full = %+v, %v; want booked, not departed", third, err)
	}
	if _, _, ok, err := b.Depart(ctx, nest); err != nil || ok {
		t.Fatalf("Depart with the window full = %v, %v; want refused", ok, err)
	}
	// Withdrawn, the first frees its place.
	if err := first.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := b.Depart(ctx, nest); err != nil || !ok {
		t.Fatalf("Depart after a Cancel = %v, %v; want room for one", ok, err)
	}
	// A slot beyond the lead books only.
	slow := []Budget{{Key: "slow", Every: time.Second}}
	if bk, err := b.BookDepart(ctx, 0, slow, -1, 40*time.Millisecond); err != nil || !bk.Departed {
		t.Fatalf("BookDepart on a free budget = %+v, %v; want departed", bk, err)
	}
	later, err := b.BookDepart(ctx, 0, slow, -1, 40*time.Millisecond)
	if err != nil || !later.Booked || later.Departed || later.Wait < 900*time.Millisecond {
		t.Fatalf("BookDepart one pace later = %+v, %v; want booked about 1s out, not departed", later, err)
	}
	// An edit refused books nothing and departs nothing.
	if bk, err := b.BookDepart(ctx, 0, slow, 0, 40*time.Millisecond); err != nil || bk.Booked || bk.Departed {
		t.Fatalf("edit BookDepart on a busy budget = %+v, %v; want refused", bk, err)
	}
}
