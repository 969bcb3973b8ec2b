package bridges

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is "N per duration", written in the config as "10/min", "3/10s" or
// "100/h". The zero Rate is no limit.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate parses "N/unit" where unit is s, min, h, d or a Go duration.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Rate{}, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/unit, like \"10/min\"", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 0 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a count", s, n)
	}
	var per time.Duration
	switch u := strings.TrimSpace(unit); u {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	case "d", "day":
		per = 24 * time.Hour
	default:
		per, err = time.ParseDuration(u)
		if err != nil || per <= 0 {
			return Rate{}, fmt.Errorf("rate %q: unknown unit %q (use s, min, h, d or a duration like 10s)", s, u)
		}
	}
	return Rate{N: count, Per: per}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler for config files.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r Rate) String() string {
	if r.N == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d per %s", r.N, r.Per)
}

// Policy is the access and abuse policy of one platform instance. The
// zero Policy allows everything but questions over 4,000 characters.
type Policy struct {
	// UserRate and ChatRate limit the questions a user, and a chat, may ask.
	UserRate Rate
	ChatRate Rate
	// UserDailyQuota limits a user's questions per UTC day; 0 = none.
	UserDailyQuota int
	// MaxQuestionChars refuses longer questions; 0 means 4,000, negative
	// means no limit.
	MaxQuestionChars int
	// ResetAdminsOnly lets only Admins run /reset and /new in groups.
	ResetAdminsOnly bool
	// Admins are user IDs as the platform gives them.
	Admins []string
	// ErrorPolicy is how failures are shown in groups: "message" (the
	// default: one short message, the same failure in a chat not repeated
	// within a minute), "reaction" (an emoji on the question) or "silent".
	ErrorPolicy string
}

func (p Policy) maxChars() int {
	if p.MaxQuestionChars == 0 {
		return 4000
	}
	return p.MaxQuestionChars
}

func (p Policy) isAdmin(user string) bool { return slices.Contains(p.Admins, user) }

// windows counts events per key in sliding windows: a log of recent times
// per key, bounded by the rate's N.
type windows struct {
	mu   sync.Mutex
	logs map[string][]time.Time
	day  map[string]dayCount
	n    int
	// kv, when set, keeps the daily counts across restarts, one key per
	// user ("quota/<key>" = "<day> <count>").
	kv KV
	// onErr, when set, hears of a failed kv read ("quota_read") or write
	// ("quota_write"). Either way the question is still allowed or
	// refused by the count in memory.
	onErr func(op string, err error)
	// shared, when set, counts instead of the logs and day counts in
	// memory (cluster mode), under ns+key; on its error the count in
	// memory decides.
	shared SharedWindows
	ns     string
}

type dayCount struct {
	day   string
	count int
}

func newWindows() *windows {
	return &windows{logs: map[string][]time.Time{}, day: map[string]dayCount{}}
}

// allow records an event for key at now if fewer than r.N happened within
// r.Per, and reports whether it did.
func (w *windows) allow(key string, r Rate, now time.Time) bool {
	if r.N <= 0 {
		return true
	}
	if w.shared != nil {
		ok, err := w.shared.Allow(w.ns+key, r)
		if err == nil {
			return ok
		}
		w.fail("window_shared", fmt.Errorf("count %s: %w", w.ns+key, err))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gc(now)
	log := w.logs[key]
	cut := 0
	for cut < len(log) && now.Sub(log[cut]) >= r.Per {
		cut++
	}
	log = log[cut:]
	if len(log) >= r.N {
		w.logs[key] = log
		return false
	}
	w.logs[key] = append(log, now)
	return true
}

// allowDaily counts one event for key today (UTC) if fewer than quota.
func (w *windows) allowDaily(key string, quota int, now time.Time) bool {
	if quota <= 0 {
		return true
	}
	today := now.UTC().Format(time.DateOnly)
	if w.shared != nil {
		ok, err := w.shared.AllowDaily(w.ns+key, today, quota)
		if err == nil {
			return ok
		}
		w.fail("quota_shared", fmt.Errorf("count daily %s: %w", w.ns+key, err))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.day[key]
	if !ok && w.kv != nil {
		v, found, err := w.kv.Get("quota/" + key)
		if err != nil {
			w.fail("quota_read", fmt.Errorf("read quota of %s: %w", key, err))
		} else if found {
			var d string
			var n int
			if _, err := fmt.Sscanf(string(v), "%s %d", &d, &n); err == nil {
				c = dayCount{day: d, count: n}
			} else {
				w.fail("quota_read", fmt.Errorf("corrupt quota of %s: %q", key, v))
			}
		}
	}
	if c.day != today {
		c = dayCount{day: today}
	}
	if c.count >= quota {
		w.day[key] = c
		return false
	}
	c.count++
	w.day[key] = c
	if w.kv != nil {
		if err := w.kv.Put("quota/"+key, []byte(fmt.Sprintf("%s %d", c.day, c.count))); err != nil {
			w.fail("quota_write", fmt.Errorf("write quota of %s: %w", key, err))
		}
	}
	return true
}

func (w *windows) fail(op string, err error) {
	if w.onErr != nil {
		w.onErr(op, err)
	}
}

// gc drops idle keys now and then, so memory stays bounded.
func (w *windows) gc(now time.Time) {
	w.n++
	if w.n%4096 != 0 {
		return
	}
	for k, log := range w.logs {
		if len(log) == 0 || now.Sub(log[len(log)-1]) > 24*time.Hour {
			delete(w.logs, k)
		}
	}
	today := now.UTC().Format(time.DateOnly)
	for k, c := range w.day {
		if c.day != today {
			delete(w.day, k)
		}
	}
}
