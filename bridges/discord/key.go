package discord

import "github.com/chat-bridge/chat-bridge/bridges"

// key returns the conversation of a message in channelID. This is a
// contract (stored conversations are found by it):
// discord/INSTANCE/CHANNEL, where a thread is its own channel; a question
// that will be answered in a new thread has the thread's key, which on
// Discord is the question's message ID. With scope = "user" the core
// (bridges.Admit) keys by user instead.
func (a *Adapter) key(channelID string) bridges.Key {
	return bridges.Key{Platform: Platform, Instance: a.cfg.Name, Chat: channelID}
}
