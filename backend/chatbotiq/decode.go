package chatbotiq

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// decoder turns the SSE body into backend events. It implements
// backend.Decoder.
type decoder struct {
	sse *wire.SSE
	log *slog.Logger
}

func newDecoder(body io.ReadCloser, log *slog.Logger) *decoder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &decoder{sse: wire.NewSSE(body), log: log}
}

// Next implements backend.Decoder. It returns io.EOF when the body ends
// without a done or error event; backend.Stream reports that as truncation.
// The event the body ended inside is used when it is complete JSON.
func (d *decoder) Next() (backend.Event, error) {
	for {
		data, last, ok := d.sse.Next()
		if !ok {
			break
		}
		ev, failed, err := parseEvent(data)
		if last {
			if err != nil || (ev == nil && failed == nil) {
				break
			}
			d.log.Debug("chatbotiq: final event without blank line")
		}
		if err != nil {
			return nil, err
		}
		if failed != nil {
			return nil, failed
		}
		if ev != nil {
			return ev, nil
		}
	}
	if err := d.sse.Err(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}

// Close implements backend.Decoder.
func (d *decoder) Close() error { return d.sse.Close() }

// event is one JSON event of the stream, with every field any type uses.
type event struct {
	Type           flexString `json:"type"`
	Stage          flexString `json:"stage"`
	Content        flexString `json:"content"`
	Code           flexString `json:"code"`
	Message        flexString `json:"message"`
	Error          flexString `json:"error"`
	ConversationID flexString `json:"conversation_id"`
	Citations      []citation `json:"citations"`
}

// strictEvent is event with plain string fields: decoding into it is
// several times cheaper, and it fits every documented payload.
type strictEvent struct {
	Type           string           `json:"type"`
	Stage          string           `json:"stage"`
	Content        string           `json:"content"`
	Code           string           `json:"code"`
	Message        string           `json:"message"`
	Error          string           `json:"error"`
	ConversationID string           `json:"conversation_id"`
	Citations      []strictCitation `json:"citations"`
}

type strictCitation struct {
	PageTitle string `json:"page_title"`
	SourceURL string `json:"source_url"`
}

// decodeEvent decodes data strictly, and, when a field has an unexpected
// JSON type, again with flexString fields.
func decodeEvent(data string) (event, error) {
	b := []byte(data)
	var s strictEvent
	if err := json.Unmarshal(b, &s); err == nil {
		e := event{
			Type: flexString(s.Type), Stage: flexString(s.Stage), Content: flexString(s.Content),
			Code: flexString(s.Code), Message: flexString(s.Message), Error: flexString(s.Error),
			ConversationID: flexString(s.ConversationID),
		}
		if len(s.Citations) > 0 {
			e.Citations = make([]citation, len(s.Citations))
			for i, c := range s.Citations {
				e.Citations[i] = citation{PageTitle: flexString(c.PageTitle), SourceURL: flexString(c.SourceURL)}
			}
		}
		return e, nil
	}
	var e event
	err := json.Unmarshal(b, &e)
	return e, err
}

type citation struct {
	PageTitle flexString `json:"page_title"`
	SourceURL flexString `json:"source_url"`
}

// parseEvent maps one data payload to a backend event. For an error event
// it returns the classified error as failed; err reports a payload that is
// not a JSON event. All three are nil for a payload to skip (an unknown
// type, empty content, a "[DONE]" marker).
func parseEvent(data string) (ev backend.Event, failed *backend.Error, err error) {
	data = strings.TrimSpace(data)
	if data == "" || data == "[DONE]" {
		return nil, nil, nil
	}
	e, err := decodeEvent(data)
	if err != nil {
		return nil, nil, &backend.Error{Kind: backend.KindBadResponse, Message: "decode event " + wire.Snippet([]byte(data), backend.Secret{}), Err: err}
	}
	switch e.Type {
	case "status":
		return backend.Status{Stage: string(e.Stage)}, nil, nil
	case "content":
		if e.Content == "" {
			return nil, nil, nil
		}
		return backend.Delta{Text: string(e.Content)}, nil, nil
	case "replace":
		return backend.Replace{Text: string(e.Content)}, nil, nil
	case "notice":
		return backend.Notice{Code: string(e.Code), Message: string(e.Message)}, nil, nil
	case "done":
		return backend.Done{ConversationID: string(e.ConversationID), Citations: citations(e.Citations)}, nil, nil
	case "error":
		code := string(e.Error)
		if code == "" {
			code = string(e.Code)
		}
		return nil, &backend.Error{Kind: errorKind(code), Code: code, Message: string(e.Message)}, nil
	}
	return nil, nil, nil // a type this client does not know: skip it
}

// errorKind classifies an error event's code.
func errorKind(code string) backend.Kind {
	c := strings.ToLower(code)
	switch {
	case c == "content_filtered" || strings.Contains(c, "filter") || strings.Contains(c, "blocked") || strings.Contains(c, "moderat"):
		return backend.KindContentFiltered
	case c == "service_unavailable" || strings.Contains(c, "unavailable") || strings.Contains(c, "overload") || strings.Contains(c, "timeout") || strings.Contains(c, "credit"):
		return backend.KindUnavailable
	case strings.Contains(c, "conversation") || strings.Contains(c, "session"):
		// conversation_not_found, invalid_conversation, conversation_expired,
		// session_expired, ...
		return backend.KindConversationExpired
	case strings.Contains(c, "rate_limit") || strings.Contains(c, "too_many"):
		return backend.KindRateLimited
	case strings.Contains(c, "no_answer"):
		return backend.KindNoAnswer
	}
	return backend.KindBadResponse
}

// citations maps the done event's citations, dropping empty and repeated
// ones (a page cited through several chunks appears once).
func citations(in []citation) []backend.Citation {
	var out []backend.Citation
	seen := make(map[backend.Citation]bool, len(in))
	for _, c := range in {
		bc := backend.Citation{Title: strings.TrimSpace(string(c.PageTitle)), URL: strings.TrimSpace(string(c.SourceURL))}
		if bc == (backend.Citation{}) || seen[bc] {
			continue
		}
		seen[bc] = true
		out = append(out, bc)
	}
	return out
}

type flexString = wire.FlexString
