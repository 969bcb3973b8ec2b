package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// offsetKey is where the confirmed getUpdates offset lives in the KV.
const offsetKey = "offset"

// allowedUpdates are the update kinds the bridge asks for: new messages
// and new texts of messages (an edited question restarts its answer).
const allowedUpdates = `["message","edited_message"]`

// update is an Update with the fields tgbotapi v5.5.1 lacks.
type update struct {
	tgbotapi.Update
	extra
}

// extra holds the newer Message fields, decoded from the same JSON.
type extra struct {
	MessageThreadID int  `json:"message_thread_id"`
	IsTopicMessage  bool `json:"is_topic_message"`
}

// decodeUpdate decodes one update twice: into the library's type and into
// the fields it drops.
func decodeUpdate(raw []byte) (update, error) {
	var u update
	if err := json.Unmarshal(raw, &u.Update); err != nil {
		return u, err
	}
	var x struct {
		Message       *extra `json:"message"`
		EditedMessage *extra `json:"edited_message"`
	}
	if err := json.Unmarshal(raw, &x); err != nil {
		return u, err
	}
	switch {
	case x.Message != nil:
		u.extra = *x.Message
	case x.EditedMessage != nil:
		u.extra = *x.EditedMessage
	}
	return u, nil
}

// pollerRole is the cluster job of the one replica that polls getUpdates.
func (a *Adapter) pollerRole() string { return "telegram/" + a.cfg.name() + "/poller" }

// poll receives by long polling. Alone (no Deps.Leader) it is pollLoop. In
// cluster mode only the replica leading pollerRole polls (Telegram allows
// one getUpdates at a time per bot); the others ask for the role every
// leaderEvery and meanwhile count as connected, since getMe proved the
// token and they send answers. The leader polls from the offset in the
// shared KV and stops when it loses the role; an update polled twice
// around a takeover is deduplicated by the core's accept.
func (a *Adapter) poll(ctx context.Context, h bridges.Handler) error {
	if a.leader == nil {
		return a.pollLoop(ctx, h, nil)
	}
	role := a.pollerRole()
	still := func() bool { return a.leader(role) }
	a.connected.Store(true)
	defer a.connected.Store(false)
	for ctx.Err() == nil {
		if a.leader(role) {
			a.log.Info("cluster: this replica polls getUpdates", "role", role)
			if err := a.pollLoop(ctx, h, still); err != nil {
				return err
			}
			if ctx.Err() != nil {
				break
			}
			a.log.Info("cluster: lost the poller role; another replica polls", "role", role)
			a.connected.Store(true)
		}
		if !bridges.Sleep(ctx, a.timing.leaderEvery) {
			break
		}
	}
	return nil
}

// pollLoop is the long-polling loop. It confirms (and persists) an offset
// only once the handler accepted every update before it. With still set it
// polls again only while still reports true.
func (a *Adapter) pollLoop(ctx context.Context, h bridges.Handler, still func() bool) error {
	// A webhook left from webhook mode makes getUpdates fail with 409.
	if _, err := a.call(ctx, "deleteWebhook", tgbotapi.Params{"drop_pending_updates": "false"}); err != nil && ctx.Err() == nil {
		a.log.Warn("deleteWebhook failed", "err", err)
	}
	offset := a.loadOffset()
	delay := a.timing.backoff
	// getMe proved the token and the loop runs: the first long poll in
	// flight counts as connected.
	a.connected.Store(true)
	if still == nil {
		defer a.connected.Store(false)
	}
	for ctx.Err() == nil && (still == nil || still()) {
		a.pollSince.Store(time.Now().UnixNano())
		batch, err := a.getUpdates(ctx, offset)
		a.pollSince.Store(0)
		a.connected.Store(err == nil)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.lastErr.set(err, time.Now())
			if fatal := fatalError(err); fatal != nil {
				return fatal
			}
			wait := delay
			var rl *bridges.RateLimitError
			switch {
			case isConflict(err):
				a.log.Error("getUpdates conflict: another instance is polling with this token (or a webhook is set); only one may receive updates", "err", err)
				wait = max(wait, 5*a.timing.backoff)
			case errors.As(classify(err), &rl):
				wait = max(wait, rl.RetryAfter)
				a.log.Warn("getUpdates rate limited", "retry_after", rl.RetryAfter)
			default:
				a.log.Warn("getUpdates failed, retrying", "err", err, "in", wait)
			}
			if !bridges.Sleep(ctx, wait) {
				break
			}
			delay = min(2*delay, a.timing.maxBackoff)
			continue
		}
		delay = a.timing.backoff
		next, err := a.dispatch(ctx, h, batch, offset)
		if next != offset {
			offset = next
			a.saveOffset(offset)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// Not accepted: poll again from the unconfirmed update.
			a.log.Warn("message not accepted, will retry", "err", err)
			if !bridges.Sleep(ctx, a.timing.backoff) {
				break
			}
		}
	}
	return nil
}

// dispatch passes the batch to h in order and returns the offset that
// confirms the updates h accepted.
func (a *Adapter) dispatch(ctx context.Context, h bridges.Handler, batch []update, offset int) (int, error) {
	for _, u := range batch {
		if err := a.handleUpdate(ctx, h, u); err != nil {
			return offset, err
		}
		offset = u.UpdateID + 1
	}
	return offset, nil
}

func (a *Adapter) getUpdates(ctx context.Context, offset int) ([]update, error) {
	pt := a.cfg.pollTimeout()
	p := tgbotapi.Params{
		"timeout":         strconv.Itoa(int((pt + time.Second - 1) / time.Second)),
		"allowed_updates": allowedUpdates,
	}
	if offset != 0 {
		p["offset"] = strconv.Itoa(offset)
	}
	ctx, cancel := context.WithTimeout(ctx, pt+15*time.Second)
	defer cancel()
	res, err := a.call(ctx, "getUpdates", p)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := decodeResult(res, &raws); err != nil {
		return nil, err
	}
	batch := make([]update, 0, len(raws))
	for _, raw := range raws {
		u, err := decodeUpdate(raw)
		if err != nil {
			// Skip an update we cannot read rather than stall on it.
			var id struct {
				UpdateID int `json:"update_id"`
			}
			_ = json.Unmarshal(raw, &id)
			a.log.Warn("undecodable update skipped", "update_id", id.UpdateID, "err", err)
			u = update{Update: tgbotapi.Update{UpdateID: id.UpdateID}}
		}
		batch = append(batch, u)
	}
	return batch, nil
}

// loadOffset returns the stored offset, 0 when none. A store that cannot
// be read, or a stored value that is no offset, is logged as an error:
// polling then starts from the oldest update Telegram still holds, so a
// message may be answered again, but none is lost. A corrupt value is
// removed (the next confirmed batch stores a good one).
func (a *Adapter) loadOffset() int {
	b, ok, err := a.kv.Get(offsetKey)
	if err != nil {
		a.log.Error("read the stored update offset; polling from the oldest update Telegram holds (some messages may be answered again)", "err", err)
		return 0
	}
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		a.log.Error("the stored update offset is corrupt; polling from the oldest update Telegram holds (some messages may be answered again)",
			"value", fmt.Sprintf("%.32q", b))
		if err := a.kv.Delete(offsetKey); err != nil {
			a.log.Error("remove the corrupt update offset", "err", err)
		}
		return 0
	}
	return n
}

func (a *Adapter) saveOffset(offset int) {
	if err := a.kv.Put(offsetKey, []byte(strconv.Itoa(offset))); err != nil {
		a.log.Error("store update offset; a restart may answer some messages again", "err", err)
	}
}

// handleUpdate translates u and, when it passes the filters, hands it to h.
// A nil error means u is done with (handled or ignored).
func (a *Adapter) handleUpdate(ctx context.Context, h bridges.Handler, u update) error {
	m, ok := a.translate(u)
	if !ok {
		return nil
	}
	return h.Handle(ctx, m)
}

// translate turns an update into a bridges.Message; ok is false when the
// update is not for the bridge.
func (a *Adapter) translate(u update) (bridges.Message, bool) {
	msg, edited := u.Message, false
	if msg == nil {
		msg, edited = u.EditedMessage, true
	}
	if msg == nil || msg.Chat == nil {
		return bridges.Message{}, false
	}
	chat := msg.Chat
	if msg.MigrateToChatID != 0 {
		a.recordMigration(chat.ID, msg.MigrateToChatID)
		return bridges.Message{}, false
	}
	if msg.MigrateFromChatID != 0 {
		a.recordMigration(msg.MigrateFromChatID, chat.ID)
		return bridges.Message{}, false
	}
	if !a.chatAllowed(chat.ID) {
		a.log.Debug("message from a chat not in allowed_chats ignored", "chat", chat.ID)
		return bridges.Message{}, false
	}
	var userID int64
	var userName, locale string
	switch {
	case msg.SenderChat != nil && msg.SenderChat.ID == chat.ID:
		// An anonymous group admin writes as the group itself.
		userID, userName = chat.ID, chat.Title
	case msg.From == nil || msg.From.IsBot || msg.SenderChat != nil:
		return bridges.Message{}, false // bots (us included) and channels
	default:
		userID, userName, locale = msg.From.ID, msg.From.String(), msg.From.LanguageCode
	}
	text, entities := msg.Text, msg.Entities
	if text == "" {
		text, entities = msg.Caption, msg.CaptionEntities
	}
	nonText := false
	if strings.TrimSpace(text) == "" {
		// A picture, file, sticker or voice message without a caption:
		// the core says it reads text only. Anything else without text
		// (service messages) and an edit to no text are not for it.
		if edited || !hasMedia(msg) {
			return bridges.Message{}, false
		}
		text, entities, nonText = "", nil, true
	}
	me := a.me.Load()
	private := chat.IsPrivate()
	var mentioned, replyToBot, directed bool
	var command string
	thread := 0
	if u.IsTopicMessage {
		thread = u.MessageThreadID
	}

	t := utf16.Encode([]rune(text))
	var edits []span // replacements in t, in order
	for i, e := range entities {
		if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > len(t) {
			continue
		}
		s := string(utf16.Decode(t[e.Offset : e.Offset+e.Length]))
		switch e.Type {
		case "bot_command":
			if i != 0 || e.Offset != 0 {
				continue
			}
			name, target, _ := strings.Cut(s[1:], "@")
			if target != "" && (me == nil || !strings.EqualFold(target, me.UserName)) {
				return bridges.Message{}, false // a command for another bot
			}
			name = strings.ToLower(name)
			command, directed = name, target != ""
			edits = append(edits, span{e.Offset, e.Offset + e.Length, "/" + name})
		case "mention":
			if me != nil && strings.EqualFold(s, "@"+me.UserName) {
				mentioned = true
				edits = append(edits, span{e.Offset, e.Offset + e.Length, ""})
			}
		case "text_mention":
			if me != nil && e.User != nil && e.User.ID == me.ID {
				mentioned = true
				edits = append(edits, span{e.Offset, e.Offset + e.Length, ""})
			}
		}
	}
	// In a forum topic every message "replies" to the topic's first
	// message; only a real reply counts.
	var replied *repliedMsg
	if r := msg.ReplyToMessage; r != nil && !(u.IsTopicMessage && r.MessageID == u.MessageThreadID) {
		replied = a.replied(r, me)
		replyToBot = replied.FromBot
	}
	text = applySpans(t, edits)
	if text == "" && !nonText {
		return bridges.Message{}, false // only "@bot": nothing to ask
	}
	m := bridges.Message{
		Key:        a.conversationKey(chat.ID, thread),
		ID:         strconv.Itoa(msg.MessageID),
		ChatID:     strconv.FormatInt(chat.ID, 10),
		UserID:     strconv.FormatInt(userID, 10),
		UserName:   userName,
		Text:       text,
		Private:    private,
		Mentioned:  mentioned,
		ReplyToBot: replyToBot,
		Command:    command,
		Directed:   directed,
		Time:       msg.Time(),
		Locale:     locale,
		NonText:    nonText,
		Edited:     edited,
		// A reply to someone's message, or a message in a forum topic,
		// is written in a thread the bot has not read (ThreadHistory).
		InThread: (replied != nil && !replied.FromBot) || thread != 0,
	}
	if thread != 0 {
		m.ThreadID = strconv.Itoa(thread)
	}
	if replied != nil {
		m.ReplyToID = strconv.Itoa(replied.ID)
		m.Ref = &msgRef{Reply: replied}
	}
	if thread != 0 && !edited && !nonText {
		a.topics.add(chat.ID, thread, msg.MessageID, bridges.ThreadMessage{Author: userName, Text: text, Time: m.Time})
	}
	return m, true
}

// hasMedia reports a message carrying a picture, file, sticker, voice or
// video.
func hasMedia(msg *tgbotapi.Message) bool {
	return len(msg.Photo) > 0 || msg.Document != nil || msg.Sticker != nil || msg.Voice != nil ||
		msg.Audio != nil || msg.Video != nil || msg.VideoNote != nil || msg.Animation != nil
}

// replied returns the message r that a message replies to, as Telegram
// sent it along: whether it is the bot's own, its author and its text
// (or caption) with the bot's mentions removed.
func (a *Adapter) replied(r *tgbotapi.Message, me *tgbotapi.User) *repliedMsg {
	out := &repliedMsg{ID: r.MessageID, Date: int64(r.Date)}
	switch {
	case r.From != nil && me != nil && r.From.ID == me.ID:
		out.FromBot, out.Author = true, me.String()
	case r.From != nil:
		out.Author = r.From.String()
	case r.SenderChat != nil:
		out.Author = r.SenderChat.Title
	}
	text, entities := r.Text, r.Entities
	if text == "" {
		text, entities = r.Caption, r.CaptionEntities
	}
	out.Text = stripMentions(text, entities, me)
	return out
}

// stripMentions removes the bot's mentions from text.
func stripMentions(text string, entities []tgbotapi.MessageEntity, me *tgbotapi.User) string {
	if me == nil || text == "" {
		return text
	}
	t := utf16.Encode([]rune(text))
	var edits []span
	for _, e := range entities {
		if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > len(t) {
			continue
		}
		s := string(utf16.Decode(t[e.Offset : e.Offset+e.Length]))
		if (e.Type == "mention" && strings.EqualFold(s, "@"+me.UserName)) ||
			(e.Type == "text_mention" && e.User != nil && e.User.ID == me.ID) {
			edits = append(edits, span{e.Offset, e.Offset + e.Length, ""})
		}
	}
	if len(edits) == 0 {
		return text
	}
	return applySpans(t, edits)
}

// span replaces t[from:to] with repl.
type span struct {
	from, to int
	repl     string
}

// applySpans applies the replacements (the normalised command, the bot's
// mentions removed) to t. When a mention was removed it tidies the spaces
// and punctuation left behind.
func applySpans(t []uint16, edits []span) string {
	var b strings.Builder
	prev, removed := 0, false
	for _, e := range edits {
		if e.from < prev {
			continue
		}
		b.WriteString(string(utf16.Decode(t[prev:e.from])))
		if e.repl == "" {
			b.WriteString(" ")
			removed = true
		}
		b.WriteString(e.repl)
		prev = e.to
	}
	b.WriteString(string(utf16.Decode(t[prev:])))
	s := b.String()
	if removed {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		s = strings.TrimSpace(strings.Join(lines, "\n"))
		s = strings.TrimSpace(strings.TrimLeft(s, ",:;"))
		s = strings.ReplaceAll(s, " ,", ",")
	}
	return strings.TrimSpace(s)
}

// chatAllowed applies allowed_chats; a migrated supergroup is allowed when
// its original group is.
func (a *Adapter) chatAllowed(chat int64) bool {
	if a.allowed == nil {
		return true
	}
	return a.allowed[chat] || a.allowed[a.originalChat(chat)]
}

// runWebhook sets the webhook and serves updates through serveWebhook until
// ctx ends.
func (a *Adapter) runWebhook(ctx context.Context, h bridges.Handler) error {
	var err error
	if a.leader != nil && !a.leader("telegram/"+a.cfg.name()+"/webhook") {
		a.log.Info("another replica sets the webhook") // cluster mode
	} else {
		err = a.retrying(ctx, true, "setWebhook", func() error {
			_, err := a.call(ctx, "setWebhook", tgbotapi.Params{
				"url":             a.cfg.WebhookURL,
				"secret_token":    a.secret,
				"allowed_updates": allowedUpdates,
			})
			if err != nil && ctx.Err() == nil {
				a.lastErr.set(err, time.Now())
			}
			return err
		})
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.running.Store(&runState{ctx: ctx, h: h})
	defer a.running.Store(nil)
	a.connected.Store(true)
	defer a.connected.Store(false)
	a.log.Info("webhook set", "path", a.hookPath)
	<-ctx.Done()
	return nil
}

// serveWebhook receives one update from Telegram. A wrong secret token is
// answered 401 and not handled; an update the handler did not accept is
// answered 503 so that Telegram delivers it again.
func (a *Adapter) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.secret)) != 1 {
		a.log.Warn("webhook request with a wrong secret token rejected", "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	st := a.running.Load()
	if st == nil {
		http.Error(w, "not running", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	u, err := decodeUpdate(body)
	if err != nil {
		a.log.Warn("undecodable webhook update", "err", err)
		w.WriteHeader(http.StatusOK) // a redelivery would not decode either
		return
	}
	// In cluster mode (a.leader set) the core's atomic accept dedupes: a
	// mark here, left by a replica that died before accepting, would
	// drop the redelivery another replica gets.
	if a.leader == nil && a.claim(u.UpdateID) {
		w.WriteHeader(http.StatusOK) // a redelivery of an update handled before
		return
	}
	if err := a.handleUpdate(st.ctx, st.h, u); err != nil {
		a.release(u.UpdateID)
		http.Error(w, "not accepted", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// dedupeTTL is how long webhook update IDs are remembered: Telegram keeps
// an update it could not deliver for 24 hours.
const dedupeTTL = 24 * time.Hour

// claim records a webhook update in the KV (so that the mark outlives a
// restart and is shared by replicas) and reports whether it was handled
// before, unless a refused hand-over released it. A KV that fails is
// logged and the update handled: better twice than never.
func (a *Adapter) claim(id int) bool {
	key := "update/" + strconv.Itoa(id)
	seen, err := a.kv.Seen(key, dedupeTTL)
	if err != nil {
		a.log.Error("webhook dedupe: the store failed; handling the update (a redelivery may be answered twice)", "err", err, "update_id", id)
		return false
	}
	if !seen {
		return false
	}
	_, retry, err := a.kv.Get("retry/" + key)
	if err != nil {
		a.log.Error("webhook dedupe: the store failed; handling the update (a redelivery may be answered twice)", "err", err, "update_id", id)
		return false
	}
	if !retry {
		return true
	}
	if err := a.kv.Delete("retry/" + key); err != nil {
		a.log.Error("webhook dedupe: clear the redelivery mark", "err", err, "update_id", id)
	}
	return false
}

// release lets the next delivery of update id through: the handler
// refused it and Telegram will deliver it again.
func (a *Adapter) release(id int) {
	if err := a.kv.Put("retry/update/"+strconv.Itoa(id), []byte{1}); err != nil {
		a.log.Error("webhook dedupe: mark a refused update for redelivery; its redelivery will be dropped", "err", err, "update_id", id)
	}
}
