package bridges_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestTake: Take waits for a paused budget and for its rolling window,
// counts the request in the window once done, and gives up when ctx
// ends; Relay.Budgets is the relay's own state, shared or not.
func TestTake(t *testing.T) {
	st := bridges.NewLocalBudgets()
	b := bridges.Budget{Key: "p/i", Every: time.Millisecond, Burst: 10, Window: 200 * time.Millisecond, Max: 2}
	until := time.Now().Add(100 * time.Millisecond)
	st.Pause(b, until)
	var left []time.Time
	for range 3 {
		done, err := bridges.Take(context.Background(), st, []bridges.Budget{b})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		left = append(left, now)
		done(now)
	}
	if left[0].Before(until) {
		t.Errorf("the first request left %v before the pause ended", until.Sub(left[0]))
	}
	if d := left[2].Sub(left[0]); d < b.Window {
		t.Errorf("the third request left %v after the first, want at least the window (%v, max 2)", d, b.Window)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.Pause(b, time.Now().Add(time.Minute))
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := bridges.Take(ctx, st, []bridges.Budget{b}); !errors.Is(err, context.Canceled) {
		t.Errorf("Take on a paused budget with ctx canceled = %v, want context.Canceled", err)
	}

	r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore()})
	shared := bridges.NewLocalBudgets()
	rb := r.Budgets()
	r.ShareBudgets(shared, nil)
	shared.Pause(b, time.Now().Add(time.Minute))
	if at := rb.Peek(time.Now(), []bridges.Budget{b}); time.Until(at) < 30*time.Second {
		t.Errorf("Relay.Budgets taken before ShareBudgets does not see the shared state's pause")
	}
}
