package newoaks

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

// BenchmarkDecode decodes a ~1 MB answer of content lines (mixed ASCII and
// multi-byte text) and the final object repeating the whole answer,
// delivered in 4 KiB reads: "plain" chunks take the fast path, "escaped"
// ones (a newline, quotes) go through encoding/json.
func BenchmarkDecode(b *testing.B) {
	for name, chunk := range map[string]string{
		"plain":   "some words of the answer, héllo 世界 😀 ",
		"escaped": "some words of the \"answer\",\nhéllo 世界 😀 ",
	} {
		b.Run(name, func(b *testing.B) { benchmarkDecode(b, chunk) })
	}
}

func benchmarkDecode(b *testing.B, chunk string) {
	var buf bytes.Buffer
	var answer strings.Builder
	line, _ := json.Marshal(map[string]string{"content": chunk})
	events := 0
	for buf.Len() < 1<<19 {
		buf.Write(line)
		buf.WriteByte('\n')
		answer.WriteString(chunk)
		events++
	}
	final, _ := json.Marshal(map[string]any{"QuestionID": 1, "AnswerID": 2, "Answer": answer.String(), "TotalToken": 3})
	buf.Write(final)
	buf.WriteByte('\n')
	events++
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, loops := ms.Mallocs, 0
	for b.Loop() {
		loops++
		s := backend.NewStream(newDecoder(io.NopCloser(&sizedReader{data: in, n: 4 << 10}), decoderOptions{sessionID: "1"}))
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

// sizedReader returns data in reads of n bytes.
type sizedReader struct {
	data []byte
	n    int
}

func (r *sizedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[n:]
	return n, nil
}
