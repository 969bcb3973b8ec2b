package bridges_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// groupLimits are a Telegram group's: one reply edits at most every 3 s,
// and the chat takes at most 20 requests in any minute.
var groupLimits = bridges.Limits{
	MaxLen: 4000, Unit: bridges.Runes, EditInterval: 3 * time.Second,
	Budgets: []bridges.Budget{{Key: "fake/t/chat/g1", Every: 3 * time.Second, Burst: 19, Window: time.Minute, Max: 20}},
}

func pipeAnswer(q string) string { return strings.Repeat("word"+q+" ", 30) }

// pipeRun asks questions A, B, C at once in one group conversation whose
// answers stream for 8 s each, waits for everything to settle, and
// returns what the backend and the platform saw.
type pipeRun struct {
	be        *bridgestest.Backend
	asked     map[string]time.Time // question → when the backend got it
	streamed  map[string]time.Time // question → when its stream ended
	firstPost map[string]time.Time
	finalAt   map[string]time.Time // when the whole answer landed as final
	// The same as positions among the platform's calls, which order
	// calls made at the same instant of the fake clock.
	firstIdx, finalIdx map[string]int
	posts              string // the answer of each message posted, in order
}

func runPipelined(t *testing.T, fail func(c bridgestest.Call) error) *pipeRun {
	t.Helper()
	pr := &pipeRun{asked: map[string]time.Time{}, streamed: map[string]time.Time{},
		firstPost: map[string]time.Time{}, finalAt: map[string]time.Time{},
		firstIdx: map[string]int{}, finalIdx: map[string]int{}}
	var mu sync.Mutex
	pr.be = &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
		steps := bridgestest.Answer(pipeAnswer(req.Question), 20, 400*time.Millisecond, "conv-"+req.Question)
		mu.Lock()
		defer mu.Unlock()
		pr.asked[req.Question] = time.Now()
		// Every delta waits 400 ms; Done follows the last at once.
		pr.streamed[req.Question] = time.Now().Add(time.Duration(len(steps)-1) * 400 * time.Millisecond)
		return steps
	}}
	p := bridgestest.NewPlatform(groupLimits)
	p.Fail = fail
	r, err := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore()})
	if err != nil {
		t.Fatal(err)
	}
	h := r.Bind(p, bridges.Route{Name: "fake/t", BackendName: "fake", Backend: pr.be, Respond: "all"})
	qs := []string{"A", "B", "C"}
	for _, q := range qs {
		m := bridges.Message{Key: bridges.Key{Platform: "fake", Instance: "t", Chat: "g1"},
			ChatID: "g1", ID: "q-" + q, UserID: "u-" + q, Text: q}
		if err := h.Handle(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Minute)
	synctest.Wait()
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{} // message ID → question
	for i, c := range p.Calls() {
		if c.Op != "send" && c.Op != "edit" {
			continue
		}
		text := strings.TrimSpace(c.Out.Text)
		q := ""
		for _, cand := range qs {
			if text != "" && strings.HasPrefix(pipeAnswer(cand), text) {
				q = cand
			}
		}
		if q == "" {
			t.Fatalf("call %s %s carries no known answer: %.40q", c.Op, c.ID, c.Out.Text)
		}
		if c.Op == "send" {
			owner[c.ID] = q
			pr.posts += q
			if _, ok := pr.firstPost[q]; !ok {
				pr.firstPost[q], pr.firstIdx[q] = c.Time, i
			}
		} else if owner[c.ID] != q {
			t.Errorf("edit of %s (answer %s) carries answer %s", c.ID, owner[c.ID], q)
		}
		if c.Out.Final && text == strings.TrimSpace(pipeAnswer(q)) {
			pr.finalAt[q], pr.finalIdx[q] = c.Time, i
		}
	}
	for _, q := range qs {
		if pr.finalAt[q].IsZero() {
			t.Fatalf("answer %s: final text never landed", q)
		}
	}
	return pr
}

// checkOrder checks the order rule of pipelined answers: answer k+1's
// first message is posted after answer k's, and its final text lands
// after answer k's final.
func (pr *pipeRun) checkOrder(t *testing.T) {
	t.Helper()
	if pr.posts != "ABC" {
		t.Errorf("posts in order %q, want ABC (one message per answer, in question order)", pr.posts)
	}
	qs := []string{"A", "B", "C"}
	for i := 1; i < len(qs); i++ {
		prev, q := qs[i-1], qs[i]
		if pr.firstIdx[q] <= pr.firstIdx[prev] || pr.firstPost[q].Before(pr.firstPost[prev]) {
			t.Errorf("answer %s first posted at %v (call %d), not after answer %s's at %v (call %d)",
				q, pr.firstPost[q], pr.firstIdx[q], prev, pr.firstPost[prev], pr.firstIdx[prev])
		}
		if pr.finalIdx[q] <= pr.finalIdx[prev] || pr.finalAt[q].Before(pr.finalAt[prev]) {
			t.Errorf("answer %s final at %v (call %d), not after answer %s's final at %v (call %d)",
				q, pr.finalAt[q], pr.finalIdx[q], prev, pr.finalAt[prev], pr.finalIdx[prev])
		}
	}
}

// TestGroupAnswersPipelined: three questions asked at once in one
// conversation. The next question goes to the backend as soon as the
// previous answer's stream is done, carrying the stored conversation ID,
// before that answer's final text lands; the replies keep question order.
func TestGroupAnswersPipelined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr := runPipelined(t, nil)
		reqs := pr.be.Requests()
		if len(reqs) != 3 {
			t.Fatalf("backend asked %d questions, want 3", len(reqs))
		}
		qs := []string{"A", "B", "C"}
		for i := 1; i < len(qs); i++ {
			prev, q := qs[i-1], qs[i]
			if reqs[i].Question != q || reqs[i].ConversationID != "conv-"+prev {
				t.Errorf("request %d = %q with conversation %q; want %q with conv-%s (stored before it was asked)",
					i, reqs[i].Question, reqs[i].ConversationID, q, prev)
			}
			a, done := pr.asked[q], pr.streamed[prev]
			if !a.Before(pr.finalAt[prev]) {
				t.Errorf("question %s asked at %v, not before answer %s's final landed at %v (pipelined)", q, a, prev, pr.finalAt[prev])
			}
			if a.Before(done) || a.Sub(done) > 100*time.Millisecond {
				t.Errorf("question %s asked %v after answer %s's stream ended, want at once", q, a.Sub(done), prev)
			}
		}
		pr.checkOrder(t)
	})
}

// TestPipelinedRepliesKeepOrder: while answer A's messages are refused
// (its first post for 20 s, its final text for a minute), the answers
// after it, already streamed, wait: B posts only after A's message
// exists and lands its final only after A's final.
func TestPipelinedRepliesKeepOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		pr := runPipelined(t, func(c bridgestest.Call) error {
			text := strings.TrimSpace(c.Out.Text)
			if !strings.HasPrefix(text, "wordA") {
				return nil
			}
			if c.Op == "send" && time.Since(start) < 20*time.Second {
				return errors.New("502 Bad Gateway")
			}
			if c.Out.Final && text == strings.TrimSpace(pipeAnswer("A")) && time.Since(start) < time.Minute {
				return errors.New("502 Bad Gateway")
			}
			return nil
		})
		if !pr.asked["B"].Before(pr.firstPost["A"]) {
			t.Errorf("B asked at %v, after A's first post at %v: the refusals did not hold A back", pr.asked["B"], pr.firstPost["A"])
		}
		if pr.finalAt["A"].Sub(start) < time.Minute {
			t.Errorf("A's final landed at %v, before its refusals ended", pr.finalAt["A"].Sub(start))
		}
		pr.checkOrder(t)
	})
}
