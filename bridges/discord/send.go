package discord

import (
	"context"
	"errors"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// sentRef is Sent.Ref for a message that belongs to an interaction: the
// deferred response (original) or a follow-up. It shares the question's
// interactionRef, so that a token found expired by one request sends the
// rest of the answer to the channel.
type sentRef struct {
	ir       *interactionRef
	original bool
}

// noMentions is set on every send and edit: backend text never pings
// @everyone, roles, users, nor the user it replies to.
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// Send implements bridges.Platform: part 0 replies to the question (or
// fills the deferred response of a slash command), later parts follow it.
// One request, never retried: a 429 returns *bridges.RateLimitError, a
// lasting refusal *bridges.PermanentError (errors.go). The core booked
// the post on Limits.Budgets; a thread started first (reply_in_thread)
// is booked on its own budgets before it leaves (budgets.go).
//
// For a slash command whose token has expired (15 minutes) or that
// Discord refused, the message goes to the channel instead: at once when
// the clock says so, else the refused request marks the interaction gone
// and returns a passing error, and the core's retry posts in the channel.
func (a *Adapter) Send(ctx context.Context, m *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	text := render(out.Text, out.Plain)
	ctx, rec := withRecorder(ctx)
	if ir, ok := m.Ref.(*interactionRef); ok && ir.usable(a.now()) {
		if out.Part == 0 {
			msg, err := a.s.InteractionResponseEdit(ir.it, &discordgo.WebhookEdit{
				Content: &text, AllowedMentions: noMentions(),
			}, a.opts(ctx)...)
			if err != nil {
				return bridges.Sent{}, a.interactionFailed(ir, wrapErr("edit interaction response", err, rec))
			}
			return bridges.Sent{ChatID: m.ChatID, ID: messageID(msg, "@original"), Ref: &sentRef{ir: ir, original: true}}, nil
		}
		msg, err := a.s.FollowupMessageCreate(ir.it, true, &discordgo.WebhookParams{
			Content: text, AllowedMentions: noMentions(), Flags: discordgo.MessageFlagsSuppressEmbeds,
		}, a.opts(ctx)...)
		if err != nil {
			return bridges.Sent{}, a.interactionFailed(ir, wrapErr("send follow-up message", err, rec))
		}
		if msg == nil || msg.ID == "" {
			return bridges.Sent{}, errors.New("send follow-up message: no message in the answer")
		}
		return bridges.Sent{ChatID: m.ChatID, ID: msg.ID, Ref: &sentRef{ir: ir}}, nil
	} else if ok {
		return a.sendToChannel(ctx, rec, m.ChatID, nil, text)
	}

	ref, _ := m.Ref.(*msgRef)
	channel := m.ChatID
	if id := ref.threadID(); id != "" {
		channel = id
	} else if out.Part == 0 && !out.Plain {
		// The first reply starts the thread the question wants (the
		// bridge's own notices, plain, go to the channel).
		var err error
		if channel, err = a.startThread(ctx, m, ref); err != nil {
			return bridges.Sent{}, err
		}
	}
	var reference *discordgo.MessageReference
	if out.Part == 0 && m.ID != "" {
		// A reply must live in the question's channel; an answer in a
		// thread started from the question needs no reference.
		qchan := m.ChatID
		if ref != nil {
			qchan = ref.channelID
		}
		if qchan == channel {
			fail := false
			reference = &discordgo.MessageReference{MessageID: m.ID, ChannelID: channel, FailIfNotExists: &fail}
		}
	}
	return a.sendToChannel(ctx, rec, channel, reference, text)
}

// sendToChannel posts text in channel, replying to reference if set.
func (a *Adapter) sendToChannel(ctx context.Context, rec *recorder, channel string, reference *discordgo.MessageReference, text string) (bridges.Sent, error) {
	msg, err := a.s.ChannelMessageSendComplex(channel, &discordgo.MessageSend{
		Content:         text,
		AllowedMentions: noMentions(),
		Flags:           discordgo.MessageFlagsSuppressEmbeds,
		Reference:       reference,
	}, a.opts(withBooking(ctx, bookedByCore))...)
	if err != nil {
		return bridges.Sent{}, lasting(wrapErr("send message", err, rec), false)
	}
	if msg == nil || msg.ID == "" {
		return bridges.Sent{}, errors.New("send message: no message in the answer")
	}
	return bridges.Sent{ChatID: channel, ID: msg.ID}, nil
}

// interactionFailed handles the error of a post through an interaction:
// when Discord no longer takes its token, the interaction is marked gone
// and the error stays a passing one (the core retries, and the retry
// posts in the channel); other lasting refusals are returned as such.
func (a *Adapter) interactionFailed(ir *interactionRef, err error) error {
	if interactionGone(err) {
		if !ir.gone.Swap(true) {
			a.log.Info("the slash command's interaction is gone; answering in the channel instead", "err", err)
		}
		return err
	}
	return lasting(err, false)
}

func messageID(m *discordgo.Message, def string) string {
	if m == nil || m.ID == "" {
		return def
	}
	return m.ID
}

// Edit implements bridges.Platform. Editing to unchanged text succeeds
// (Discord answers 200). A message of an interaction whose token expired
// or was refused is message_deleted (no request when the clock says so):
// the core posts the rest anew, which Send puts in the channel.
func (a *Adapter) Edit(ctx context.Context, s bridges.Sent, out bridges.Out) error {
	text := render(out.Text, out.Plain)
	ctx, rec := withRecorder(ctx)
	if sr, ok := s.Ref.(*sentRef); ok {
		if !sr.ir.usable(a.now()) {
			return &bridges.PermanentError{Reason: bridges.ReasonMessageDeleted,
				Err: errors.New("edit interaction message: the interaction's token has expired")}
		}
		edit := &discordgo.WebhookEdit{Content: &text, AllowedMentions: noMentions()}
		var err error
		if sr.original {
			_, err = a.s.InteractionResponseEdit(sr.ir.it, edit, a.opts(ctx)...)
		} else {
			_, err = a.s.FollowupMessageEdit(sr.ir.it, s.ID, edit, a.opts(ctx)...)
		}
		err = wrapErr("edit interaction message", err, rec)
		if interactionGone(err) && !sr.ir.gone.Swap(true) {
			a.log.Info("the slash command's interaction is gone; answering in the channel instead", "err", err)
		}
		return lasting(err, true)
	}
	_, err := a.s.ChannelMessageEditComplex(&discordgo.MessageEdit{
		ID:              s.ID,
		Channel:         s.ChatID,
		Content:         &text,
		AllowedMentions: noMentions(),
		Flags:           discordgo.MessageFlagsSuppressEmbeds,
	}, a.opts(withBooking(ctx, bookedByCore))...)
	return lasting(wrapErr("edit message", err, rec), true)
}

// Typing implements bridges.Typer. A slash command needs none: Discord
// shows "thinking…" for the deferred response. The core booked its slot
// on the global budget; when the channel's typing window or the global
// one is full, the indicator is skipped (an error, nothing sent).
func (a *Adapter) Typing(ctx context.Context, m *bridges.Message) error {
	if ir, ok := m.Ref.(*interactionRef); ok && ir.usable(a.now()) {
		return nil
	}
	channel := m.ChatID
	if r, ok := m.Ref.(*msgRef); ok {
		if id := r.threadID(); id != "" {
			channel = id // before the thread exists, typing shows in the channel
		}
	}
	ctx, rec := withRecorder(withBooking(ctx, typingSlot))
	return wrapErr("typing", a.s.ChannelTyping(channel, a.opts(ctx)...), rec)
}

// Delete implements bridges.Deleter.
func (a *Adapter) Delete(ctx context.Context, s bridges.Sent) error {
	ctx, rec := withRecorder(ctx)
	if sr, ok := s.Ref.(*sentRef); ok {
		if sr.original {
			return lasting(wrapErr("delete interaction response", a.s.InteractionResponseDelete(sr.ir.it, a.opts(ctx)...), rec), true)
		}
		return lasting(wrapErr("delete follow-up message", a.s.FollowupMessageDelete(sr.ir.it, s.ID, a.opts(ctx)...), rec), true)
	}
	return lasting(wrapErr("delete message", a.s.ChannelMessageDelete(s.ChatID, s.ID, a.opts(withBooking(ctx, bookedByCore))...), rec), true)
}

// React implements bridges.Reactor on channel messages (an interaction has
// no message to react to).
func (a *Adapter) React(ctx context.Context, m *bridges.Message, emoji string) error {
	if _, ok := m.Ref.(*interactionRef); ok {
		return errors.New("react: a slash command has no message to react to")
	}
	ctx, rec := withRecorder(ctx)
	return wrapErr("add reaction", a.s.MessageReactionAdd(m.ChatID, m.ID, emoji, a.opts(ctx)...), rec)
}
