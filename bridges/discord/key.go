package discord

import "github.com/chat-bridge/chat-bridge/bridges"

// key returns the conversation a message in channelID by userID belongs
// to. This is a contract (stored conversations are found by it):
// discord/INSTANCE/CHANNEL, where a thread is its own channel, or
// discord/INSTANCE/USER with scope = "user".
func (a *Adapter) key(channelID, userID string) bridges.Key {
	k := bridges.Key{Platform: Platform, Instance: a.cfg.Name, Chat: channelID}
	if a.cfg.userScope() {
		k.Chat = userID
	}
	return k
}
