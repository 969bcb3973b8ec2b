package bridges

import (
	"sync"
	"time"
)

// MemKV is an in-memory KV, for adapters whose Deps.KV is nil and for
// tests. It keeps at most Max values and Max seen keys (dropping arbitrary
// ones beyond, expired seen keys first); Delete also forgets a seen key.
type MemKV struct {
	mu   sync.Mutex
	max  int
	m    map[string][]byte
	seen map[string]time.Time
}

var _ KV = (*MemKV)(nil)

// NewMemKV returns an empty MemKV holding at most max entries of each
// kind; max <= 0 means 100,000.
func NewMemKV(max int) *MemKV {
	if max <= 0 {
		max = 100_000
	}
	return &MemKV{max: max, m: map[string][]byte{}, seen: map[string]time.Time{}}
}

// Get implements KV.
func (kv *MemKV) Get(key string) ([]byte, bool, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	v, ok := kv.m[key]
	return append([]byte(nil), v...), ok, nil
}

// Put implements KV.
func (kv *MemKV) Put(key string, value []byte) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if _, ok := kv.m[key]; !ok && len(kv.m) >= kv.max {
		for k := range kv.m {
			delete(kv.m, k)
			break
		}
	}
	kv.m[key] = append([]byte(nil), value...)
	return nil
}

// Delete implements KV.
func (kv *MemKV) Delete(key string) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.m, key)
	delete(kv.seen, key)
	return nil
}

// Seen implements KV.
func (kv *MemKV) Seen(key string, ttl time.Duration) (bool, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	now := time.Now()
	if t, ok := kv.seen[key]; ok && now.Sub(t) < ttl {
		return true, nil
	}
	if len(kv.seen) >= kv.max {
		for k, t := range kv.seen {
			if now.Sub(t) >= ttl {
				delete(kv.seen, k)
			}
		}
		for k := range kv.seen {
			if len(kv.seen) < kv.max {
				break
			}
			delete(kv.seen, k)
		}
	}
	kv.seen[key] = now
	return false, nil
}
