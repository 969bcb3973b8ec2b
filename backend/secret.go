package backend

import "log/slog"

// Secret holds a credential from the configuration. Its String, GoString,
// MarshalText and LogValue never reveal the value; call Reveal where the
// value is sent.
type Secret struct{ v string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// IsSet reports whether the secret is not empty.
func (s Secret) IsSet() bool { return s.v != "" }

const redacted = "[redacted]"

func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return "backend.Secret(" + s.String() + ")" }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// UnmarshalText implements encoding.TextUnmarshaler, so TOML strings decode
// into a Secret.
func (s *Secret) UnmarshalText(b []byte) error {
	s.v = string(b)
	return nil
}

// MarshalText implements encoding.TextMarshaler with the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
