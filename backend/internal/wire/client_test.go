package wire

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
)

// TestSend: the JSON body is sent again whole on a retry, with the
// default and the request's own headers; GET is the default method.
func TestSend(t *testing.T) {
	type seen struct{ method, body, ctype, ua, auth string }
	var got []seen
	u := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, string(b), r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), r.Header.Get("Authorization")})
		if len(got) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	resp, err := Send(t.Context(), http.DefaultClient, Request{Method: http.MethodPost, URL: u, JSON: map[string]string{"q": "<x>"}, Header: http.Header{"Authorization": {"k"}}}, Policy{})
	if err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	resp.Body.Close()
	want := seen{http.MethodPost, `{"q":"<x>"}`, "application/json", UserAgent, "k"}
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("requests = %+v, want two of %+v", got, want)
	}
	got = nil
	resp, err = Send(t.Context(), http.DefaultClient, Request{URL: u, Header: http.Header{"User-Agent": {"own"}}}, Policy{Attempts: 1})
	if err == nil {
		resp.Body.Close()
	}
	if len(got) != 1 || got[0] != (seen{method: http.MethodGet, ua: "own"}) {
		t.Errorf("requests = %+v, want one bare GET with its own User-Agent", got)
	}
}

func TestSendEncodeError(t *testing.T) {
	_, err := Send(t.Context(), http.DefaultClient, Request{URL: "http://127.0.0.1:1/", JSON: math.Inf(1)}, Policy{})
	if backend.KindOf(err) != backend.KindBadResponse || !strings.Contains(err.Error(), "encode request") {
		t.Errorf("Send(unencodable) error = %v, want bad_response encode request", err)
	}
}

func TestCheckEventStream(t *testing.T) {
	secret := backend.NewSecret("sk-4711")
	for ctype, wantErr := range map[string]bool{
		"text/event-stream":        false,
		"":                         false,
		"text/plain":               false,
		"application/json":         true,
		"text/html; charset=utf-8": true,
	} {
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ctype}}, Body: io.NopCloser(strings.NewReader(`{"error":"key sk-4711 unknown"}`))}
		err := CheckEventStream(resp, secret)
		if (err != nil) != wantErr || (err != nil && (backend.KindOf(err) != backend.KindBadResponse || strings.Contains(err.Error(), "sk-4711"))) {
			t.Errorf("CheckEventStream(%q) = %v, want error %v (bad_response, scrubbed)", ctype, err, wantErr)
		}
	}
}

func TestCheckWord(t *testing.T) {
	tests := []struct {
		v        string
		required bool
		want     string
	}{
		{"abc", true, ""},
		{"", false, ""},
		{"", true, "bot_id: required"},
		{"a b", false, `bot_id "a b": must not contain spaces`},
		{"a\x00", true, `bot_id "a\x00": must not contain spaces`},
	}
	for _, tt := range tests {
		err := CheckWord("bot_id", tt.v, tt.required)
		if got := errText(err); got != tt.want {
			t.Errorf("CheckWord(%q, %v) = %q, want %q", tt.v, tt.required, got, tt.want)
		}
	}
	for key, want := range map[string]string{"": "api_key: required", "sk-1": "", "sk 1\n": "api_key: must not contain spaces or control characters"} {
		if got := errText(CheckKey(backend.NewSecret(key), true)); got != want {
			t.Errorf("CheckKey(%q) = %q, want %q", key, got, want)
		}
	}
	if err := CheckKey(backend.Secret{}, false); err != nil {
		t.Errorf("CheckKey(unset, optional) = %v, want nil", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestNewConn: the base URL is checked and its API root trimmed, the idle
// default applied, a negative idle timeout refused; Send retries what
// Probe sends once.
func TestNewConn(t *testing.T) {
	tests := []struct {
		name string
		s    Service
		base string
		idle time.Duration
		err  string
	}{
		{"defaults", Service{Default: "https://d.example/v1/public"}, "https://d.example/v1/public", DefaultIdle, ""},
		{"root trimmed", Service{BaseURL: "http://127.0.0.1:1/x/v1/public/", Root: "/v1/public", IdleTimeout: time.Second}, "http://127.0.0.1:1/x", time.Second, ""},
		{"bad base", Service{BaseURL: "ftp://x", IdleTimeout: -1}, "", 0, "base_url"},
		{"negative idle", Service{Default: "https://d.example", IdleTimeout: -time.Second}, "", 0, "idle_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewConn(tt.s, backend.Deps{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("NewConn() error = %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil || c.Base != tt.base || c.Idle != tt.idle || c.HTTP == nil || c.Log == nil {
				t.Errorf("NewConn() = %+v, %v; want base %q, idle %v, a client and a logger", c, err, tt.base, tt.idle)
			}
		})
	}

	calls := 0
	u := server(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"sk-4711 overloaded"}`)
	})
	c, err := NewConn(Service{BaseURL: u, APIKey: backend.NewSecret("sk-4711")}, backend.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for name, send := range map[string]struct {
		f     func(context.Context, Request) (*http.Response, error)
		calls int
	}{"Send": {c.Send, 3}, "Probe": {c.Probe, 1}} {
		calls = 0
		_, err := send.f(t.Context(), Request{URL: c.Base + "/x"})
		if calls != send.calls || backend.KindOf(err) != backend.KindUnavailable || strings.Contains(err.Error(), "sk-4711") {
			t.Errorf("%s() = %d requests, error %v; want %d, unavailable, the key scrubbed", name, calls, err, send.calls)
		}
	}
	if o := c.Decoder("conv"); o.ConversationID != "conv" || o.Secret != c.Secret || o.Log != c.Log {
		t.Errorf("Decoder(conv) = %+v, want the conversation, c's secret and logger", o)
	}
}
