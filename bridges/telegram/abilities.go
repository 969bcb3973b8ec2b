package telegram

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// The optional abilities of issue 16: thread context, real admins and a
// status line.
var (
	_ bridges.ThreadReader = (*Adapter)(nil)
	_ bridges.AdminChecker = (*Adapter)(nil)
	_ bridges.StatusShower = (*Adapter)(nil)
)

// ThreadHistory implements bridges.ThreadReader. The Bot API cannot read
// a chat's history, so the thread is what Telegram sent along and what
// the adapter saw: the message m replies to (reply_to_message, kept in
// m.Ref) and, in a forum topic, the users' messages the adapter received
// there before m (a small in-memory ring, empty after a restart). Oldest
// first, at most max, the bot's own flagged FromBot and its mentions
// removed. It does no I/O.
func (a *Adapter) ThreadHistory(ctx context.Context, m *bridges.Message, max int) ([]bridges.ThreadMessage, error) {
	if max <= 0 {
		return nil, nil
	}
	id, _ := strconv.Atoi(m.ID)
	chat, _ := strconv.ParseInt(m.ChatID, 10, 64)
	var seen []seenMsg
	if thread, _ := strconv.Atoi(m.ThreadID); thread != 0 && id != 0 {
		seen = a.topics.before(chat, thread, id)
	}
	if r := refOf(m); r != nil && r.Reply != nil {
		dup := false
		for _, s := range seen {
			dup = dup || s.id == r.Reply.ID
		}
		if !dup {
			seen = append(seen, seenMsg{id: r.Reply.ID, tm: bridges.ThreadMessage{
				FromBot: r.Reply.FromBot, Author: r.Reply.Author, Text: r.Reply.Text, Time: time.Unix(r.Reply.Date, 0),
			}})
		}
	}
	sort.SliceStable(seen, func(i, j int) bool { return seen[i].id < seen[j].id })
	if len(seen) > max {
		seen = seen[len(seen)-max:]
	}
	out := make([]bridges.ThreadMessage, 0, len(seen))
	for _, s := range seen {
		if strings.TrimSpace(s.tm.Text) != "" {
			out = append(out, s.tm)
		}
	}
	return out, nil
}

// IsAdmin implements bridges.AdminChecker with getChatMember: the
// author administers the chat when Telegram says "creator" or
// "administrator". In a private chat the user is its only member
// besides the bot, and an anonymous admin (writing as the group) is an
// admin by definition: both without a request.
func (a *Adapter) IsAdmin(ctx context.Context, m *bridges.Message) (bool, error) {
	if m.Private || (m.UserID != "" && m.UserID == m.ChatID) {
		return true, nil
	}
	if m.UserID == "" || m.ChatID == "" {
		return false, nil
	}
	res, err := a.call(ctx, "getChatMember", tgbotapi.Params{"chat_id": m.ChatID, "user_id": m.UserID})
	if err != nil {
		return false, fmt.Errorf("get chat member: %w", classify(err))
	}
	var member struct {
		Status string `json:"status"`
	}
	if err := decodeResult(res, &member); err != nil {
		return false, fmt.Errorf("get chat member: %w", err)
	}
	return member.Status == "creator" || member.Status == "administrator", nil
}

// errNoStatus is ShowStatus's answer where a status line is not cheap:
// outside private chats, or with drafts off.
var errNoStatus = errors.New("telegram: a status line needs a private chat with drafts on")

// ShowStatus implements bridges.StatusShower with one sendMessageDraft
// under the answer's own draft_id, so that the answer's first draft
// replaces the status line (a draft is never a message, so it cannot stay
// in the final). Only in private chats with drafts on; elsewhere the
// typing indicator stays.
func (a *Adapter) ShowStatus(ctx context.Context, m *bridges.Message, text string) error {
	if !a.cfg.drafts() || !m.Private || a.draftsBroken.Load() {
		return errNoStatus
	}
	s := &draftStream{a: a, m: *m, id: draftID(m)}
	return s.Update(ctx, text)
}
