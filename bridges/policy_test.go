package bridges_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

func TestParseRate(t *testing.T) {
	tests := map[string]bridges.Rate{
		"10/min": {N: 10, Per: time.Minute},
		"3/10s":  {N: 3, Per: 10 * time.Second},
		"100/h":  {N: 100, Per: time.Hour},
		"5/day":  {N: 5, Per: 24 * time.Hour},
		"":       {},
	}
	for in, want := range tests {
		if got, err := bridges.ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"10", "x/min", "10/fortnight", "-1/min"} {
		if _, err := bridges.ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) = nil error", bad)
		}
	}
}

func groupMsg(user, text string) bridges.Message {
	m := msg("g1", text)
	m.Private, m.Mentioned, m.UserID = false, true, user
	return m
}

func TestPolicyLimits(t *testing.T) {
	tests := map[string]struct {
		policy   bridges.Policy
		messages []bridges.Message
		asked    int
		reply    string
	}{
		"per-user rate": {
			policy:   bridges.Policy{UserRate: bridges.Rate{N: 2, Per: time.Minute}},
			messages: []bridges.Message{groupMsg("u1", "a"), groupMsg("u1", "b"), groupMsg("u1", "c"), groupMsg("u2", "d")},
			asked:    3, reply: "asking faster than I can answer",
		},
		"per-chat rate": {
			policy:   bridges.Policy{ChatRate: bridges.Rate{N: 2, Per: time.Minute}},
			messages: []bridges.Message{groupMsg("u1", "a"), groupMsg("u2", "b"), groupMsg("u3", "c")},
			asked:    2, reply: "This chat is asking faster",
		},
		"daily quota": {
			policy:   bridges.Policy{UserDailyQuota: 1},
			messages: []bridges.Message{groupMsg("u1", "a"), groupMsg("u1", "b")},
			asked:    1, reply: "today's limit",
		},
		"question too long": {
			policy:   bridges.Policy{},
			messages: []bridges.Message{groupMsg("u1", strings.Repeat("x", 4001)), groupMsg("u1", "ok")},
			asked:    1, reply: "too long (4001 characters)",
		},
		"reset by admins only": {
			policy:   bridges.Policy{ResetAdminsOnly: true, Admins: []string{"boss"}},
			messages: []bridges.Message{groupMsg("u1", "/reset"), groupMsg("boss", "/reset")},
			asked:    0, reply: "Only the group's admins",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				be := &bridgestest.Backend{Steps: answer("ok")}
				lim := testLimits
				lim.MaxLen = 500
				h := newHarness(t, lim, be, bridges.Route{Policy: tt.policy, Respond: "all"})
				for _, m := range tt.messages {
					h.send(m)
				}
				h.settle()
				if n := len(be.Requests()); n != tt.asked {
					t.Errorf("backend asked %d times, want %d (no backend call when refused)", n, tt.asked)
				}
				if got := strings.Join(h.p.Messages(), "|"); !strings.Contains(got, tt.reply) {
					t.Errorf("messages = %q, want a polite %q", got, tt.reply)
				}
			})
		})
	}
}

// reactPlatform records reactions.
type reactPlatform struct {
	*bridgestest.Platform
	reactions []string
}

func (p *reactPlatform) React(_ context.Context, m *bridges.Message, emoji string) error {
	p.reactions = append(p.reactions, m.ID+":"+emoji)
	return nil
}

func TestErrorPolicy(t *testing.T) {
	failing := &bridgestest.Backend{Steps: []bridgestest.Step{{Err: &backend.Error{Kind: backend.KindUnavailable}}}}
	tests := map[string]struct {
		policy    string
		wantMsgs  int
		reactions int
	}{
		"message, repeats suppressed": {policy: "message", wantMsgs: 1},
		"default is message":          {policy: "", wantMsgs: 1},
		"reaction":                    {policy: "reaction", wantMsgs: 0, reactions: 2},
		"silent":                      {policy: "silent", wantMsgs: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := bridgestest.NewStore()
				r, _ := bridges.NewRelay(bridges.Config{Store: st})
				p := &reactPlatform{Platform: bridgestest.NewPlatform(testLimits)}
				h := r.Bind(p, bridges.Route{Backend: failing, Policy: bridges.Policy{ErrorPolicy: tt.policy}})
				_ = h.Handle(context.Background(), groupMsg("u1", "one"))
				_ = h.Handle(context.Background(), groupMsg("u2", "two"))
				time.Sleep(30 * time.Second)
				synctest.Wait()
				if got := len(p.Messages()); got != tt.wantMsgs {
					t.Errorf("error messages in the group = %d (%q), want %d", got, p.Messages(), tt.wantMsgs)
				}
				if len(p.reactions) != tt.reactions {
					t.Errorf("reactions = %v, want %d", p.reactions, tt.reactions)
				}
				if tt.policy == "message" {
					// A minute later the same failure is shown again.
					time.Sleep(time.Minute)
					_ = h.Handle(context.Background(), groupMsg("u1", "three"))
					time.Sleep(time.Minute)
					synctest.Wait()
					if got := len(p.Messages()); got != 2 {
						t.Errorf("after a minute, error messages = %d, want 2", got)
					}
				}
				// In a private chat the error is always shown.
				_ = h.Handle(context.Background(), msg("dm", "four"))
				time.Sleep(time.Minute)
				synctest.Wait()
				if got := p.Messages(); !strings.Contains(got[len(got)-1], "unavailable") {
					t.Errorf("private chat error = %q", got)
				}
			})
		})
	}
}

// TestDailyQuotaSurvivesRestart: the daily quota is counted in the store,
// so a restart does not reset it.
func TestDailyQuotaSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kv := bridgestest.NewKV()
		be := &bridgestest.Backend{Steps: answer("ok")}
		pol := bridges.Policy{UserDailyQuota: 2}
		for run := range 2 {
			r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), QuotaKV: kv})
			p := bridgestest.NewPlatform(testLimits)
			h := r.Bind(p, bridges.Route{Backend: be, Policy: pol})
			_ = h.Handle(context.Background(), msg("c", fmt.Sprintf("q%d", run)))
			time.Sleep(time.Minute)
			synctest.Wait()
			_ = r.Shutdown(context.Background())
		}
		r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), QuotaKV: kv})
		p := bridgestest.NewPlatform(testLimits)
		h := r.Bind(p, bridges.Route{Backend: be, Policy: pol})
		_ = h.Handle(context.Background(), msg("c", "third"))
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(be.Requests()); n != 2 {
			t.Errorf("backend asked %d times over three runs with a quota of 2, want 2", n)
		}
		if got := p.Messages(); len(got) != 1 || !strings.Contains(got[0], "today's limit") {
			t.Errorf("third run replied %q, want the quota refusal", got)
		}
	})
}
