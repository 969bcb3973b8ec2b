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

// permAll is every permission bit, what the guild's owner and an
// Administrator have.
const permAll = int64(1)<<53 - 1

// PermissionsIn returns user's permissions in channel as Discord
// computes them for an interaction's member.permissions: the @everyone
// role's and roles' permissions (all of them for the guild's owner or an
// Administrator), then the channel's overwrites (a thread's parent's):
// @everyone's, the roles' together, the member's.
func (s *Server) PermissionsIn(guild, channel, user string, roles []string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.permissionsLocked(guild, channel, user, roles)
}

func (s *Server) permissionsLocked(guild, channel, user string, roles []string) int64 {
	g := s.guildLocked(guild)
	if g.OwnerID == user {
		return permAll
	}
	has := func(id string) bool {
		for _, r := range roles {
			if r == id {
				return true
			}
		}
		return false
	}
	var p int64
	for _, r := range g.Roles {
		if r.ID == g.ID || has(r.ID) {
			p |= r.Permissions
		}
	}
	if p&PermAdministrator != 0 {
		return permAll
	}
	ch := s.channels[channel]
	if ch.Type == 11 || ch.Type == 12 {
		ch = s.channels[ch.ParentID]
	}
	var allow, deny int64
	for _, o := range ch.PermissionOverwrites {
		if o.Type == 0 && o.ID == g.ID {
			p = p&^o.Deny | o.Allow
		} else if o.Type == 0 && has(o.ID) {
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	p = p&^deny | allow
	for _, o := range ch.PermissionOverwrites {
		if o.Type == 1 && o.ID == user {
			p = p&^o.Deny | o.Allow
		}
	}
	return p
}

// fillMemberLocked completes the member of an INTERACTION_CREATE in a
// guild as Discord sends it: its roles (SetMember's) when the event has
// none, and its permissions in the channel when the event has none.
func (s *Server) fillMemberLocked(b []byte) []byte {
	var ev map[string]json.RawMessage
	if json.Unmarshal(b, &ev) != nil || ev["member"] == nil {
		return b
	}
	var guild, channel string
	_ = json.Unmarshal(ev["guild_id"], &guild)
	_ = json.Unmarshal(ev["channel_id"], &channel)
	var mem map[string]any
	if json.Unmarshal(ev["member"], &mem) != nil || mem == nil || guild == "" {
		return b
	}
	if _, ok := mem["permissions"]; ok {
		return b
	}
	u, _ := mem["user"].(map[string]any)
	user, _ := u["id"].(string)
	var roles []string
	list, _ := mem["roles"].([]any)
	for _, r := range list {
		if id, ok := r.(string); ok {
			roles = append(roles, id)
		}
	}
	if len(roles) == 0 {
		roles = s.members[guild+"/"+user]
		list = []any{}
		for _, r := range roles {
			list = append(list, r)
		}
		mem["roles"] = list
	}
	mem["permissions"] = strconv.FormatInt(s.permissionsLocked(guild, channel, user, roles), 10)
	mb, err := json.Marshal(mem)
	if err != nil {
		return b
	}
	ev["member"] = mb
	out, err := json.Marshal(ev)
	if err != nil {
		return b
	}
	return out
}
