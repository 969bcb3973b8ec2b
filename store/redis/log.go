package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis writes its own messages (a pool that failed to dial, a
// connection that was closed with unread data, …) through one
// process-wide logger, by default to stderr in the standard library's
// format. libLog forwards them to the bridge's slog logger instead, at
// warn level, with the passwords of open stores removed, and at most one
// line per message form every logEvery (the rest counted), so an outage
// does not flood the log.
type libLog struct {
	mu        sync.Mutex
	log       *slog.Logger
	passwords map[string]int
	last      map[string]time.Time
	dropped   map[string]int
	now       func() time.Time
}

const logEvery = 10 * time.Second

var lib = &libLog{passwords: map[string]int{}, last: map[string]time.Time{}, dropped: map[string]int{}, now: time.Now}

var setLoggerOnce sync.Once

// useLog makes log the destination of go-redis's messages for as long as
// a store with password pw is open; the returned func undoes the
// password's registration.
func useLog(log *slog.Logger, pw string) func() {
	if log == nil {
		log = slog.Default()
	}
	setLoggerOnce.Do(func() { goredis.SetLogger(lib) })
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if lib.log != log { // a new destination starts with no suppression
		lib.log = log
		clear(lib.last)
		clear(lib.dropped)
	}
	if pw != "" {
		lib.passwords[pw]++
	}
	return func() {
		lib.mu.Lock()
		defer lib.mu.Unlock()
		if pw != "" {
			if lib.passwords[pw]--; lib.passwords[pw] <= 0 {
				delete(lib.passwords, pw)
			}
		}
	}
}

// Printf implements go-redis's internal.Logging.
func (g *libLog) Printf(_ context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	g.mu.Lock()
	for pw := range g.passwords {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	now := g.now()
	if at, ok := g.last[format]; ok && now.Sub(at) < logEvery {
		g.dropped[format]++
		g.mu.Unlock()
		return
	}
	g.last[format] = now
	dropped := g.dropped[format]
	delete(g.dropped, format)
	log := g.log
	g.mu.Unlock()
	if dropped > 0 {
		log.Warn("redis client: "+msg, "similar_suppressed", dropped)
		return
	}
	log.Warn("redis client: " + msg)
}
