package slack

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

var (
	_ bridges.RefCodec = (*Adapter)(nil)
	_ lastErrorer      = (*Adapter)(nil)
)

// lastErrorer is cmd/bridge's interface for /readyz (observe.go).
type lastErrorer interface {
	LastError() (msg string, since time.Time)
}

// wireRef is the encoding of the refs the adapter makes: a Message.Ref
// (ref: the author's team and user, which Slack's streaming needs, and
// whether it is a DM) or a Sent.Ref (streamed: the message was made by
// chat.startStream, so an edit must clear its blocks). A slash command's
// response URL is not kept: the adapter answers slash commands with
// chat.postMessage.
type wireRef struct {
	Kind string `json:"k"` // "msg" or "stream"
	Team string `json:"team,omitempty"`
	User string `json:"user,omitempty"`
	DM   bool   `json:"dm,omitempty"`
}

// EncodeRef implements bridges.RefCodec for the adapter's ref and
// streamed values.
func (a *Adapter) EncodeRef(v any) ([]byte, error) {
	switch r := v.(type) {
	case ref:
		return json.Marshal(wireRef{Kind: "msg", Team: r.Team, User: r.User, DM: r.DM})
	case streamed:
		return json.Marshal(wireRef{Kind: "stream"})
	}
	return nil, fmt.Errorf("slack: cannot encode a ref of type %T", v)
}

// DecodeRef implements bridges.RefCodec.
func (a *Adapter) DecodeRef(data []byte) (any, error) {
	var w wireRef
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("slack: decode ref: %w", err)
	}
	switch w.Kind {
	case "msg":
		return ref{Team: w.Team, User: w.User, DM: w.DM}, nil
	case "stream":
		return streamed{}, nil
	}
	return nil, fmt.Errorf("slack: unknown ref kind %q", w.Kind)
}

// lastError is the adapter's last platform error, for /readyz.
type lastError struct {
	msg string
	at  time.Time
}

// noteErr records err as the adapter's last error (its message carries
// the method and Slack's error code, never a token).
func (a *Adapter) noteErr(err error) {
	if err == nil {
		return
	}
	a.lastErr.Store(&lastError{msg: err.Error(), at: a.now()})
}

// LastError returns the adapter's last platform error and when it
// happened ("" when none): a failed start, a failed Socket Mode
// connection, a refused post or edit.
func (a *Adapter) LastError() (string, time.Time) {
	le := a.lastErr.Load()
	if le == nil {
		return "", time.Time{}
	}
	return le.msg, le.at
}
