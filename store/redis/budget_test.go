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
