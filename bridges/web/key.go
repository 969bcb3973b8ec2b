package web

import "github.com/chat-bridge/chat-bridge/bridges"

// Key returns the conversation key of a browser in web chat instance
// name: web/<name>/<browser id> (a contract).
func Key(name, browserID string) bridges.Key {
	return bridges.Key{Platform: "web", Instance: name, Chat: browserID}
}
