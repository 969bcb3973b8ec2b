package discord

import (
	"context"
	"slices"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Where a question is asked (issue 16): the guild's language, the thread
// or replied-to message it was written under (ThreadHistory) and whether
// its author administers the channel (IsAdmin).

var (
	_ bridges.ThreadReader = (*Adapter)(nil)
	_ bridges.AdminChecker = (*Adapter)(nil)
)

// guildTTL is how long a guild lookup (its roles, owner and preferred
// locale) is kept.
const guildTTL = time.Minute

type guildEntry struct {
	at  time.Time
	g   *discordgo.Guild
	err error // a failed lookup, kept as long, so that it is not repeated for every message
}

// guild returns the guild id, from a cache of at most guildTTL or
// GET /guilds/{id}.
func (a *Adapter) guild(ctx context.Context, id string) (*discordgo.Guild, error) {
	now := a.now()
	a.mu.Lock()
	e, ok := a.guilds[id]
	a.mu.Unlock()
	if ok && now.Sub(e.at) < guildTTL {
		return e.g, e.err
	}
	rctx, rec := withRecorder(ctx)
	g, err := a.s.Guild(id, a.opts(rctx)...)
	if err != nil {
		err = wrapErr("get guild", err, rec)
		if ctx.Err() != nil {
			return nil, err
		}
		g = nil
	}
	a.mu.Lock()
	if len(a.guilds) >= maxCached {
		clear(a.guilds)
	}
	a.guilds[id] = guildEntry{at: now, g: g, err: err}
	a.mu.Unlock()
	return g, err
}

// guildLocale returns the guild's preferred locale ("" when the lookup
// failed: notices are then in the default language).
func (a *Adapter) guildLocale(ctx context.Context, id string) string {
	g, err := a.guild(ctx, id)
	if err != nil {
		a.log.Warn("look up the guild's locale", "guild", id, "err", err)
		return ""
	}
	return g.PreferredLocale
}

// refMessage is a message the question replies to, from MESSAGE_CREATE's
// referenced_message.
type refMessage struct {
	ID       string    `json:"id"`
	AuthorID string    `json:"author_id"`
	Author   string    `json:"author,omitempty"`
	Bot      bool      `json:"bot,omitempty"`
	Text     string    `json:"text"`
	Time     time.Time `json:"time"`
}

// ThreadHistory implements bridges.ThreadReader: inside a thread, the
// messages before m (GET /channels/{thread}/messages?before=); for a
// reply outside one, the replied-to message Discord sent along.
func (a *Adapter) ThreadHistory(ctx context.Context, m *bridges.Message, max int) ([]bridges.ThreadMessage, error) {
	ref, _ := m.Ref.(*msgRef)
	if ref == nil || max <= 0 {
		return nil, nil
	}
	bot := a.botUser()
	if !ref.inThread {
		if r := ref.replyTo; r != nil {
			return []bridges.ThreadMessage{{FromBot: r.AuthorID == bot.ID, Author: r.Author,
				Text: stripMentions(r.Text, bot.ID, ""), Time: r.Time}}, nil
		}
		return nil, nil
	}
	ctx, rec := withRecorder(ctx)
	msgs, err := a.s.ChannelMessages(m.ChatID, min(max, 100), m.ID, "", "", a.opts(ctx)...)
	if err != nil {
		return nil, wrapErr("get thread messages", err, rec)
	}
	roleID := ""
	if ref.guildID != "" {
		a.mu.Lock()
		roleID = a.roles[ref.guildID]
		a.mu.Unlock()
	}
	var out []bridges.ThreadMessage
	for _, msg := range slices.Backward(msgs) { // Discord answers newest first
		if msg == nil || msg.Author == nil {
			continue
		}
		text := stripMentions(msg.Content, bot.ID, roleID)
		if text == "" {
			continue
		}
		out = append(out, bridges.ThreadMessage{FromBot: msg.Author.ID == bot.ID, Author: displayName(msg.Author),
			Text: text, Time: msg.Timestamp})
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out, nil
}

func displayName(u *discordgo.User) string {
	if u.GlobalName != "" {
		return u.GlobalName
	}
	return u.Username
}

// adminPermissions are the permissions that make a member an admin of a
// channel for reset = "admins".
const adminPermissions = discordgo.PermissionAdministrator | discordgo.PermissionManageMessages

// IsAdmin implements bridges.AdminChecker: the author has Manage
// Messages or Administrator in the channel (or owns the guild). A slash
// command carries the member's permissions in the channel; for a
// message, they are computed from the member's roles (from the event, or
// GET /guilds/{g}/members/{u}), the guild's roles (GET /guilds/{g},
// cached a minute) and the channel's overwrites (a thread's parent's).
// In a direct message the user is the only one there: true.
func (a *Adapter) IsAdmin(ctx context.Context, m *bridges.Message) (bool, error) {
	if m.Private {
		return true, nil
	}
	if ir, ok := m.Ref.(*interactionRef); ok && ir.it != nil && ir.it.Member != nil {
		return ir.it.Member.Permissions&adminPermissions != 0, nil
	}
	ref, _ := m.Ref.(*msgRef)
	if ref == nil || ref.guildID == "" {
		return false, nil
	}
	g, err := a.guild(ctx, ref.guildID)
	if err != nil {
		return false, err
	}
	if g.OwnerID == m.UserID {
		return true, nil
	}
	roles := ref.roles
	if roles == nil {
		rctx, rec := withRecorder(ctx)
		mem, err := a.s.GuildMember(ref.guildID, m.UserID, a.opts(rctx)...)
		if err != nil {
			return false, wrapErr("get guild member", err, rec)
		}
		roles = mem.Roles
	}
	channel := ref.channelID
	info, err := a.channel(ctx, channel)
	if err != nil {
		return false, err
	}
	if info.thread && info.parent != "" {
		if info, err = a.channel(ctx, info.parent); err != nil {
			return false, err
		}
	}
	return permissions(g, info.overwrites, m.UserID, roles)&adminPermissions != 0, nil
}

// permissions computes a member's permissions in a channel as Discord
// documents it (topics/permissions: base permissions from @everyone and
// the member's roles, Administrator grants all, then the channel's
// @everyone, role and member overwrites, in that order).
func permissions(g *discordgo.Guild, overwrites []*discordgo.PermissionOverwrite, userID string, roles []string) int64 {
	var p int64
	for _, r := range g.Roles {
		if r != nil && (r.ID == g.ID || slices.Contains(roles, r.ID)) {
			p |= r.Permissions
		}
	}
	if p&discordgo.PermissionAdministrator != 0 {
		return discordgo.PermissionAll
	}
	for _, o := range overwrites {
		if o != nil && o.ID == g.ID {
			p = p&^o.Deny | o.Allow
		}
	}
	var allow, deny int64
	for _, o := range overwrites {
		if o != nil && o.Type == discordgo.PermissionOverwriteTypeRole && o.ID != g.ID && slices.Contains(roles, o.ID) {
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	p = p&^deny | allow
	for _, o := range overwrites {
		if o != nil && o.Type == discordgo.PermissionOverwriteTypeMember && o.ID == userID {
			p = p&^o.Deny | o.Allow
		}
	}
	return p
}
