package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
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

// Clip makes s valid UTF-8, collapses whitespace and cuts it to about 200
// bytes at a rune boundary, for quoting a vendor's message in an error.
func Clip(s string) string {
	const max = 200
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
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
