package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// EvictionError means the server's maxmemory-policy may evict keys; Open
// refuses such a server. Open's error wraps it.
type EvictionError struct {
	// Policy is the server's maxmemory-policy, e.g. "allkeys-lru".
	Policy string
}

func (e *EvictionError) Error() string {
	return fmt.Sprintf("the server's maxmemory-policy is %q: when memory is full it deletes keys (conversations, inbox entries, dedupe marks, leases) and the bridge would silently lose them; set maxmemory-policy noeviction (in redis.conf, or CONFIG SET maxmemory-policy noeviction) so a full server refuses writes instead", e.Policy)
}

// checkServer reads the server's persistence and eviction settings. It
// returns an *EvictionError when maxmemory-policy is anything but
// noeviction, and warnings when acknowledged writes may be lost: AOF off,
// appendfsync no, or settings it cannot read (CONFIG disabled or denied,
// as managed services do).
func checkServer(ctx context.Context, rdb *goredis.Client) (warnings []string, err error) {
	get := func(name string) (string, error) {
		m, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", err
		}
		v, ok := m[name]
		if !ok {
			return "", fmt.Errorf("CONFIG GET %s returned no value", name)
		}
		return v, nil
	}
	policy, err := get("maxmemory-policy")
	if err != nil {
		return []string{fmt.Sprintf("redis: cannot read the server's settings (CONFIG GET: %v); make sure it runs with maxmemory-policy noeviction, appendonly yes and appendfsync always (or everysec), or accepted messages and conversations can be lost", err)}, nil
	}
	if policy != "noeviction" {
		return nil, &EvictionError{Policy: policy}
	}
	if aof, err := get("appendonly"); err != nil {
		warnings = append(warnings, fmt.Sprintf("redis: cannot read appendonly (%v); make sure it is yes", err))
	} else if aof != "yes" {
		warnings = append(warnings, fmt.Sprintf("redis: appendonly is %q: a server restart loses every write since its last snapshot (accepted messages, conversations, dedupe marks); set appendonly yes (and appendfsync always)", aof))
	}
	if fsync, err := get("appendfsync"); err != nil {
		warnings = append(warnings, fmt.Sprintf("redis: cannot read appendfsync (%v); make sure it is always or everysec", err))
	} else if fsync == "no" {
		warnings = append(warnings, "redis: appendfsync is \"no\": the operating system decides when writes reach the disk, so a machine crash can lose many seconds of accepted messages; set appendfsync always (or everysec)")
	}
	return warnings, nil
}
