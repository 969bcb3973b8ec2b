package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// replyRec is one question and its answer, as the fake backend streamed it
// and as the fake platform saw it arrive. It is guarded by its chat's mu.
type replyRec struct {
	conv, round int
	question    string
	answer      string
	asked       time.Time // when the question went to the bridge
	cum         []int     // answer length in bytes after chunk j

	// backend side
	depart   []time.Time // when chunk j left the backend
	eligible []bool      // the reply's edit window was open when chunk j left
	lastByte time.Time   // when the done event left
	finished bool        // the backend wrote its last byte

	// platform side
	msgs     []*botMsg
	lastReq  time.Time // when the platform finished the reply's latest request
	shown    int       // chunks visible so far (first message or draft)
	reqs     []reqEvent
	n429     int
	latency  []time.Duration
	complete bool
	correct  bool
	finalAt  time.Time
	final    string
	done     chan struct{}
	// byText: the platform marks no text as final (Slack, Discord), so
	// the reply is complete once the backend is done and the visible
	// text equals the answer; a wrong text never completes.
	byText bool
}

type reqEvent struct {
	At     time.Time
	Method string
	Chars  int // visible length of the first message/draft, bytes
	Final  bool
}

// newReply builds the answer to question number round of conversation
// conv: plain words like LLM tokens of about 4 characters, sentences
// ending in ". ", at least chars bytes, no Markdown, so that Telegram's
// HTML rendering of it is the identity.
func newReply(conv, round, chars int) *replyRec {
	rng := rand.New(rand.NewPCG(uint64(conv), uint64(round)))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	var cum []int
	capital := true
	words := 0
	for b.Len() < chars {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		n := 2 + rng.IntN(4) // 2..5 letters: " " + word ≈ 4.5 bytes a chunk
		for i := range n {
			c := letters[rng.IntN(len(letters))]
			if i == 0 && capital {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
		}
		capital = false
		words++
		if words%12 == 0 || b.Len() >= chars {
			b.WriteByte('.')
			capital = true
		}
		cum = append(cum, b.Len())
	}
	return &replyRec{
		conv: conv, round: round,
		question: fmt.Sprintf("Question %d.%d: tell me something", conv, round),
		answer:   b.String(), cum: cum, done: make(chan struct{}),
	}
}

// chunk returns chunk j of the answer.
func (r *replyRec) chunk(j int) string {
	start := 0
	if j > 0 {
		start = r.cum[j-1]
	}
	return r.answer[start:r.cum[j]]
}

// request records one accepted platform request carrying visible text for
// message m (nil for a draft). Chunks newly visible in the first message
// or draft whose window was open when they left the backend give latency
// samples.
func (r *replyRec) request(at time.Time, method, visible string, final bool, m *botMsg) {
	first := m == nil || (len(r.msgs) > 0 && r.msgs[0] == m)
	ev := reqEvent{At: at, Method: method, Final: final, Chars: -1}
	if first && strings.HasPrefix(r.answer, visible) {
		ev.Chars = len(visible)
		k := r.shown
		for k < len(r.cum) && r.cum[k] <= len(visible) && k < len(r.depart) {
			if r.eligible[k] {
				r.latency = append(r.latency, at.Sub(r.depart[k]))
				if debugLat && at.Sub(r.depart[k]) > 50*time.Millisecond {
					var b strings.Builder
					fmt.Fprintf(&b, "conv %d.%d chunk %d/%d departed %v; reqs:", r.conv, r.round, k, len(r.cum), r.depart[k].Sub(r.depart[0]))
					for _, q := range r.reqs {
						fmt.Fprintf(&b, " %s@%v(%d)", q.Method, q.At.Sub(r.depart[0]), q.Chars)
					}
					fmt.Fprintf(&b, " now %s@%v", method, at.Sub(r.depart[0]))
					fmt.Fprintln(os.Stderr, b.String())
				}
			}
			k++
		}
		r.shown = k
		// A chunk that left the backend less than inTransit before this
		// request arrived without it was still on its way to the bridge
		// when the bridge took its text: the request closes its window.
		for j := k; j < len(r.depart) && r.depart[j].Before(at); j++ {
			if at.Sub(r.depart[j]) < inTransit {
				r.eligible[j] = false
			}
		}
	}
	r.reqs = append(r.reqs, ev)
	r.checkComplete(at)
	if r.byText && r.complete && r.finalAt.Equal(at) {
		r.reqs[len(r.reqs)-1].Final = true
	}
}

// checkComplete ends the reply once the backend is done and every message
// of it has its final (HTML) text: the visible texts, joined, must equal
// the answer (exactly for one message; modulo the blanks at split points
// for several).
func (r *replyRec) checkComplete(at time.Time) {
	if r.complete || !r.finished || len(r.msgs) == 0 {
		return
	}
	parts := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		if !r.byText && m.mode != "HTML" {
			return
		}
		parts[i] = m.visible
	}
	final, correct := joinParts(parts, r.answer)
	if r.byText && !correct {
		r.final = final // for the report, if it never completes
		return
	}
	r.complete, r.finalAt, r.final, r.correct = true, at, final, correct
	close(r.done)
}

// joinParts joins the visible texts of a reply's messages and compares
// them with the answer: exactly for one message; modulo the blanks at the
// split points for several.
func joinParts(parts []string, answer string) (string, bool) {
	if len(parts) == 1 {
		return parts[0], parts[0] == answer
	}
	final := strings.Join(parts, " ")
	return final, strings.Join(strings.Fields(final), " ") == strings.Join(strings.Fields(answer), " ")
}

// ciqFake is a loopback ChatbotIQ streaming endpoint
// (POST .../v1/public/chat/stream, Server-Sent Events): it answers each
// question with its conversation's answer at a fixed chunk rate.
type ciqFake struct {
	p        fakePlatform
	every    time.Duration // between chunks
	activity *atomic.Int64 // UnixNano of the latest chunk
}

func (b *ciqFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/v1/public/chat/stream") {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	var req struct {
		BotID   string `json:"bot_id"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.BotID == "" {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	var conv, round int
	if _, err := fmt.Sscanf(req.Message, "Question %d.%d:", &conv, &round); err != nil {
		http.Error(w, `{"error":"unknown question"}`, http.StatusBadRequest)
		return
	}
	c := b.p.conv(conv)
	if c == nil {
		http.Error(w, `{"error":"unknown conversation"}`, http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	rep := c.cur
	c.mu.Unlock()
	if rep == nil || rep.round != round {
		http.Error(w, `{"error":"stale question"}`, http.StatusBadRequest)
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "data: {\"type\":\"status\",\"stage\":\"generating\"}\n\n")
	fl.Flush()
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	buf := make([]byte, 0, 128)
	for j := range rep.cum {
		if d := time.Until(start.Add(time.Duration(j) * b.every)); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		buf = append(buf[:0], `data: {"type":"content","content":`...)
		q, _ := json.Marshal(rep.chunk(j))
		buf = append(buf, q...)
		buf = append(buf, "}\n\n"...)
		now := time.Now()
		c.mu.Lock()
		// The last chunk goes out with the final text, which the final
		// delay measures; only the chunks before it give latency samples.
		last := j == len(rep.cum)-1
		rep.eligible = append(rep.eligible, !last && b.p.windowOpenLocked(conv, rep, now))
		rep.depart = append(rep.depart, now)
		c.mu.Unlock()
		if _, err := w.Write(buf); err != nil {
			return
		}
		fl.Flush()
		if b.activity != nil {
			b.activity.Store(now.UnixNano())
		}
	}
	c.mu.Lock()
	rep.lastByte, rep.finished = time.Now(), true
	rep.checkComplete(rep.lastByte)
	c.mu.Unlock()
	fmt.Fprintf(w, "data: {\"type\":\"done\",\"conversation_id\":\"conv-%d\"}\n\n", conv)
	fl.Flush()
}

// inTransit is how long a chunk may take from the backend to the bridge's
// reply before the latency measurement counts it as waiting.
const inTransit = 2 * time.Millisecond

var debugLat = os.Getenv("BRIDGE_LOAD_DEBUG") != ""
