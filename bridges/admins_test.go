package bridges_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
)

// TestResetByPlatformAdmins: with reset = "admins", /reset in a group is
// allowed for the configured admins (without asking the platform) and for
// those the platform says administer the chat; a member is refused, and
// when the platform cannot tell, only the list counts.
func TestResetByPlatformAdmins(t *testing.T) {
	tests := map[string]struct {
		user   string
		reset  bool
		asked  int
		reply  string
		logged string
	}{
		"member refused":        {user: "member", asked: 1, reply: "Only the group's admins"},
		"platform admin":        {user: "admin", reset: true, asked: 1, reply: "Started a new conversation."},
		"listed admin":          {user: "listed", reset: true, asked: 0, reply: "Started a new conversation."},
		"lookup fails: refused": {user: "flaky", asked: 1, reply: "Only the group's admins", logged: "only the configured admins may reset"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ap := bridgestest.NewAdminPlatform(testLimits, func(m *bridges.Message) (bool, error) {
					switch m.UserID {
					case "admin":
						return true, nil
					case "flaky":
						return false, errors.New("getChatMember: 502")
					}
					return false, nil
				})
				var logs logtest.Buffer
				h := bindHarness(t, bridges.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, ap, ap.Platform, bridges.Route{
					Backend: &bridgestest.Backend{Steps: answer("ok")},
					Policy:  bridges.Policy{ResetAdminsOnly: true, Admins: []string{"listed"}},
				})
				m := groupMsg(tt.user, "/reset")
				_ = h.store.Put(m.Key, storeRecord("fake", "c"))
				h.send(m)
				h.settle()
				if _, kept := h.store.Records()[m.Key.String()]; kept == tt.reset {
					t.Errorf("conversation kept = %v after /reset by %s, want reset %v", kept, tt.user, tt.reset)
				}
				if got := h.p.Visible(); !strings.Contains(got, tt.reply) {
					t.Errorf("reply = %q, want %q", got, tt.reply)
				}
				if ap.Asked() != tt.asked {
					t.Errorf("platform asked %d times, want %d", ap.Asked(), tt.asked)
				}
				if !strings.Contains(logs.String(), tt.logged) {
					t.Errorf("log lacks %q:\n%s", tt.logged, logs.String())
				}
			})
		})
	}
}

// TestPlatformAdminAnswerCached: the platform's answer is believed for 5
// minutes per chat and user, then asked again.
func TestPlatformAdminAnswerCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ap := bridgestest.NewAdminPlatform(testLimits, func(m *bridges.Message) (bool, error) { return m.UserID == "admin", nil })
		h := bindHarness(t, bridges.Config{}, ap, ap.Platform, bridges.Route{
			Backend: &bridgestest.Backend{Steps: answer("ok")},
			Policy:  bridges.Policy{ResetAdminsOnly: true},
		})
		h.send(groupMsg("admin", "/reset"))
		time.Sleep(time.Minute)
		h.send(groupMsg("admin", "/new"))
		synctest.Wait()
		if ap.Asked() != 1 {
			t.Errorf("asked %d times within 5 minutes, want 1", ap.Asked())
		}
		other := groupMsg("admin", "/reset")
		other.ChatID, other.Key.Chat = "g2", "g2"
		h.send(other)
		synctest.Wait()
		if ap.Asked() != 2 {
			t.Errorf("asked %d times after a reset in another chat, want 2 (cached per chat)", ap.Asked())
		}
		time.Sleep(5 * time.Minute)
		h.send(groupMsg("admin", "/reset"))
		h.settle()
		if ap.Asked() != 3 {
			t.Errorf("asked %d times after 6 minutes, want 3", ap.Asked())
		}
	})
}

// TestAdminLookupHoldsNoLock: while the platform is asked about an admin,
// other conversations are answered and /stop still works.
func TestAdminLookupHoldsNoLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		ap := bridgestest.NewAdminPlatform(testLimits, func(*bridges.Message) (bool, error) {
			<-release
			return true, nil
		})
		be := &bridgestest.Backend{Steps: answer("answer")}
		h := bindHarness(t, bridges.Config{}, ap, ap.Platform, bridges.Route{
			Backend: be,
			Policy:  bridges.Policy{ResetAdminsOnly: true},
		})
		h.send(groupMsg("boss", "/reset"))
		other := msg("elsewhere", "a question")
		h.send(other)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := h.p.Visible(); !strings.Contains(got, "answer") || len(be.Requests()) != 1 {
			t.Errorf("while the admin lookup waits, visible = %q with %d requests; want the other chat answered", got, len(be.Requests()))
		}
		close(release)
		h.settle()
		if got := h.p.Visible(); !strings.Contains(got, "Started a new conversation.") {
			t.Errorf("visible = %q, want the reset confirmed once the platform answered", got)
		}
	})
}
