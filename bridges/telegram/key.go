package telegram

import (
	"strconv"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Conversation keys are a contract (they name stored conversations):
//
//	telegram/<instance>/<chat ID>            a private chat or a group
//	telegram/<instance>/<chat ID>/<topic ID> a forum topic (message_thread_id)
//	telegram/<instance>/<user ID>            scope = "user" (the core's
//	                                         rewrite, bridges.Admit)
//
// A group upgraded to a supergroup keeps the key of the old group: the
// chat ID in the key is the chat's first known ID.

// conversationKey returns the key of a message in chat (forum topic
// thread, 0 when none).
func (a *Adapter) conversationKey(chat int64, thread int) bridges.Key {
	k := bridges.Key{Platform: "telegram", Instance: a.cfg.name()}
	k.Chat = strconv.FormatInt(a.originalChat(chat), 10)
	if thread != 0 {
		k.Thread = strconv.Itoa(thread)
	}
	return k
}

// originalChat follows a recorded group → supergroup migration back to the
// group's original ID.
func (a *Adapter) originalChat(chat int64) int64 {
	if chat > 0 {
		return chat // private chats never migrate
	}
	if v, ok := a.migrated.Load(chat); ok {
		return v.(int64)
	}
	old := chat
	if b, ok, err := a.kv.Get(migrationKey(chat)); err != nil {
		a.log.Warn("read chat migration", "err", err)
		return chat
	} else if ok {
		if id, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			old = id
		} else {
			a.log.Error("the stored chat migration is corrupt; the supergroup starts a new conversation", "chat", chat, "err", err)
		}
	}
	a.migrated.Store(chat, old)
	return old
}

// recordMigration remembers that group from became supergroup to.
func (a *Adapter) recordMigration(from, to int64) {
	if from == 0 || to == 0 || from == to {
		return
	}
	a.movedTo.Store(from, to)
	orig := a.originalChat(from)
	if cur := a.originalChat(to); cur == orig {
		return
	}
	if err := a.kv.Put(migrationKey(to), []byte(strconv.FormatInt(orig, 10))); err != nil {
		a.log.Error("store chat migration; the supergroup starts a new conversation", "err", err, "from", from, "to", to)
		return
	}
	a.migrated.Store(to, orig)
	a.log.Info("group upgraded to a supergroup; conversation kept", "from", from, "to", to)
}

func migrationKey(chat int64) string { return "migrated/" + strconv.FormatInt(chat, 10) }

// chatFor returns the chat a message for chat goes to: the supergroup,
// when the group was upgraded since (known in this run), so that the
// retry of a send refused with migrate_to_chat_id lands.
func (a *Adapter) chatFor(chat string) string {
	id, err := strconv.ParseInt(chat, 10, 64)
	if err != nil || id > 0 {
		return chat
	}
	for range 8 { // a chain of upgrades, bounded
		v, ok := a.movedTo.Load(id)
		if !ok {
			break
		}
		id = v.(int64)
	}
	return strconv.FormatInt(id, 10)
}
