package bridges

import (
	"testing"
	"time"
)

func TestLimiterPacesAndBursts(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := []Budget{{Key: "chat", Every: time.Second, Burst: 2}}
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, l.reserve(t0, b).Sub(t0))
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reservation %d at +%s, want +%s (burst 2, then one per second)", i, got[i], want[i])
		}
	}
}

func TestLimiterNestedBudgets(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	global := Budget{Key: "bot", Every: 100 * time.Millisecond}
	// 50 chats, each with its own budget, all under one bot-wide budget:
	// the bot-wide pace holds across them.
	var last time.Time
	for i := 0; i < 50; i++ {
		chat := Budget{Key: "chat" + string(rune('A'+i)), Every: time.Second}
		at := l.reserve(t0, []Budget{chat, global})
		if i > 0 && at.Sub(last) < 100*time.Millisecond {
			t.Fatalf("request %d only %s after the previous, want the bot-wide 100ms", i, at.Sub(last))
		}
		last = at
	}
	// A second request in chat A waits for chat A's own budget too.
	at := l.reserve(t0, []Budget{{Key: "chatA", Every: time.Second}, global})
	if at.Before(t0.Add(5 * time.Second)) {
		t.Errorf("second request in chat A at +%s, want after the bot-wide queue", at.Sub(t0))
	}
}

func TestLimiterPause(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := Budget{Key: "chat", Every: time.Second, Burst: 5}
	l.pause(b, t0.Add(30*time.Second))
	if at := l.reserve(t0, []Budget{b}); !at.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("reservation during a retry-after pause at +%s, want +30s", at.Sub(t0))
	}
	other := Budget{Key: "other", Every: time.Second}
	if at := l.reserve(t0, []Budget{other}); !at.Equal(t0) {
		t.Errorf("another scope paused too: +%s", at.Sub(t0))
	}
}

// TestLimiterWindow checks the budget never allows more than the platform's
// window: 20 per minute per group at Every=3s.
func TestLimiterWindow(t *testing.T) {
	l := newLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := []Budget{{Key: "group", Every: 3 * time.Second}}
	var times []time.Time
	for i := 0; i < 100; i++ {
		times = append(times, l.reserve(t0.Add(time.Duration(i)*100*time.Millisecond), b))
	}
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Minute; j++ {
			n++
		}
		if n > 20 {
			t.Fatalf("%d requests within a minute from request %d, want <= 20", n, i)
		}
	}
}
