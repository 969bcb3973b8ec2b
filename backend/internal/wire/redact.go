package wire

import (
	"errors"
	"net/url"
	"strings"

	"github.com/chat-bridge/chat-bridge/backend"
)

// RedactURL returns raw without its user info, query string and fragment,
// for use in errors and logs. A raw string that does not parse is cut at
// its first '?' or '#'.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

// Redact returns err with the URL of a *url.Error at its top (what
// http.Client.Do returns) passed through RedactURL. The chain below is
// kept, so errors.Is(err, context.Canceled) still works. Other errors are
// returned unchanged.
func Redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && err == error(ue) {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// Scrub replaces every occurrence of secret in s with "[redacted]". Use it
// on any text a backend echoes into an error (an in-stream error message,
// for example).
func Scrub(s string, secret backend.Secret) string {
	if !secret.IsSet() || !strings.Contains(s, secret.Reveal()) {
		return s
	}
	return strings.ReplaceAll(s, secret.Reveal(), "[redacted]")
}

// scrubErr returns err, or, when its text contains secret, an error with
// the secret scrubbed from its text that still unwraps to err's chain.
func scrubErr(err error, secret backend.Secret) error {
	if err == nil || !secret.IsSet() || !strings.Contains(err.Error(), secret.Reveal()) {
		return err
	}
	return &scrubbed{msg: Scrub(err.Error(), secret), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }

// Unwrap keeps errors.Is working; callers print Error, never the inner
// errors.
func (e *scrubbed) Unwrap() error { return errors.Unwrap(e.err) }
