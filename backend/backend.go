// Package backend defines what every chatbot backend client provides: the
// Backend interface, the request, the closed set of stream events, the pull
// stream iterator and typed errors.
//
// Package backend imports only the standard library. Concrete clients live
// in backend/<kind> and may import backend and backend/internal/sse only.
package backend

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Backend asks a hosted chatbot a question and streams the answer.
type Backend interface {
	// Ask sends req and returns the answer as a stream. It never returns
	// nil: a failure to send the request is folded into the stream, whose
	// Next then returns false and whose Err reports the failure. The stream
	// is bounded by ctx; the caller must Close it (Close is idempotent and
	// also happens automatically at the terminal event). Ask is safe for
	// concurrent use.
	Ask(ctx context.Context, req Request) *Stream
}

// Checker is implemented by backends that can verify their configuration
// cheaply (reachability, authentication) without spending the operator's
// credits.
type Checker interface {
	// Check performs at most a few cheap network requests and reports the
	// first problem found.
	Check(ctx context.Context) error
}

// HistoryKeeper is implemented by backends whose service keeps no
// conversation of its own (OpenAI-compatible endpoints). The bridge then
// stores the last HistoryTurns turns per conversation and passes them back
// in Request.History.
type HistoryKeeper interface {
	HistoryTurns() int
}

// Request is one question to a backend.
type Request struct {
	// Question is the user's text.
	Question string
	// ConversationID continues a conversation the backend returned in an
	// earlier Done event; empty starts a new one.
	ConversationID string
	// SessionID is a stable opaque identifier for the bridge conversation
	// (a fresh one after /reset). Backends that need a client-chosen session
	// (ChatbotIQ session_id) use it.
	SessionID string
	// History holds earlier turns, oldest first, for backends that
	// implement HistoryKeeper. Empty otherwise.
	History []Turn
	// User is an opaque, stable identifier of the asking user, for backends
	// that accept one. It is never a secret.
	User string
}

// Turn is one question and its answer.
type Turn struct {
	Question string `json:"q"`
	Answer   string `json:"a"`
}

// Deps carries what a backend client needs from its environment.
type Deps struct {
	// HTTPClient sends every request. It must not set Timeout: streams are
	// bounded by the request context and the backend's idle timeout.
	HTTPClient *http.Client
	// Logger is already scoped to the backend instance.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Client returns d.HTTPClient or a default client without a timeout.
func (d Deps) Client() *http.Client {
	if d.HTTPClient != nil {
		return d.HTTPClient
	}
	return &http.Client{}
}

// Log returns d.Logger or a logger that discards everything.
func (d Deps) Log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}
