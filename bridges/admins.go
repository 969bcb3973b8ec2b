package bridges

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// With Policy.ResetAdminsOnly, /reset and /new in a group are for the
// chat's administrators: the users of Policy.Admins, and those the
// platform says administer the chat (AdminChecker). Asking the platform
// is I/O, so Handle (which must return quickly, and decides under no
// lock but the windows') lets such a command through to the
// conversation's worker, which asks before forgetting anything.

// adminTTL is how long the platform's answer is believed.
const adminTTL = 5 * time.Minute

// adminCache remembers the platform's answers per chat and user.
type adminCache struct {
	mu sync.Mutex
	m  map[string]adminEntry
}

type adminEntry struct {
	admin bool
	at    time.Time
}

func newAdminCache() *adminCache { return &adminCache{m: map[string]adminEntry{}} }

func (c *adminCache) get(key string, now time.Time) (admin, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.Sub(e.at) >= adminTTL || now.Before(e.at) {
		return false, false
	}
	return e.admin, true
}

func (c *adminCache) put(key string, admin bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 4096 {
		for k, e := range c.m {
			if now.Sub(e.at) >= adminTTL {
				delete(c.m, k)
			}
		}
	}
	c.m[key] = adminEntry{admin: admin, at: now}
}

// resetAllowed reports whether m's author may reset m's conversation. It
// may ask the platform (I/O); call it with no lock held.
func (r *Relay) resetAllowed(b *binding, m *Message, log *slog.Logger) bool {
	pol := b.rt.Policy
	if !pol.ResetAdminsOnly || m.Private || pol.isAdmin(m.UserID) {
		return true
	}
	ac, ok := b.p.(AdminChecker)
	if !ok {
		return false
	}
	key := m.Key.Platform + "/" + m.Key.Instance + "/" + m.ChatID + "/" + m.UserID
	now := r.cfg.Now()
	if admin, ok := r.admins.get(key, now); ok {
		return admin
	}
	ctx, cancel := context.WithTimeout(r.hard, 10*time.Second)
	defer cancel()
	admin, err := ac.IsAdmin(ctx, m)
	if err != nil {
		log.Warn("cannot ask the platform whether the user is an admin; only the configured admins may reset", "user", m.UserID, "err", err)
		return false
	}
	r.admins.put(key, admin, now)
	return admin
}
