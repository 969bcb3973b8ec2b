package wire

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

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
	type test struct {
		code, msg  string
		continuing bool
		want       backend.Kind
	}
	tests := []test{
		{"1001", "Invalid API key", false, backend.KindUnauthorized},
		{"7", "Too many requests", false, backend.KindRateLimited},
		{"7", "content blocked by moderation", false, backend.KindContentFiltered},
		{"7", "chatbot serialNumber invalid", false, backend.KindNotFound},
		{"7", "insufficient credits", false, backend.KindUnavailable},
		{"7", "conversation not found", true, backend.KindConversationExpired},
		{"7", "conversation not found", false, backend.KindNotFound},
		{"7", "something odd", false, backend.KindBadResponse},
	}
	// A numeric code is read as an HTTP status, as StatusKind reads it.
	for status, kind := range statusKinds {
		tests = append(tests, test{strconv.Itoa(status), "", false, kind})
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

var statusKinds = map[int]backend.Kind{
	400: backend.KindBadResponse, 401: backend.KindUnauthorized, 403: backend.KindUnauthorized,
	404: backend.KindNotFound, 409: backend.KindBadResponse, 429: backend.KindRateLimited,
	500: backend.KindUnavailable, 503: backend.KindUnavailable, 529: backend.KindUnavailable, 200: backend.KindBadResponse,
}

func TestStatusKind(t *testing.T) {
	for status, kind := range statusKinds {
		if got := StatusKind(status); got != kind {
			t.Errorf("StatusKind(%d) = %v, want %v", status, got, kind)
		}
	}
}

func TestSnippet(t *testing.T) {
	secret := backend.NewSecret("sk-4711")
	if got, want := Snippet([]byte("bad\n  key sk-4711"), secret), `"bad key [redacted]"`; got != want {
		t.Errorf("Snippet = %s, want %s", got, want)
	}
	got := Snippet([]byte(strings.Repeat("ü", 100)), backend.Secret{})
	if !strings.HasSuffix(got, `…"`) || len(got) > 60+len(`""…`) || !utf8.ValidString(got) {
		t.Errorf("Snippet(long) = %s: want at most 60 bytes of valid UTF-8 and …", got)
	}
}

func TestLookup(t *testing.T) {
	m := map[string]int{"Code": 1, "msg": 2}
	for key, want := range map[string]int{"Code": 1, "code": 1, "MSG": 2, "none": 0} {
		if got, ok := Lookup(m, key); got != want || ok != (want != 0) {
			t.Errorf("Lookup(%q) = %d, %v; want %d", key, got, ok, want)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "https://www.example.com": true, "http://127.0.0.1:8080/": true,
		"https://x/y": false, "www.example.com": false, "ftp://x": false, "https://x/?q=1": false, "https://": false} {
		err := CheckOrigin("origin", v)
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "origin")) {
			t.Errorf("CheckOrigin(%q) = %v, want ok %v (errors naming origin)", v, err, ok)
		}
	}
}
