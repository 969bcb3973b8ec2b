package slack

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// What the adapter learns about users and threads (issue 16): the
// user's locale and name from users.info (cached), the thread's earlier
// messages from conversations.replies, whether a user administers the
// workspace, and a status line in assistant threads.

const (
	// userTTL is how long users.info answers are cached (locale, name).
	userTTL = time.Hour
	// maxUsers bounds the cache; past it, it starts over.
	maxUsers = 10000
	// lookupTimeout bounds a users.info made while receiving (the
	// Events API wants its answer within 3 s).
	lookupTimeout = 1500 * time.Millisecond
	// repliesPage and repliesPages bound conversations.replies.
	repliesPage  = 200
	repliesPages = 5
)

var (
	_ bridges.ThreadReader = (*Adapter)(nil)
	_ bridges.AdminChecker = (*Adapter)(nil)
	_ bridges.StatusShower = (*Adapter)(nil)
)

// userInfo is what the adapter keeps of a users.info answer.
type userInfo struct {
	name, locale string
	admin        bool
	at           time.Time
}

// userCache caches users.info answers per user ID.
type userCache struct {
	mu    sync.Mutex
	users map[string]userInfo
}

func (c *userCache) get(id string, now time.Time) (userInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.users[id]
	if !ok || now.Sub(u.at) > userTTL {
		return userInfo{}, false
	}
	return u, true
}

func (c *userCache) put(id string, u userInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users == nil || len(c.users) >= maxUsers {
		c.users = map[string]userInfo{}
	}
	c.users[id] = u
}

// lookupUser calls users.info (with include_locale) and caches the
// answer; an unknown user is cached as empty. When the token lacks
// users:read the lookups stop for good, with one warning.
func (a *Adapter) lookupUser(ctx context.Context, id string) (userInfo, error) {
	if a.noUsers.Load() {
		return userInfo{}, errNoUsers
	}
	u, err := a.api.GetUserInfoContext(ctx, id, slackapi.GetUserInfoOptionIncludeLocale(true))
	switch code := slackCode(err); {
	case err == nil:
	case code == "user_not_found" || code == "user_not_visible":
		a.users.put(id, userInfo{at: a.now()})
		return userInfo{}, nil
	case code == "missing_scope" || code == "not_allowed_token_type":
		if !a.noUsers.Swap(true) {
			a.log.Warn("slack users.info refused: no user locales or admin checks (add the users:read scope)", "err", err)
		}
		return userInfo{}, errNoUsers
	default:
		return userInfo{}, fmt.Errorf("users.info: %w", apiError(err))
	}
	name := u.Profile.DisplayName
	if name == "" {
		name = u.RealName
	}
	if name == "" {
		name = u.Name
	}
	info := userInfo{name: name, locale: u.Locale, admin: u.IsAdmin || u.IsOwner || u.IsPrimaryOwner, at: a.now()}
	a.users.put(id, info)
	return info, nil
}

var errNoUsers = errors.New("users.info not allowed (users:read scope missing)")

// user returns the cached users.info answer for id, or looks it up.
func (a *Adapter) user(ctx context.Context, id string) (userInfo, error) {
	if u, ok := a.users.get(id, a.now()); ok {
		return u, nil
	}
	return a.lookupUser(ctx, id)
}

// enrich adds what the platform knows of m's author: the locale and the
// name (users.info, cached per user). A failed lookup leaves them empty.
func (a *Adapter) enrich(ctx context.Context, m *bridges.Message) {
	if m.UserID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	u, err := a.user(ctx, m.UserID)
	if err != nil {
		if !errors.Is(err, errNoUsers) {
			a.log.Debug("slack user lookup failed", "user", m.UserID, "err", err)
		}
		return
	}
	m.Locale = u.locale
	if m.UserName == "" {
		m.UserName = u.name
	}
}

// IsAdmin implements bridges.AdminChecker: a workspace admin or owner
// (users.info is_admin, is_owner, is_primary_owner), asked fresh (the
// core caches the answer).
func (a *Adapter) IsAdmin(ctx context.Context, m *bridges.Message) (bool, error) {
	u, err := a.lookupUser(ctx, m.UserID)
	if err != nil {
		return false, err
	}
	return u.admin, nil
}

// ThreadHistory implements bridges.ThreadReader with
// conversations.replies: the at most max messages before m in its
// thread (the root included), oldest first. The bot's own messages are
// FromBot; the bot's mention is removed; authors are named when their
// users.info answer is cached (no request per author).
func (a *Adapter) ThreadHistory(ctx context.Context, m *bridges.Message, max int) ([]bridges.ThreadMessage, error) {
	if max <= 0 || m.ThreadID == "" || m.ThreadID == m.ID {
		return nil, nil
	}
	self, _, _, _ := a.state()
	var out []bridges.ThreadMessage
	cursor := ""
	for range repliesPages {
		msgs, more, next, err := a.api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
			ChannelID: m.ChatID, Timestamp: m.ThreadID, Cursor: cursor, Latest: m.ID, Limit: repliesPage,
		})
		if err != nil {
			return nil, fmt.Errorf("conversations.replies: %w", apiError(err))
		}
		for _, msg := range msgs {
			if msg.Timestamp == m.ID || m.ID != "" && tsAfter(msg.Timestamp, m.ID) {
				continue
			}
			fromBot := msg.BotID != "" && msg.BotID == self.BotID || self.UserID != "" && msg.User == self.UserID
			text := plainText(stripMention(msg.Text, self.UserID))
			if text == "" {
				continue
			}
			tm := bridges.ThreadMessage{FromBot: fromBot, Text: text, Time: tsTime(msg.Timestamp, a.now)}
			switch {
			case fromBot:
				tm.Author = self.User
			case msg.User != "":
				if u, ok := a.users.get(msg.User, a.now()); ok {
					tm.Author = u.name
				}
			default:
				tm.Author = msg.Username
			}
			out = append(out, tm)
			if len(out) > max {
				out = out[1:]
			}
		}
		if !more || next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

// tsAfter reports whether Slack timestamp a is later than b.
func tsAfter(a, b string) bool {
	ta, tb := tsTime(a, time.Now), tsTime(b, time.Now)
	return ta.After(tb)
}

// ShowStatus implements bridges.StatusShower with
// assistant.threads.setStatus in m's thread, where Slack allows it (an
// assistant thread; elsewhere the typing status was refused already and
// nothing is sent). The typing status then leaves the line alone for a
// minute.
func (a *Adapter) ShowStatus(ctx context.Context, m *bridges.Message, text string) error {
	if err := a.setStatus(ctx, m, text, true); err != nil {
		return fmt.Errorf("assistant.threads.setStatus: %w", err)
	}
	return nil
}

// statusTimes remembers when a progress line was shown per thread, for
// statusKeep; older entries are dropped as new ones come. It also
// serialises the setStatus requests of a thread (serial): the typing
// status runs on its own goroutine, and one it decided on before a
// progress line was set must land before that line, not over it.
type statusTimes struct {
	mu sync.Mutex
	at map[string]time.Time
	// calls are the locks of serial, striped by thread.
	calls [64]sync.Mutex
}

// serial returns the lock held around a thread's setStatus request and
// its check or record of statusAt.
func (s *statusTimes) serial(key string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return &s.calls[h.Sum32()%uint32(len(s.calls))]
}

func (s *statusTimes) set(key string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at == nil {
		s.at = map[string]time.Time{}
	}
	if len(s.at) >= 1000 {
		for k, t := range s.at {
			if now.Sub(t) >= statusKeep {
				delete(s.at, k)
			}
		}
	}
	s.at[key] = now
}

// recent reports whether key's status was shown within statusKeep.
func (s *statusTimes) recent(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[key]
	return ok && now.Sub(t) < statusKeep
}
