package telegram

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// TestPrivateBudgetRoomForJitter: the default budget of a private chat
// stays inside Telegram's limit (a bucket of 3, refilled at 1/s) even
// when the requests it allows reach Telegram up to 50 ms apart from when
// the budget let them go, as they do in cluster mode at a takeover: the
// new owner books the chat's budget full (the answer posted anew, the
// next one, their finals) on Redis, and each request leaves when its
// replica's wait for the slot ends. At exactly 1/s with a burst of 3 the
// budget matched the limit with no room at all, and the first request
// after the burst that arrived early against the burst's was refused
// (the acceptance test's known defect 2). The fake's clock is set to each
// request's arrival; the requests go through the adapter's client.
func TestPrivateBudgetRoomForJitter(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := newFake(t, telegramtest.Options{Limits: telegramtest.TelegramLimits, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	h := newHarness(t, f, nil)
	h.a.timing = defaultTiming()
	m := &bridges.Message{ChatID: "77", Private: true}
	b := h.a.Limits(m).Budgets[0]
	if b.Every <= 0 {
		t.Fatalf("private chat budget %+v has no pace", b)
	}
	// The budget's schedule, as bridges.Budget defines it (GCRA): a
	// request may go at t when t >= tat - Burst*Every; each moves tat on
	// by Every. Every request here goes as early as that allows.
	const jitter = 50 * time.Millisecond
	t0 := now
	tat := t0
	ctx := context.Background()
	for i := range 10 {
		slot := t0
		if e := tat.Add(-time.Duration(b.Burst) * b.Every); e.After(slot) {
			slot = e
		}
		if tat.Before(slot) {
			tat = slot
		}
		tat = tat.Add(b.Every)
		// The burst reaches Telegram late, the rest on time: the tightest
		// spacing jitter makes of the budget's schedule.
		arrive := slot
		if i <= b.Burst {
			arrive = slot.Add(jitter)
		}
		mu.Lock()
		now = arrive
		mu.Unlock()
		if _, err := h.a.Send(ctx, m, bridges.Out{Text: "part", Final: true}); err != nil {
			t.Fatalf("request %d, %v after the first slot (budget every %v, burst %d): %v", i, arrive.Sub(t0), b.Every, b.Burst, err)
		}
	}
	if n := f.Stats().TooMany[telegramtest.ScopePrivate]; n != 0 {
		t.Errorf("%d private-chat 429s", n)
	}
}
