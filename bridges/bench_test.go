package bridges

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nopPlatform accepts every request at once.
type nopPlatform struct{ lim Limits }

func (p nopPlatform) Run(context.Context, Handler) error { return nil }
func (p nopPlatform) Send(context.Context, *Message, Out) (Sent, error) {
	return Sent{ID: "1"}, nil
}
func (p nopPlatform) Edit(context.Context, Sent, Out) error { return nil }
func (p nopPlatform) Limits(*Message) Limits                { return p.lim }

// BenchmarkLiveReply pushes a 240-chunk answer (about 1.2 KB) through one
// live reply against a platform that answers instantly, with no edit
// interval: the worst case for the coalescing writer. It reports chunks/s.
func BenchmarkLiveReply(b *testing.B) {
	const chunks = 240
	chunk := "word "
	lim := Limits{MaxLen: 4000, Budgets: []Budget{{Key: "chat", Every: 0}}}
	log := slog.New(slog.DiscardHandler)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := newReply(nopPlatform{lim}, &Message{}, lim, 0, newLimiter(), log)
		go r.run(context.Background())
		var sb strings.Builder
		for j := 0; j < chunks; j++ {
			sb.WriteString(chunk)
			r.update(sb.String())
		}
		r.finish(sb.String())
		r.wait()
	}
	b.ReportMetric(float64(b.N*chunks)/b.Elapsed().Seconds(), "chunks/s")
}

// BenchmarkSplit splits a 10,000-character answer for Telegram.
func BenchmarkSplit(b *testing.B) {
	text := strings.Repeat("A sentence of the answer, with some words. ", 250)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Split(text, 4000, UTF16)
	}
}

// BenchmarkLimiterBookDepart books and departs one request at a time in
// 1000 chats under a bot-wide rolling window, on a simulated clock: the
// cost of the booking and of the departure check per request.
func BenchmarkLimiterBookDepart(b *testing.B) {
	l := newLimiter()
	bot := Budget{Key: "bot", Every: time.Millisecond, Window: 30 * time.Millisecond, Max: 30}
	nests := make([][]Budget, 1000)
	for i := range nests {
		nests[i] = []Budget{{Key: "chat/" + strconv.Itoa(i), Every: time.Second, Burst: 2, Window: time.Minute, Max: 20}, bot}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bs := nests[i%len(nests)]
		t := l.reserve(now, bs)
		for {
			done, retry, ok := l.depart(t, bs)
			if ok {
				done(t.Add(100 * time.Microsecond))
				break
			}
			t = retry
		}
		now = t
	}
}
