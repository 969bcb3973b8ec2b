package wire

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

func TestFlexString(t *testing.T) {
	tests := map[string]string{`"a"`: "a", `12`: "12", `true`: "true", `null`: "", `{"x": 1}`: `{"x":1}`}
	for in, want := range tests {
		var f FlexString
		if err := json.Unmarshal([]byte(in), &f); err != nil || string(f) != want {
			t.Errorf("FlexString(%s) = %q, %v, want %q", in, f, err, want)
		}
	}
}

func TestClip(t *testing.T) {
	if got := Clip("  a \n b\xff "); got != "a b\uFFFD" {
		t.Errorf("Clip = %q", got)
	}
	long := strings.Repeat("é", 150)
	if got := Clip(long); len(got) > 204 || !strings.HasSuffix(got, "…") {
		t.Errorf("Clip(long) = %d bytes", len(got))
	}
}

func TestConversationGone(t *testing.T) {
	for msg, want := range map[string]bool{
		"Conversation not found":  true,
		"session expired":         true,
		"Session closed":          true,
		"invalid api key":         false,
		"conversation in use":     false,
		"The session is invalid.": true,
	} {
		if got := ConversationGone(msg); got != want {
			t.Errorf("ConversationGone(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		code, msg  string
		continuing bool
		want       backend.Kind
	}{
		{"401", "", false, backend.KindUnauthorized},
		{"404", "", false, backend.KindNotFound},
		{"429", "", false, backend.KindRateLimited},
		{"503", "", false, backend.KindUnavailable},
		{"1001", "Invalid API key", false, backend.KindUnauthorized},
		{"7", "Too many requests", false, backend.KindRateLimited},
		{"7", "content blocked by moderation", false, backend.KindContentFiltered},
		{"7", "chatbot serialNumber invalid", false, backend.KindNotFound},
		{"7", "insufficient credits", false, backend.KindUnavailable},
		{"7", "conversation not found", true, backend.KindConversationExpired},
		{"7", "conversation not found", false, backend.KindNotFound},
		{"7", "something odd", false, backend.KindBadResponse},
	}
	for _, tt := range tests {
		if got := Classify(tt.code, tt.msg, tt.continuing); got != tt.want {
			t.Errorf("Classify(%q, %q, %v) = %v, want %v", tt.code, tt.msg, tt.continuing, got, tt.want)
		}
	}
}

func TestBaseURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "https://default.example"},
		{"http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/prefix"},
	} {
		if got, err := BaseURL(tt.in, "https://default.example"); err != nil || got != tt.want {
			t.Errorf("BaseURL(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "https://x/?q=1", "https://u:p@x", "x y"} {
		if _, err := BaseURL(bad, "https://d"); err == nil || !strings.Contains(err.Error(), "base_url") || strings.Contains(err.Error(), ":p@") {
			t.Errorf("BaseURL(%q) error = %v", bad, err)
		}
	}
	if b, _ := Marshal(map[string]string{"q": "<a & b>"}); string(b) != `{"q":"<a & b>"}` {
		t.Errorf("Marshal = %s", b)
	}
}
