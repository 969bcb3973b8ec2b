package bridges

import (
	"context"
	"log/slog"
	"strings"
	"testing"
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
