package bridgestest

import (
	"context"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// NewRelay returns bridges.NewRelay(cfg), failing t when cfg is refused,
// and shuts the relay down (with a 10 s grace for its replies) when the
// test ends.
func NewRelay(t testing.TB, cfg bridges.Config) *bridges.Relay {
	t.Helper()
	r, err := bridges.NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Shutdown(ctx)
	})
	return r
}
