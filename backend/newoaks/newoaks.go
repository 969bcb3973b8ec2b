// Package newoaks is the client of the NewOaks AI chat API (host
// usapi.hottask.com, euapi.hottask.com, or a white-label host). A new
// conversation first creates a session (POST {base}/chat/Chatbot/GetSession
// {"serialNumber": bot}); each question is POST {base}/chat/Chat/ClientAsk
// {"sessionID", "content", "stream": true}, answered by lines of JSON:
// {"content": "..."} chunks, then {"QuestionID", "AnswerID", "Answer",
// "TotalToken"} whose Answer is the complete answer. The session ID, as a
// decimal string, is the conversation ID.
//
// Package newoaks imports backend, backend/internal/sse (its line
// splitting), backend/internal/wire and the standard library.
package newoaks

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// Kind is the value of `kind` in a [backends.NAME] table for this client.
const Kind = "newoaks"

// DefaultBaseURL is the NewOaks API host for US accounts. EU accounts
// (eu.newoaks.ai) use https://euapi.hottask.com; white-label resellers use
// their own host.
const DefaultBaseURL = "https://usapi.hottask.com"

const (
	sessionPath   = "/chat/Chatbot/GetSession"
	askPath       = "/chat/Chat/ClientAsk"
	modelListPath = "/chat/Chatbot/ModelList"
)

// Config configures one NewOaks chatbot.
type Config struct {
	// BaseURL is the API host; the documented paths (/chat/...) are
	// appended. Empty means https://usapi.hottask.com; EU accounts set
	// https://euapi.hottask.com, white-label accounts their reseller's
	// host.
	BaseURL string `toml:"base_url"`
	// BotID is the chatbot's serialNumber (its ID, 32 hex characters).
	// Required.
	BotID string `toml:"bot_id"`
	// APIKey is the account's secret key, sent as the raw Authorization
	// header. Required.
	APIKey backend.Secret `toml:"api_key"`
	// IdleTimeout ends an answer with an "unavailable" error when the
	// service sends nothing for this long. 0 means 60s.
	IdleTimeout time.Duration `toml:"idle_timeout"`
}

// Client asks one NewOaks chatbot. It is safe for concurrent use.
type Client struct {
	cfg  Config
	conn wire.Conn
}

var (
	_ backend.Backend = (*Client)(nil)
	_ backend.Checker = (*Client)(nil)
)

// New validates cfg and returns a client. It does no I/O.
func New(cfg Config, deps backend.Deps) (*Client, error) {
	conn, err := wire.NewConn(wire.Service{BaseURL: cfg.BaseURL, Default: DefaultBaseURL, IdleTimeout: cfg.IdleTimeout, APIKey: cfg.APIKey}, deps)
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(wire.CheckWord("bot_id", cfg.BotID, true), wire.CheckKey(cfg.APIKey, true)); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, conn: conn}, nil
}

// askRequest is the JSON body of ClientAsk, in the documented order.
// chatAskType and fileIds are omitted: text questions are the default.
type askRequest struct {
	SessionID int64  `json:"sessionID"`
	Content   string `json:"content"`
	Stream    bool   `json:"stream"`
}

// Ask implements backend.Backend. When req.ConversationID is empty it
// first creates a session; otherwise ConversationID must be a session ID
// an earlier Done returned (a positive decimal integer), else the stream
// fails with KindConversationExpired without a request.
func (c *Client) Ask(ctx context.Context, req backend.Request) *backend.Stream {
	var sid int64
	if req.ConversationID != "" {
		n, err := strconv.ParseInt(req.ConversationID, 10, 64)
		if err != nil || n <= 0 {
			return backend.ErrorStream(fmt.Errorf("newoaks: %w", &backend.Error{
				Kind:    backend.KindConversationExpired,
				Message: fmt.Sprintf("stored conversation %q is not a NewOaks session ID", clip(req.ConversationID)),
			}))
		}
		sid = n
	} else {
		n, err := c.newSession(ctx)
		if err != nil {
			return backend.ErrorStream(fmt.Errorf("newoaks: create session: %w", err))
		}
		c.conn.Log.Debug("newoaks: session created", "session", n)
		sid = n
	}
	resp, err := c.post(ctx, askPath, askRequest{SessionID: sid, Content: req.Question, Stream: true})
	if err != nil {
		return backend.ErrorStream(fmt.Errorf("newoaks: %w", refine(err, true)))
	}
	return backend.NewStream(newDecoder(resp.Body, c.conn.Decoder(strconv.FormatInt(sid, 10))))
}

// post sends body as JSON with the documented headers.
func (c *Client) post(ctx context.Context, path string, body any) (*http.Response, error) {
	return c.conn.Send(ctx, wire.Request{Method: http.MethodPost, URL: c.conn.Base + path, JSON: body, Header: c.header()})
}

// header returns the headers of every request.
func (c *Client) header() http.Header {
	return http.Header{"Authorization": {c.cfg.APIKey.Reveal()}, "Accept": {"*/*"}}
}

// maxEnvelope bounds the non-stream answers read whole (GetSession,
// ModelList).
const maxEnvelope = 1 << 20

// newSession creates a session for the configured chatbot.
func (c *Client) newSession(ctx context.Context) (int64, error) {
	resp, err := c.post(ctx, sessionPath, struct {
		SerialNumber string `json:"serialNumber"`
	}{c.cfg.BotID})
	if err != nil {
		return 0, refine(err, false)
	}
	env, err := c.readEnvelope(resp)
	if err != nil {
		return 0, err
	}
	var data struct {
		SessionID flexString `json:"SessionID"`
	}
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &data); err != nil {
			return 0, &backend.Error{Kind: backend.KindBadResponse, Message: "decode session " + wire.Snippet(env.Data, c.cfg.APIKey), Err: err}
		}
	}
	sid, err := strconv.ParseInt(string(data.SessionID), 10, 64)
	if err != nil || sid <= 0 {
		return 0, &backend.Error{Kind: backend.KindBadResponse, Message: "no SessionID in " + wire.Snippet(env.Data, c.cfg.APIKey)}
	}
	return sid, nil
}

// readEnvelope reads a whole {Data, Version, Success, Code, Message}
// answer and returns it when it reports success.
func (c *Client) readEnvelope(resp *http.Response) (envelope, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxEnvelope))
	if err != nil {
		var be *backend.Error
		if errors.As(err, &be) {
			return envelope{}, err
		}
		return envelope{}, &backend.Error{Kind: backend.KindUnavailable, Message: "read response", Err: err}
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return envelope{}, &backend.Error{Kind: backend.KindBadResponse, Status: resp.StatusCode, Message: "decode response " + wire.Snippet(b, c.cfg.APIKey), Err: err}
	}
	if !env.isEnvelope() {
		return envelope{}, &backend.Error{Kind: backend.KindBadResponse, Status: resp.StatusCode, Message: "not an API response: " + wire.Snippet(b, c.cfg.APIKey)}
	}
	if env.failed() {
		return envelope{}, env.err(c.cfg.APIKey, false)
	}
	return env, nil
}

// Check implements backend.Checker. It spends no credits and creates
// nothing: it GETs {base}/chat/Chatbot/ModelList with the key and expects
// a successful envelope, which proves the host and the key. (GetSession
// would also prove bot_id, but it creates a session on every check; a
// wrong bot_id shows at the first question as "not found".)
func (c *Client) Check(ctx context.Context) error {
	resp, err := c.conn.Probe(ctx, wire.Request{URL: c.conn.Base + modelListPath, Header: c.header()})
	if err == nil {
		_, err = c.readEnvelope(resp)
	} else {
		err = refine(err, false)
	}
	if err != nil {
		return fmt.Errorf("newoaks: check %s: %w", wire.RedactURL(c.conn.Base), err)
	}
	return nil
}
