package discord

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// msgRef is Message.Ref for a gateway message: where the question is
// (the answer may go to a thread started from it).
type msgRef struct {
	channelID string
	guildID   string
	// thread is set when the answer goes to a new thread started from the
	// question (reply_in_thread); Send starts it with the first reply.
	thread *threadPlan
	// roles are the author's roles from the event (nil: not sent), for
	// IsAdmin.
	roles []string
	// inThread is true for a mention in a thread the bot did not start;
	// replyTo is the message the question replies to, when it is not
	// the bot's. ThreadHistory reads them.
	inThread bool
	replyTo  *refMessage
}

// threadPlan is a thread the answer to one question wants.
type threadPlan struct {
	name string

	mu      sync.Mutex
	id      string // the thread, once started
	started bool   // a start was tried: id, or "" to answer in the channel
}

// threadID returns the thread the answer goes to, "" before it is
// started or when it could not be.
func (r *msgRef) threadID() string {
	if r == nil || r.thread == nil {
		return ""
	}
	r.thread.mu.Lock()
	defer r.thread.mu.Unlock()
	return r.thread.id
}

// interactionRef is Message.Ref for a slash command: the answer edits the
// interaction's deferred response while its token is valid (15 minutes
// from created); after that, or once Discord refused the token or the
// response is gone, the answer goes to the channel as a normal message.
type interactionRef struct {
	it *discordgo.Interaction
	// created is when the interaction arrived (zero: unknown, taken as
	// valid).
	created time.Time
	// gone is set when Discord refused the interaction's token or its
	// response was deleted.
	gone atomic.Bool
}

// interactionTTL is how long an interaction token may be used (Discord:
// 15 minutes), less a margin for a request under way and clock skew.
const interactionTTL = 15*time.Minute - 30*time.Second

// usable reports whether the answer may still go through the
// interaction's token at now.
func (ir *interactionRef) usable(now time.Time) bool {
	if ir.gone.Load() {
		return false
	}
	return ir.created.IsZero() || now.Sub(ir.created) < interactionTTL
}

// channelInfo is what a channel lookup found.
type channelInfo struct {
	thread     bool
	parent     string
	owner      string
	overwrites []*discordgo.PermissionOverwrite
}

// receiveMessage passes one MESSAGE_CREATE to h, if it is for the bridge.
func (a *Adapter) receiveMessage(ctx context.Context, h bridges.Handler, m *discordgo.Message) {
	msg, ok := a.translate(ctx, m)
	if !ok {
		return
	}
	a.textChanged(m.ID, msg.Text)
	if err := h.Handle(ctx, msg); err != nil {
		a.log.Warn("message not accepted", "key", msg.Key.String(), "err", err)
	}
}

// translate applies the adapter's filters to m and returns it as a
// bridges.Message: bots, the bridge itself, system messages and channels
// outside the allow-lists are dropped. With reply_in_thread, a mention
// outside a thread is marked for a thread that Send starts (the message
// is keyed by the thread's future ID, the question's); translate itself
// posts nothing.
func (a *Adapter) translate(ctx context.Context, m *discordgo.Message) (bridges.Message, bool) {
	bot := a.botUser()
	// discordgo hands over events it could only partly decode.
	if m == nil || m.ID == "" || m.ChannelID == "" || m.Author == nil || m.Author.ID == "" || bot.ID == "" {
		a.log.Debug("ignoring an incomplete message event")
		return bridges.Message{}, false
	}
	if m.Author.Bot || m.Author.System || m.Author.ID == bot.ID || m.WebhookID != "" {
		return bridges.Message{}, false
	}
	if m.Type != discordgo.MessageTypeDefault && m.Type != discordgo.MessageTypeReply {
		return bridges.Message{}, false
	}
	private := m.GuildID == ""
	if !private && !a.allowed(ctx, m.GuildID, m.ChannelID) {
		return bridges.Message{}, false
	}

	var roleID string
	if !private && len(m.MentionRoles) > 0 {
		roleID = a.botRole(ctx, m.GuildID)
	}
	mentioned := roleID != "" && contains(m.MentionRoles, roleID)
	for _, u := range m.Mentions {
		if u != nil && u.ID == bot.ID {
			mentioned = true
		}
	}
	replyToBot := m.ReferencedMessage != nil && m.ReferencedMessage.Author != nil &&
		m.ReferencedMessage.Author.ID == bot.ID
	text := stripMentions(m.Content, bot.ID, roleID)
	inBotThread := false

	key := m.ChannelID
	ref := &msgRef{channelID: m.ChannelID, guildID: m.GuildID}
	if m.Member != nil && m.Member.Roles != nil {
		ref.roles = m.Member.Roles
	}
	var replyToID string
	if r := m.ReferencedMessage; r != nil && r.ID != "" {
		replyToID = r.ID
		if !replyToBot && r.Author != nil {
			ref.replyTo = &refMessage{ID: r.ID, AuthorID: r.Author.ID, Author: displayName(r.Author),
				Bot: r.Author.Bot, Text: r.Content, Time: r.Timestamp}
		}
	} else if m.MessageReference != nil {
		replyToID = m.MessageReference.MessageID
	}
	if !private && (a.cfg.ReplyInThread || mentioned) {
		info, err := a.channel(ctx, m.ChannelID)
		switch {
		case err != nil:
			a.log.Warn("look up channel", "channel", m.ChannelID, "err", err)
		case info.thread && info.owner == bot.ID:
			inBotThread = a.cfg.ReplyInThread // a thread the bot started is a conversation with it
		case info.thread:
			ref.inThread = mentioned // a thread whose earlier messages the bot has not seen
		case a.cfg.ReplyInThread && (mentioned || replyToBot) && !strings.HasPrefix(text, "/"):
			// Discord gives a thread started from a message the
			// message's ID.
			key = m.ID
			ref.thread = &threadPlan{name: threadName(text)}
		}
	}
	locale := ""
	if !private {
		locale = a.guildLocale(ctx, m.GuildID)
	}

	name := m.Author.GlobalName
	if name == "" {
		name = m.Author.Username
	}
	t := m.Timestamp
	if t.IsZero() {
		t = a.now()
	}
	return bridges.Message{
		Key:         a.key(key),
		ID:          m.ID,
		ChatID:      m.ChannelID,
		UserID:      m.Author.ID,
		UserName:    name,
		Text:        text,
		Private:     private,
		Mentioned:   mentioned,
		ReplyToBot:  replyToBot,
		InBotThread: inBotThread,
		Time:        t,
		Ref:         ref,
		Locale:      locale,
		Space:       m.GuildID,
		InThread:    ref.inThread || ref.replyTo != nil,
		ReplyToID:   replyToID,
		NonText:     text == "" && (len(m.Attachments) > 0 || len(m.StickerItems) > 0),
	}, true
}

// allowed applies allowed_guilds and allowed_channels to a guild channel;
// a thread is allowed when its parent channel is.
func (a *Adapter) allowed(ctx context.Context, guildID, channelID string) bool {
	if len(a.cfg.AllowedGuilds) > 0 && !contains(a.cfg.AllowedGuilds, guildID) {
		return false
	}
	if len(a.cfg.AllowedChannels) == 0 || contains(a.cfg.AllowedChannels, channelID) {
		return true
	}
	info, err := a.channel(ctx, channelID)
	if err != nil {
		a.log.Warn("look up channel", "channel", channelID, "err", err)
		return false
	}
	return info.thread && contains(a.cfg.AllowedChannels, info.parent)
}

// stripMentions removes the bot's user and role mentions from text.
func stripMentions(text, botID, roleID string) string {
	tokens := []string{"<@" + botID + ">", "<@!" + botID + ">"}
	if roleID != "" {
		tokens = append(tokens, "<@&"+roleID+">")
	}
	for _, tok := range tokens {
		text = strings.ReplaceAll(text, tok+" ", "")
		text = strings.ReplaceAll(text, tok, "")
	}
	return strings.TrimSpace(text)
}

// maxCached bounds the lookup caches; when full they start over.
const maxCached = 10000

// channel returns what kind of channel id is, from the cache or the API.
func (a *Adapter) channel(ctx context.Context, id string) (channelInfo, error) {
	a.mu.Lock()
	info, ok := a.channels[id]
	a.mu.Unlock()
	if ok {
		return info, nil
	}
	ctx, rec := withRecorder(ctx)
	ch, err := a.s.Channel(id, a.opts(ctx)...)
	if err != nil {
		return channelInfo{}, wrapErr("get channel", err, rec)
	}
	info = channelInfo{thread: ch.IsThread(), parent: ch.ParentID, owner: ch.OwnerID, overwrites: ch.PermissionOverwrites}
	a.remember(id, info)
	return info, nil
}

func (a *Adapter) remember(id string, info channelInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.channels) >= maxCached {
		clear(a.channels)
	}
	a.channels[id] = info
}

// botRole returns the ID of the bot's managed role in a guild ("" when
// there is none or the lookup failed).
func (a *Adapter) botRole(ctx context.Context, guildID string) string {
	a.mu.Lock()
	id, ok := a.roles[guildID]
	a.mu.Unlock()
	if ok {
		return id
	}
	ctx, rec := withRecorder(ctx)
	body, err := a.s.RequestWithBucketID("GET", discordgo.EndpointGuildRoles(guildID), nil,
		discordgo.EndpointGuildRoles(guildID), a.opts(ctx)...)
	if err != nil {
		a.log.Warn("look up the bot's role", "guild", guildID, "err", wrapErr("get roles", err, rec))
		return ""
	}
	var roles []struct {
		ID   string `json:"id"`
		Tags struct {
			BotID string `json:"bot_id"`
		} `json:"tags"`
	}
	if err := json.Unmarshal(body, &roles); err != nil {
		a.log.Warn("look up the bot's role", "guild", guildID, "err", err)
		return ""
	}
	bot := a.botUser().ID
	for _, r := range roles {
		if r.Tags.BotID == bot {
			id = r.ID
		}
	}
	a.mu.Lock()
	if len(a.roles) >= maxCached {
		clear(a.roles)
	}
	a.roles[guildID] = id
	a.mu.Unlock()
	return id
}

// startThread starts the thread m's answer wants, once, and returns the
// channel the answer goes to: the thread, or m's channel when none is
// wanted or it could not be started (logged). A 429 is returned, so that
// the core retries.
func (a *Adapter) startThread(ctx context.Context, m *bridges.Message, ref *msgRef) (string, error) {
	if ref == nil || ref.thread == nil {
		return m.ChatID, nil
	}
	t := ref.thread
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		if t.id != "" {
			return t.id, nil
		}
		return m.ChatID, nil
	}
	ctx, rec := withRecorder(ctx)
	ch, err := a.s.MessageThreadStartComplex(ref.channelID, m.ID, &discordgo.ThreadStart{
		Name:                t.name,
		AutoArchiveDuration: 1440,
	}, a.opts(ctx)...)
	if err != nil {
		err = wrapErr("start thread", err, rec)
		var rl *bridges.RateLimitError
		if errors.As(err, &rl) || ctx.Err() != nil {
			return "", err
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == codeThreadExists {
			// Started before (a redelivered question): it has the
			// question's ID.
			ch, err = &discordgo.Channel{ID: m.ID}, nil
		}
	}
	t.started = true
	if err != nil || ch == nil || ch.ID == "" {
		a.log.Warn("start a thread; answering in the channel", "channel", ref.channelID, "err", err)
		return m.ChatID, nil
	}
	t.id = ch.ID
	a.remember(ch.ID, channelInfo{thread: true, parent: ref.channelID, owner: a.botUser().ID})
	return ch.ID, nil
}

// codeThreadExists is Discord's "a thread has already been created for
// this message".
const codeThreadExists = 160004

// threadName is the first line of the question, shortened.
func threadName(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "Question"
	}
	if utf8.RuneCountInString(line) > 80 {
		r := []rune(line)
		line = strings.TrimSpace(string(r[:79])) + "…"
	}
	return line
}

// receiveInteraction answers a slash command: it defers the response at
// once (Discord wants an answer within 3 s), then passes the command to
// h; the core's reply edits the deferred response.
func (a *Adapter) receiveInteraction(ctx context.Context, h bridges.Handler, it *discordgo.Interaction) {
	if it == nil || it.ID == "" || it.Token == "" || it.Type != discordgo.InteractionApplicationCommand {
		return
	}
	u := it.User
	if it.Member != nil && it.Member.User != nil {
		u = it.Member.User
	}
	if u == nil || u.ID == "" || u.Bot {
		return
	}
	data := it.ApplicationCommandData()
	text, ok := commandText(data)
	if !ok {
		a.respondNow(ctx, it, "I don't know that command.")
		return
	}
	if it.GuildID != "" && !a.allowed(ctx, it.GuildID, it.ChannelID) {
		a.respondNow(ctx, it, "I don't answer in this channel.")
		return
	}
	rctx, rec := withRecorder(ctx)
	err := a.s.InteractionRespond(it, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
	}, a.opts(rctx)...)
	if err != nil {
		a.log.Error("defer the interaction response", "err", wrapErr("interaction callback", err, rec))
		return
	}
	name := u.GlobalName
	if name == "" {
		name = u.Username
	}
	msg := bridges.Message{
		Key:      a.key(it.ChannelID),
		ID:       it.ID,
		ChatID:   it.ChannelID,
		UserID:   u.ID,
		UserName: name,
		Text:     text,
		Private:  it.GuildID == "",
		Command:  data.Name,
		Directed: true,
		Time:     a.now(),
		Locale:   interactionLocale(it),
		Space:    it.GuildID,
		Ref:      &interactionRef{it: it, created: a.now()},
	}
	if err := h.Handle(ctx, msg); err != nil {
		a.log.Warn("command not accepted", "key", msg.Key.String(), "err", err)
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		notice := "The bridge is restarting; please ask again in a moment."
		if _, err := a.s.InteractionResponseEdit(it, &discordgo.WebhookEdit{
			Content: &notice, AllowedMentions: noMentions(),
		}, a.opts(ectx)...); err != nil {
			a.log.Warn("edit the interaction response", "err", wrapErr("interaction edit", err, nil))
		}
	}
}

// interactionLocale is the user's locale of an interaction, else its
// guild's.
func interactionLocale(it *discordgo.Interaction) string {
	if it.Locale != "" {
		return string(it.Locale)
	}
	if it.GuildLocale != nil {
		return string(*it.GuildLocale)
	}
	return ""
}

// receiveEdit passes a MESSAGE_UPDATE of a user's message whose text
// changed to h, as the same message with Edited set (the core restarts
// an answer still streaming and ignores the rest). Updates without an
// edit (embeds unfurled, pins) and edits to the same text are dropped.
func (a *Adapter) receiveEdit(ctx context.Context, h bridges.Handler, m *discordgo.Message) {
	if m == nil || m.EditedTimestamp == nil {
		return
	}
	msg, ok := a.translate(ctx, m)
	if !ok || !a.textChanged(m.ID, msg.Text) {
		return
	}
	msg.Edited = true
	if err := h.Handle(ctx, msg); err != nil {
		a.log.Warn("edited message not accepted", "key", msg.Key.String(), "err", err)
	}
}

// textChanged records text as the latest of message id and reports
// whether it differs from the one recorded before (true when none was).
func (a *Adapter) textChanged(id, text string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	old, ok := a.texts[id]
	if len(a.texts) >= maxCached {
		clear(a.texts)
	}
	a.texts[id] = text
	return !ok || old != text
}

// respondNow answers an interaction at once with a notice only its
// author sees.
func (a *Adapter) respondNow(ctx context.Context, it *discordgo.Interaction, text string) {
	err := a.s.InteractionRespond(it, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{
			Content:         text,
			Flags:           discordgo.MessageFlagsEphemeral,
			AllowedMentions: noMentions(),
		},
	}, a.opts(ctx)...)
	if err != nil {
		a.log.Warn("answer the interaction", "err", wrapErr("interaction callback", err, nil))
	}
}
