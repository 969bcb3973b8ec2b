package telegramtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Entity is a message entity (a mention, a bot command).
type Entity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"` // in UTF-16 units
	Length int    `json:"length"`
	User   *User  `json:"user,omitempty"`
}

// In is a message a user writes.
type In struct {
	Chat     int64
	ChatType string // "private" (the default for Chat > 0), "group", "supergroup" (the default for Chat < 0)
	Title    string // the group's title; empty means "Group"
	From     int64  // the user; 0 means Chat
	Name     string // the user's first name and username; empty means "user<From>"
	Lang     string // the user's language_code; empty means none
	IsBot    bool
	Text     string
	Entities []Entity
	ReplyTo  int  // message ID replied to
	Thread   int  // forum topic (message_thread_id)
	Topic    bool // is_topic_message
	// Raw fields are set on the message as they are (migrate_to_chat_id).
	Raw map[string]any
}

// Queue adds the update of a user's message and returns the message's ID.
// Long polling receives it; with a webhook set it is posted to the
// webhook.
func (s *Server) Queue(m In) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.ChatType == "" {
		m.ChatType = chatType(m.Chat)
	}
	if m.From == 0 {
		m.From = m.Chat
	}
	if m.Name == "" {
		m.Name = "user" + strconv.FormatInt(m.From, 10)
	}
	if m.Title == "" {
		m.Title = "Group"
	}
	id := s.newMsgIDLocked(m.Chat)
	now := s.now()
	chat := map[string]any{"id": m.Chat, "type": m.ChatType}
	if m.ChatType != "private" {
		chat["title"] = m.Title
	} else {
		chat["first_name"] = m.Name
	}
	from := map[string]any{"id": m.From, "is_bot": m.IsBot, "first_name": m.Name, "username": m.Name}
	if m.Lang != "" {
		from["language_code"] = m.Lang
	}
	msg := map[string]any{"message_id": id, "date": now.Unix(), "chat": chat, "from": from}
	if m.Text != "" {
		msg["text"] = m.Text
	}
	if len(m.Entities) > 0 {
		msg["entities"] = m.Entities
	}
	if m.ReplyTo != 0 {
		r := map[string]any{"message_id": m.ReplyTo, "date": now.Unix(), "chat": chat}
		switch orig := s.findLocked(m.Chat, m.ReplyTo); {
		case orig != nil && orig.FromBot:
			r["from"] = s.bot
			r["text"] = orig.Text
		case orig != nil:
			r["from"] = map[string]any{"id": orig.From, "is_bot": false, "first_name": orig.Name, "username": orig.Name}
			if orig.Text != "" {
				r["text"] = orig.Text
			}
			if um := s.userMsgs[[2]int64{m.Chat, int64(m.ReplyTo)}]; um != nil && um["entities"] != nil && orig.Text == um["text"] {
				r["entities"] = um["entities"]
			}
		default:
			r["from"] = map[string]any{"id": 777, "is_bot": false, "first_name": "someone"}
		}
		msg["reply_to_message"] = r
	}
	if m.Thread != 0 {
		msg["message_thread_id"] = m.Thread
		if m.Topic {
			msg["is_topic_message"] = true
		}
	}
	for k, v := range m.Raw {
		msg[k] = v
	}
	s.msgs[m.Chat] = append(s.msgs[m.Chat], &Message{ID: id, Chat: m.Chat, Thread: m.Thread, From: m.From, Name: m.Name,
		Text: m.Text, Raw: m.Text, Versions: []string{m.Text}})
	s.timeline[m.Chat] = append(s.timeline[m.Chat], Event{At: now, Kind: "user", MessageID: id, Text: m.Text})
	s.queueLocked(map[string]any{"message": msg})
	s.userMsgs[[2]int64{m.Chat, int64(id)}] = msg
	return id
}

// EditUser queues the edited_message update of a user's message queued
// before: the same message with text as its new text and entities (none
// when not given), and edit_date set. It returns the update_id, 0 when
// there is no such message.
func (s *Server) EditUser(chat int64, id int, text string, entities ...Entity) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	orig := s.userMsgs[[2]int64{chat, int64(id)}]
	m := s.findLocked(chat, id)
	if orig == nil || m == nil {
		return 0
	}
	msg := make(map[string]any, len(orig)+1)
	for k, v := range orig {
		msg[k] = v
	}
	delete(msg, "entities")
	if len(entities) > 0 {
		msg["entities"] = entities
	}
	msg["text"] = text
	msg["edit_date"] = s.now().Unix()
	m.Text, m.Raw = text, text
	m.Versions = append(m.Versions, text)
	s.timeline[chat] = append(s.timeline[chat], Event{At: s.now(), Kind: "user", MessageID: id, Text: text})
	return s.queueLocked(map[string]any{"edited_message": msg})
}

// QueueUpdate adds an update of any kind (u without update_id) and
// returns its update_id.
func (s *Server) QueueUpdate(u map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queueLocked(u)
}

func (s *Server) queueLocked(u map[string]any) int {
	s.nextUpdate++
	u["update_id"] = s.nextUpdate
	raw, err := json.Marshal(u)
	if err != nil {
		panic("telegramtest: marshal update: " + err.Error())
	}
	q := queued{id: s.nextUpdate, raw: raw}
	if s.webhookURL != "" {
		s.deliverLocked(q)
	} else {
		s.pending = append(s.pending, q)
	}
	s.all = append(s.all, q)
	s.notifyLocked()
	return s.nextUpdate
}

// LastUpdateID is the update_id of the latest update queued (1000 before
// the first).
func (s *Server) LastUpdateID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextUpdate
}

// RedeliverFrom makes every update from id on pending again, as if
// Telegram had never received the getUpdates that confirmed them.
func (s *Server) RedeliverFrom(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = nil
	for _, q := range s.all {
		if q.id >= id {
			s.pending = append(s.pending, q)
		}
	}
	s.notifyLocked()
}

// Pending is how many updates wait for long polling to confirm them.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Polled is closed at the first getUpdates.
func (s *Server) Polled() <-chan struct{} { return s.polled }

// Polling reports whether a getUpdates is in flight.
func (s *Server) Polling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls > 0
}

// getUpdates implements long polling: updates below offset are confirmed
// and forgotten; with none pending the request blocks up to timeout
// seconds; a newer getUpdates ends an older one with 409.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p url.Values, at time.Time) {
	offset, _ := strconv.Atoi(p.Get("offset"))
	timeout, _ := strconv.Atoi(p.Get("timeout"))
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	reply := func(a answer) {
		a.req.Method, a.req.At, a.req.Status = "getUpdates", at, a.status
		if s.opts.OnRequest != nil {
			s.opts.OnRequest(a.req)
		}
		a.write(w, 0)
	}
	if au := p.Get("allowed_updates"); au != "" && au != "null" {
		var kinds []string
		if err := json.Unmarshal([]byte(au), &kinds); err != nil {
			reply(s.bad("Bad Request: can't parse allowed_updates"))
			return
		}
	}
	wait := min(time.Duration(max(timeout, 0))*time.Second, s.opts.MaxPollTimeout)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	s.pollOnce.Do(func() { close(s.polled) })
	s.mu.Lock()
	if s.webhookURL != "" {
		s.mu.Unlock()
		reply(apiErr(http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"))
		return
	}
	if s.poller != nil {
		close(s.poller)
	}
	mine := make(chan struct{})
	s.poller = mine
	s.polls++
	defer func() {
		s.mu.Lock()
		s.polls--
		if s.poller == mine {
			s.poller = nil
		}
		s.mu.Unlock()
	}()
	if offset > 0 {
		i := 0
		for i < len(s.pending) && s.pending[i].id < offset {
			i++
		}
		s.pending = s.pending[i:]
	}
	for {
		if len(s.pending) > 0 {
			n := min(len(s.pending), limit)
			out := make([]json.RawMessage, n)
			for i := range n {
				out[i] = s.pending[i].raw
			}
			s.mu.Unlock()
			reply(ok(out))
			return
		}
		if s.closed {
			s.mu.Unlock()
			reply(ok([]any{}))
			return
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-mine:
			reply(apiErr(http.StatusConflict, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"))
			return
		case <-r.Context().Done():
			return
		case <-deadline.C:
			reply(ok([]any{}))
			return
		}
		s.mu.Lock()
	}
}

// deliverLocked posts q to the webhook in the background, as Telegram
// does, retrying a few times while the bridge answers other than 2xx.
func (s *Server) deliverLocked(q queued) {
	if s.closed {
		return
	}
	u, secret := s.webhookURL, s.hookSecret
	s.hooks.Add(1)
	go func() {
		defer s.hooks.Done()
		for attempt := range 5 {
			code, err := s.post(u, secret, q.raw)
			if err == nil && code/100 == 2 {
				return
			}
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
		}
	}()
}

func (s *Server) post(u, secret string, raw []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := s.opts.HookClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Redeliver posts update id to the webhook again, at once, as Telegram
// does when it did not get the bridge's answer; it returns the HTTP
// status the bridge answered.
func (s *Server) Redeliver(id int) (int, error) {
	s.mu.Lock()
	u, secret := s.webhookURL, s.hookSecret
	var raw []byte
	for _, q := range s.all {
		if q.id == id {
			raw = q.raw
		}
	}
	s.mu.Unlock()
	if u == "" || raw == nil {
		return 0, errNoWebhook
	}
	return s.post(u, secret, raw)
}

// WebhookURL is the URL set by setWebhook, "" when none.
func (s *Server) WebhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errNoWebhook = constErr("telegramtest: no webhook set or no such update")
