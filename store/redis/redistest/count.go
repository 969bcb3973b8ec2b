package redistest

import (
	"context"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// Counter is a go-redis hook counting what a client sends, so a test can
// tell round trips: Commands counts each command (a pipeline's each),
// Trips each command or pipeline sent.
type Counter struct{ Commands, Trips atomic.Int64 }

// Count adds a Counter to c and returns it.
func Count(c *goredis.Client) *Counter {
	n := &Counter{}
	c.AddHook(n)
	return n
}

func (n *Counter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (n *Counter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		n.Commands.Add(1)
		n.Trips.Add(1)
		return next(ctx, cmd)
	}
}

func (n *Counter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		n.Commands.Add(int64(len(cmds)))
		n.Trips.Add(1)
		return next(ctx, cmds)
	}
}
