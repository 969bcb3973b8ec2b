package wire

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
)

// maxErrorBody is how much of an error response StatusError reads.
const maxErrorBody = 64 << 10

// StatusError classifies a non-2xx response: 401 and 403 are
// KindUnauthorized, 404 KindNotFound, 429 KindRateLimited (RetryAfter from
// the Retry-After header, in seconds or as an HTTP date), 5xx
// KindUnavailable and any other status KindBadResponse. 503 also carries a
// Retry-After when the server sent one.
//
// It reads at most 64 KiB of the body and closes it. Message is taken from
// a JSON body's "message", "msg", "error" or "detail" member (a string, or
// an object or array holding one of those), else it is the body's trimmed
// text, cut to about 200 bytes. Code is taken from a JSON "code" member
// (string or number). Neither is scrubbed of secrets: see Scrub.
func StatusError(resp *http.Response) *backend.Error {
	e := &backend.Error{Status: resp.StatusCode, Kind: StatusKind(resp.StatusCode)}
	if s := resp.StatusCode; s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable {
		now := time.Now()
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			now = d
		}
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	if resp.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		e.Code, e.Message = bodyMessage(body)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date
// (relative to now). It returns 0 for an absent, invalid or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs != secs { // negative or NaN
			return 0
		}
		const maxSecs = 24 * 60 * 60 // a day: beyond that the value is nonsense
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// bodyMessage extracts a code and a message from an error body.
func bodyMessage(body []byte) (code, msg string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", ""
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		code, msg = jsonMessage(v, 0)
		if msg != "" {
			return Clip(code), Clip(msg)
		}
		return Clip(code), Clip(string(body))
	}
	return "", Clip(string(body))
}

var messageKeys = [...]string{"message", "msg", "error", "detail", "error_description", "description"}

// jsonMessage finds the message in a decoded JSON value: a string, an
// object with one of messageKeys (searched case-insensitively, recursing
// into nested objects), or an array whose first element holds one.
func jsonMessage(v any, depth int) (code, msg string) {
	if depth > 4 {
		return "", ""
	}
	switch v := v.(type) {
	case string:
		return "", v
	case []any:
		if len(v) > 0 {
			return jsonMessage(v[0], depth+1)
		}
	case map[string]any:
		code = scalar(Lookup(v, "code"))
		for _, k := range messageKeys {
			m, ok := Lookup(v, k)
			if !ok {
				continue
			}
			c, s := jsonMessage(m, depth+1)
			if code == "" {
				code = c
			}
			if s != "" {
				return code, s
			}
		}
		return code, ""
	}
	return "", ""
}

// scalar formats a JSON string or number; anything else is "".
func scalar(v any, ok bool) string {
	if !ok {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}
