package slack

import "github.com/chat-bridge/chat-bridge/bridges"

// Platform is the Key.Platform of every Slack conversation.
const Platform = "slack"

// conversation returns the conversation key of a message and the thread
// the reply goes to. This is a contract (the stored keys):
//
//   - a message in a thread: slack/NAME/<channel>/<thread_ts>, answered in
//     that thread;
//   - a top-level message in a channel: slack/NAME/<channel>/<ts>, answered
//     in a new thread under it (the thread becomes its own conversation);
//   - a top-level message in a DM: slack/NAME/<D…> (one conversation per
//     DM channel), answered at top level, as people chat in DMs.
//
// Under scope "user" the core (bridges.Admit) keys the conversation by
// the author instead, slack/NAME/<user ID>; the reply is placed as above.
func (a *Adapter) conversation(channel, ts, threadTS string, dm bool) (key bridges.Key, replyThread string) {
	switch {
	case threadTS != "":
		replyThread = threadTS
	case dm:
		replyThread = ""
	default:
		replyThread = ts
	}
	return bridges.Key{Platform: Platform, Instance: a.name, Chat: channel, Thread: replyThread}, replyThread
}
