package chatbotiq

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

// BenchmarkDecode decodes a ~1 MB answer of content events.
func BenchmarkDecode(b *testing.B) {
	var buf bytes.Buffer
	events := 0
	for buf.Len() < 1<<20 {
		buf.WriteString("data: {\"type\":\"content\",\"content\":\"some words of the answer, \"}\n\n")
		events++
	}
	buf.WriteString("data: {\"type\":\"done\",\"conversation_id\":\"c\"}\n\n")
	events++
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, loops := ms.Mallocs, 0
	for b.Loop() {
		loops++
		s := backend.NewStream(newDecoder(io.NopCloser(bytes.NewReader(in)), nil))
		n := 0
		for s.Next() {
			n++
		}
		if s.Err() != nil || n != events {
			b.Fatalf("decoded %d events, err %v; want %d", n, s.Err(), events)
		}
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-before)/float64(loops*events), "allocs/event")
}
