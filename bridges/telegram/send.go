package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// maxLen is the longest reply text the adapter accepts, in UTF-16 units:
// Telegram's 4096 "after entities parsing" minus a margin for what the
// rendering adds (list bullets, table separators).
const maxLen = 4000

// telegramMax is Telegram's own limit, in UTF-16 units.
const telegramMax = 4096

// Limits implements bridges.Platform: 4000 UTF-16 units per message; one
// request per 1.1 s per reply in a private chat and 3.1 s in a group; every
// reply in a chat shares that chat's budget (1/s private, 20/min group)
// under the bot-wide one (30/s); intermediate edits are plain text.
func (a *Adapter) Limits(m *bridges.Message) bridges.Limits {
	l := bridges.Limits{
		MaxLen:      maxLen,
		Unit:        bridges.UTF16,
		StreamPlain: true,
		TypingEvery: 4 * time.Second,
	}
	chat := bridges.Budget{Key: "telegram/" + a.cfg.name() + "/chat/" + m.ChatID}
	if m.Private {
		l.EditInterval = a.timing.privateEdit
		chat.Every, chat.Burst = a.timing.privateEvery, a.timing.privateBurst
	} else {
		l.EditInterval = a.timing.groupEdit
		chat.Every, chat.Burst = a.timing.groupEvery, a.timing.groupBurst
		chat.Window, chat.Max = 20*a.timing.groupEvery, 20 // 20 in any minute
	}
	l.Budgets = []bridges.Budget{chat, a.botBudget()}
	return l
}

// botBudget is the bot-wide budget every request of the bot draws from.
func (a *Adapter) botBudget() bridges.Budget {
	n := 30 // in any second (or bot_rate)
	if a.cfg.BotRate > 0 {
		n = a.cfg.BotRate
	}
	return bridges.Budget{Key: "telegram/" + a.cfg.name(), Every: a.timing.botEvery, Burst: a.timing.botBurst,
		Window: a.timing.botEvery * time.Duration(n) * 100 / 107, Max: n}
}

// render returns the text and parse_mode for out: HTML for a final,
// formatted text; plain text otherwise.
func render(out bridges.Out) (string, string) {
	if !out.Plain && out.Final {
		// Rendering can lengthen the visible text (table separators); a
		// rendering over Telegram's limit goes out as the plain source.
		if h := RenderHTML(out.Text); h != "" && visibleLen(h) <= telegramMax {
			return h, "HTML"
		}
	}
	t := truncateUTF16(out.Text, telegramMax)
	if strings.TrimSpace(t) == "" {
		t = "…" // Telegram rejects empty text
	}
	return t, ""
}

// visibleLen is the length in UTF-16 units of rendered HTML as Telegram
// counts it: tags removed, each entity one character.
func visibleLen(h string) int {
	n := 0
	for i := 0; i < len(h); {
		switch h[i] {
		case '<':
			if j := strings.IndexByte(h[i:], '>'); j >= 0 {
				i += j + 1
				continue
			}
		case '&':
			if j := strings.IndexByte(h[i:], ';'); j >= 0 {
				n++ // &lt; &gt; &amp; &quot;
				if ent := h[i+1 : i+j]; strings.HasPrefix(ent, "#") {
					n++ // a numeric reference may be a surrogate pair: count it high
				}
				i += j + 1
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(h[i:])
		n += utf16.RuneLen(r)
		i += size
	}
	return n
}

// truncateUTF16 cuts s to at most n UTF-16 units, never inside a rune.
func truncateUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i]
		}
	}
	return s
}

// textParams are the parameters of a message text: rendering, no link
// previews (both the Bot API 7.0 and the older parameter).
func textParams(p tgbotapi.Params, out bridges.Out) {
	text, mode := render(out)
	p["text"] = text
	if mode != "" {
		p["parse_mode"] = mode
	}
	p["link_preview_options"] = `{"is_disabled":true}`
	p["disable_web_page_preview"] = "true"
}

// Send implements bridges.Platform: one sendMessage in m's chat and forum
// topic; part 0 replies to m. A group upgraded to a supergroup (Telegram
// refused an earlier send with migrate_to_chat_id, a passing error) gets
// it in the supergroup, where m itself is not, so not as a reply.
func (a *Adapter) Send(ctx context.Context, m *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	chat := a.chatFor(m.ChatID)
	p := tgbotapi.Params{"chat_id": chat}
	if m.ThreadID != "" {
		p["message_thread_id"] = m.ThreadID
	}
	if out.Part == 0 && m.ID != "" && chat == m.ChatID {
		p["reply_parameters"] = `{"message_id":` + m.ID + `,"allow_sending_without_reply":true}`
	}
	textParams(p, out)
	res, err := a.call(ctx, "sendMessage", p)
	if err != nil {
		a.noteMigration(chat, err)
		return bridges.Sent{}, fmt.Errorf("send message: %w", classify(err))
	}
	var msg tgbotapi.Message
	if err := decodeResult(res, &msg); err != nil {
		return bridges.Sent{}, fmt.Errorf("send message: %w", err)
	}
	return bridges.Sent{ChatID: chat, ID: strconv.Itoa(msg.MessageID)}, nil
}

// Edit implements bridges.Platform: one editMessageText; "message is not
// modified" is success.
func (a *Adapter) Edit(ctx context.Context, s bridges.Sent, out bridges.Out) error {
	p := tgbotapi.Params{"chat_id": s.ChatID, "message_id": s.ID}
	textParams(p, out)
	if _, err := a.call(ctx, "editMessageText", p); err != nil {
		if notModified(err) {
			return nil
		}
		a.noteMigration(s.ChatID, err)
		return fmt.Errorf("edit message: %w", classify(err))
	}
	return nil
}

// Typing implements bridges.Typer with sendChatAction "typing" (shown for
// about 5 s) in m's chat and forum topic.
func (a *Adapter) Typing(ctx context.Context, m *bridges.Message) error {
	p := tgbotapi.Params{"chat_id": m.ChatID, "action": "typing"}
	if m.ThreadID != "" {
		p["message_thread_id"] = m.ThreadID
	}
	if _, err := a.call(ctx, "sendChatAction", p); err != nil {
		return fmt.Errorf("typing: %w", classify(err))
	}
	return nil
}

// Delete implements bridges.Deleter.
func (a *Adapter) Delete(ctx context.Context, s bridges.Sent) error {
	if _, err := a.call(ctx, "deleteMessage", tgbotapi.Params{"chat_id": s.ChatID, "message_id": s.ID}); err != nil {
		return fmt.Errorf("delete message: %w", classify(err))
	}
	return nil
}

// noteMigration records a group → supergroup migration Telegram reports
// in an error, so that the next message keeps the conversation.
func (a *Adapter) noteMigration(chatID string, err error) {
	if to := migratedTo(err); to != 0 {
		if from, perr := strconv.ParseInt(chatID, 10, 64); perr == nil {
			a.recordMigration(from, to)
		}
	}
}

// OpenStream implements bridges.Streamer with sendMessageDraft in private
// chats when drafts are on.
func (a *Adapter) OpenStream(ctx context.Context, m *bridges.Message) (bridges.NativeStream, error) {
	if !a.cfg.drafts() || !m.Private || a.draftsBroken.Load() {
		return nil, bridges.ErrNoStream
	}
	return &draftStream{a: a, m: *m, id: draftID(m)}, nil
}

// draftID is the draft_id of m's answer: m's own message ID, unique in
// its chat and the same after a restart and for an edit of m, so that a
// resumed or restarted answer continues the draft already shown instead
// of starting a second one. A message without a numeric ID gets a random
// one.
func draftID(m *bridges.Message) int64 {
	if id, err := strconv.ParseInt(m.ID, 10, 64); err == nil && id > 0 {
		return id
	}
	return rand.Int64N(1<<31-2) + 1
}

// draftStream is one reply streamed as an animated draft; its final text
// is one real message.
type draftStream struct {
	a  *Adapter
	m  bridges.Message
	id int64 // draft_id: non-zero, the same for every update

	mu   sync.Mutex
	sent *bridges.Sent
}

// Limits implements bridges.NativeStream: drafts cost nothing of the
// chat's message budget; they draw from a draft budget of their own (so
// that a 429 on a draft pauses only that chat's drafts) and a bot-wide
// draft budget, separate from the one real messages use.
func (s *draftStream) Limits() bridges.Limits {
	drafts := bridges.Budget{Key: "telegram/" + s.a.cfg.name() + "/drafts/" + s.m.ChatID, Every: s.a.timing.draftEdit}
	// Drafts do not count against the chat's message budget; they get a
	// bot-wide pace of their own, so they never delay real messages.
	allDrafts := bridges.Budget{Key: "telegram/" + s.a.cfg.name() + "/drafts", Every: s.a.timing.botEvery}
	return bridges.Limits{
		MaxLen:       maxLen,
		Unit:         bridges.UTF16,
		EditInterval: s.a.timing.draftEdit,
		Budgets:      []bridges.Budget{drafts, allDrafts},
		StreamPlain:  true,
		TypingEvery:  4 * time.Second,
	}
}

// Update implements bridges.NativeStream with one sendMessageDraft.
func (s *draftStream) Update(ctx context.Context, text string) error {
	text = truncateUTF16(text, telegramMax)
	if strings.TrimSpace(text) == "" {
		return nil
	}
	p := tgbotapi.Params{
		"chat_id":  s.m.ChatID,
		"draft_id": strconv.FormatInt(s.id, 10),
		"text":     text,
	}
	if s.m.ThreadID != "" {
		p["message_thread_id"] = s.m.ThreadID
	}
	if _, err := s.a.call(ctx, "sendMessageDraft", p); err != nil {
		if draftsUnsupported(err) && !s.a.draftsBroken.Swap(true) {
			s.a.log.Warn("the Bot API server does not support sendMessageDraft; drafts are off for this instance until restart", "err", err)
		}
		return fmt.Errorf("send draft: %w", classify(err))
	}
	return nil
}

// Finish implements bridges.NativeStream: the final text is one real
// message replying to the question (the draft disappears).
func (s *draftStream) Finish(ctx context.Context, out bridges.Out) (bridges.Sent, error) {
	sent, err := s.a.Send(ctx, &s.m, out)
	if err != nil {
		return bridges.Sent{}, err
	}
	s.mu.Lock()
	s.sent = &sent
	s.mu.Unlock()
	return sent, nil
}

// Message implements bridges.NativeStream: a draft is not a message, so
// there is one only after Finish.
func (s *draftStream) Message() (bridges.Sent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent == nil {
		return bridges.Sent{}, false
	}
	return *s.sent, true
}

// React implements bridges.Reactor with setMessageReaction. Telegram
// allows only its own set of reaction emoji, so a warning becomes 🤷.
func (a *Adapter) React(ctx context.Context, m *bridges.Message, emoji string) error {
	if emoji == "⚠️" || emoji == "⚠" {
		emoji = "🤷"
	}
	reaction, _ := json.Marshal([]map[string]string{{"type": "emoji", "emoji": emoji}})
	if _, err := a.call(ctx, "setMessageReaction", tgbotapi.Params{
		"chat_id": m.ChatID, "message_id": m.ID, "reaction": string(reaction),
	}); err != nil {
		return fmt.Errorf("react: %w", classify(err))
	}
	return nil
}
