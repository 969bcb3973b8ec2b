package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
)

// FlexString decodes a JSON string, number or boolean as its text, null as
// "", and anything else as its compact JSON text, so that a vendor sending
// an unexpected type never fails a whole object.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return err
	}
	*f = FlexString(c.String())
	return nil
}

// maxMessage is the length, in bytes, beyond which Clip cuts a vendor's
// message (at a rune boundary) and marks it with "…".
const maxMessage = 200

// Clip makes s valid UTF-8, collapses whitespace and cuts it to about 200
// bytes at a rune boundary, for quoting a vendor's message in an error.
func Clip(s string) string {
	return cut(strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " "), maxMessage)
}

// cut returns s when it has at most max bytes, else its first max bytes or
// fewer, ending at a rune boundary, followed by "…".
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Snippet quotes the start of b, scrubbed of secret and clipped, for an
// error that shows what could not be decoded.
func Snippet(b []byte, secret backend.Secret) string {
	const max = 60
	return strconv.Quote(cut(Clip(Scrub(string(b[:min(len(b), 4*max+len(secret.Reveal()))]), secret)), max))
}

// StatusKind classifies an HTTP status: 401 and 403 are KindUnauthorized,
// 404 KindNotFound, 429 KindRateLimited, 5xx KindUnavailable and any other
// status KindBadResponse.
func StatusKind(status int) backend.Kind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return backend.KindUnauthorized
	case status == http.StatusNotFound:
		return backend.KindNotFound
	case status == http.StatusTooManyRequests:
		return backend.KindRateLimited
	case status >= 500:
		return backend.KindUnavailable
	}
	return backend.KindBadResponse
}

// Lookup finds key in m, exactly or else case-insensitively, as vendors
// spell JSON member names inconsistently.
func Lookup[V any](m map[string]V, key string) (V, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// ConversationGone reports whether a vendor's error message says the
// conversation or session is unknown, invalid, closed or expired.
func ConversationGone(msg string) bool {
	m := strings.ToLower(msg)
	if !strings.Contains(m, "conversation") && !strings.Contains(m, "session") {
		return false
	}
	for _, s := range []string{"not found", "not exist", "no such", "expired", "invalid", "unknown", "deleted", "does not", "closed"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// Classify maps a vendor's business error code and message to a Kind, for
// services that publish no list of codes (chatof.ai, NewOaks): a numeric
// code that looks like an HTTP status is read as such, otherwise the
// message decides; anything unrecognised is KindBadResponse. continuing
// says whether the request named a stored conversation, which may then be
// reported gone (KindConversationExpired).
func Classify(code, msg string, continuing bool) backend.Kind {
	m := strings.ToLower(msg)
	if continuing && ConversationGone(m) {
		return backend.KindConversationExpired
	}
	if n, err := strconv.Atoi(code); err == nil && n <= 599 {
		if k := StatusKind(n); k != backend.KindBadResponse {
			return k
		}
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("secret key", "api key", "api_key", "apikey", "unauthori", "authenticat", "authorization",
		"permission", "forbidden", "invalid key", "token invalid", "invalid token", "token expired",
		"subscription", "upgrade your plan"):
		return backend.KindUnauthorized
	case has("rate limit", "too many", "too frequent", "frequency"):
		return backend.KindRateLimited
	case has("sensitive", "filtered", "blocked", "moderat", "violat"):
		return backend.KindContentFiltered
	case has("not found", "not exist", "no such", "deleted") ||
		has("serialnumber", "chatbot") && has("invalid", "unknown"):
		return backend.KindNotFound
	case has("quota", "credit", "balance", "insufficient", "overload", "busy", "unavailable", "timeout", "timed out", "try again"):
		return backend.KindUnavailable
	}
	return backend.KindBadResponse
}

// Refine adjusts the classification of an HTTP error from Do: a
// conversation the service no longer knows becomes
// KindConversationExpired, and a status Do could not classify (400, 422,
// ...) is classified by the body's code and message.
func Refine(err error, continuing bool) error {
	var be *backend.Error
	if !errors.As(err, &be) || be.Status == 0 {
		return err
	}
	if continuing && ConversationGone(be.Message) {
		be.Kind = backend.KindConversationExpired
	} else if be.Kind == backend.KindBadResponse {
		be.Kind = Classify(be.Code, be.Message, continuing)
	}
	return err
}
