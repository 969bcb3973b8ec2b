package store

import (
	"errors"
	"strings"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
)

// Key names one conversation. Its String form,
// platform/instance/chat[/thread], is the on-disk contract.
type Key struct {
	Platform string // "telegram", "discord", "slack", "console"
	Instance string // the config instance name, e.g. "main"
	Chat     string // chat, channel or user ID
	Thread   string // forum topic, thread ts; empty when none
}

// String returns platform/instance/chat[/thread].
func (k Key) String() string {
	s := k.Platform + "/" + k.Instance + "/" + k.Chat
	if k.Thread != "" {
		s += "/" + k.Thread
	}
	return s
}

// ParseKey parses the String form of a Key.
func ParseKey(s string) (Key, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 3 || len(parts) > 4 {
		return Key{}, errors.New("conversation key must be platform/instance/chat[/thread]")
	}
	for _, p := range parts {
		if p == "" {
			return Key{}, errors.New("conversation key has an empty part")
		}
	}
	k := Key{Platform: parts[0], Instance: parts[1], Chat: parts[2]}
	if len(parts) == 4 {
		k.Thread = parts[3]
	}
	return k, nil
}

// Record is what is stored for one conversation.
type Record struct {
	// Backend is the configured backend name the conversation belongs to.
	Backend string `json:"backend"`
	// ConversationID is the conversation ID as the backend gave it.
	ConversationID string `json:"conversation_id,omitempty"`
	// SessionID is the bridge's own stable session identifier for this
	// conversation (sent to backends that need a client-chosen one).
	SessionID string `json:"session_id,omitempty"`
	// Created and LastUsed are set by the bridge.
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
	// Turns counts the questions answered in this conversation.
	Turns int `json:"turns,omitempty"`
	// History holds the recent turns for backends that keep no
	// conversation themselves (OpenAI-compatible).
	History []backend.Turn `json:"history,omitempty"`
}
