package discordtest

import (
	"encoding/json"
	"strconv"
)

// Guilds, members and channel history: GET /guilds/{guild} (with its
// roles, owner and preferred_locale), GET /guilds/{guild}/members/{user}
// and GET /channels/{channel}/messages (users' messages the test
// dispatched and the bot's own, newest first, before= and limit= as on
// Discord).

// Permission bits the fake's default roles use.
const (
	PermAdministrator  = 1 << 3
	PermManageMessages = 1 << 13
)

// Role is a guild role as GET /guilds/{guild} lists it.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Permissions int64  `json:"permissions,string"`
	Managed     bool   `json:"managed"`
}

// Guild is what GET /guilds/{id} answers. A guild the test did not add
// (SetGuild) has owner "1", preferred locale "en-US", the @everyone role
// (its own ID, no permission), "940" mods (Manage Messages) and the
// bot's managed role.
type Guild struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	OwnerID         string `json:"owner_id"`
	PreferredLocale string `json:"preferred_locale"`
	Roles           []Role `json:"roles"`
}

// Overwrite is a channel's permission overwrite (type 0 role, 1 member).
type Overwrite struct {
	ID    string `json:"id"`
	Type  int    `json:"type"`
	Allow int64  `json:"allow,string"`
	Deny  int64  `json:"deny,string"`
}

func defaultGuild(id string) Guild {
	return Guild{ID: id, Name: "guild " + id, OwnerID: "1", PreferredLocale: "en-US", Roles: []Role{
		{ID: id, Name: "@everyone"},
		{ID: "940", Name: "mods", Permissions: PermManageMessages},
		{ID: BotRoleID, Name: BotName, Managed: true},
	}}
}

// SetGuild makes GET /guilds/{g.ID} answer g.
func (s *Server) SetGuild(g Guild) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guilds[g.ID] = g
}

// SetMember makes GET /guilds/{guild}/members/{user} answer a member
// with roles (unknown members are 404, Unknown Member).
func (s *Server) SetMember(guild, user string, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[guild+"/"+user] = append([]string{}, roles...)
}

func (s *Server) guildLocked(id string) Guild {
	if g, ok := s.guilds[id]; ok {
		return g
	}
	return defaultGuild(id)
}

// historyEntry is one message of a channel's history: a user's (raw,
// as dispatched) or the bot's (by ID, its current text).
type historyEntry struct {
	id   string
	user json.RawMessage
}

// recordDispatchLocked keeps the message of a MESSAGE_CREATE in its
// channel's history.
func (s *Server) recordDispatchLocked(typ string, b []byte) {
	if typ != "MESSAGE_CREATE" {
		return
	}
	var head struct {
		ID        string `json:"id"`
		ChannelID string `json:"channel_id"`
	}
	if json.Unmarshal(b, &head) != nil || head.ID == "" || head.ChannelID == "" {
		return
	}
	s.history[head.ChannelID] = append(s.history[head.ChannelID], historyEntry{id: head.ID, user: append(json.RawMessage(nil), b...)})
}

// channelMessagesLocked answers GET /channels/{channel}/messages.
func (s *Server) channelMessagesLocked(channel, before string, limit int) []json.RawMessage {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	h := s.history[channel]
	end := len(h)
	if before != "" {
		end = 0
		for i, e := range h {
			if e.id == before {
				end = i
				break
			}
		}
	}
	var out []json.RawMessage
	for i := end - 1; i >= 0 && len(out) < limit; i-- {
		e := h[i]
		if e.user != nil {
			out = append(out, e.user)
			continue
		}
		m := s.msgs[e.id]
		if m == nil || m.Deleted {
			continue
		}
		b, _ := json.Marshal(s.messageJSON(m, s.opts.Now()))
		out = append(out, b)
	}
	return out
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}
