package slacktest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// User is a member of the fake's workspace, as users.info describes it.
type User struct {
	ID, Name string
	// DisplayName is the profile's display name; RealName its real name.
	DisplayName, RealName string
	// Locale is the user's locale ("de-DE"); users.info returns it only
	// with include_locale=true, as Slack does.
	Locale                           string
	IsAdmin, IsOwner, IsPrimaryOwner bool
	IsBot                            bool
}

// UserMessage is a message a person (or another bot) wrote, for
// conversations.replies (the bot's own messages are in Messages).
type UserMessage struct {
	Channel, TS, ThreadTS string
	User, BotID, Text     string
}

// AddUser adds (or replaces) a user of the workspace for users.info.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = map[string]User{}
	}
	s.users[u.ID] = u
}

// AddMessage records a message someone wrote in a channel (a thread
// root has ThreadTS empty or equal to TS), for conversations.replies. It
// does not deliver it: send the event separately.
func (s *Server) AddMessage(m UserMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userMsgs = append(s.userMsgs, m)
}

// usersInfoLocked answers users.info.
func (s *Server) usersInfoLocked(form url.Values) answer {
	u, ok := s.users[form.Get("user")]
	if !ok {
		return errAnswer("user_not_found")
	}
	user := map[string]any{
		"id": u.ID, "name": u.Name, "real_name": u.RealName, "team_id": s.opts.TeamID,
		"is_admin": u.IsAdmin, "is_owner": u.IsOwner, "is_primary_owner": u.IsPrimaryOwner, "is_bot": u.IsBot,
		"profile": map[string]any{"display_name": u.DisplayName, "real_name": u.RealName},
	}
	if form.Get("include_locale") == "true" {
		user["locale"] = u.Locale
	}
	return okAnswer(map[string]any{"user": user})
}

// repliesLocked answers conversations.replies: the thread's root and
// replies, the users' and the bot's, oldest first, within oldest/latest
// (exclusive unless inclusive=true), limit per page (default 1000)
// with the offset as cursor.
func (s *Server) repliesLocked(form url.Values) answer {
	ch, root := form.Get("channel"), form.Get("ts")
	if ch == "" {
		return errAnswer("channel_not_found")
	}
	if root == "" {
		return errAnswer("invalid_arguments")
	}
	type item struct {
		ts   string
		body map[string]any
	}
	var all []item
	inThread := func(ts, thread string) bool { return ts == root || thread == root }
	for _, m := range s.userMsgs {
		if m.Channel == ch && inThread(m.TS, m.ThreadTS) {
			b := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "thread_ts": root}
			if m.User != "" {
				b["user"] = m.User
			}
			if m.BotID != "" {
				b["bot_id"] = m.BotID
			}
			all = append(all, item{m.TS, b})
		}
	}
	for _, m := range s.msgs {
		if m.Channel == ch && !m.Deleted && inThread(m.TS, m.ThreadTS) {
			all = append(all, item{m.TS, map[string]any{"type": "message", "ts": m.TS, "text": m.Visible(),
				"thread_ts": root, "user": s.opts.BotUser, "bot_id": s.opts.BotID}})
		}
	}
	if len(all) == 0 {
		return errAnswer("thread_not_found")
	}
	slices.SortFunc(all, func(a, b item) int { return compareTS(a.ts, b.ts) })
	incl := form.Get("inclusive") == "true" || form.Get("inclusive") == "1"
	latest, oldest := form.Get("latest"), form.Get("oldest")
	var kept []map[string]any
	for _, it := range all {
		if latest != "" && (compareTS(it.ts, latest) > 0 || !incl && it.ts == latest) {
			continue
		}
		if oldest != "" && (compareTS(it.ts, oldest) < 0 || !incl && it.ts == oldest) {
			continue
		}
		kept = append(kept, it.body)
	}
	limit, _ := strconv.Atoi(form.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	from, _ := strconv.Atoi(form.Get("cursor"))
	from = min(max(from, 0), len(kept))
	to := min(from+limit, len(kept))
	next := ""
	if to < len(kept) {
		next = strconv.Itoa(to)
	}
	return okAnswer(map[string]any{"messages": kept[from:to], "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}})
}

// compareTS orders two Slack timestamps ("1800000000.000001").
func compareTS(a, b string) int {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) - len(bs)
	}
	if c := strings.Compare(as, bs); c != 0 {
		return c
	}
	return strings.Compare((af + "000000")[:6], (bf + "000000")[:6])
}
