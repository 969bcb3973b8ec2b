package chatofai

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

// BenchmarkDecode decodes a ~1 MB answer (mixed ASCII and multi-byte text)
// delivered in 4 KiB reads, as a network connection would.
func BenchmarkDecode(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"answer": "", "question": "q", "related_docs": [{"title":"T","url":"https://x.example/t"}], "conversation_uid": "c", "is_qa_mode": true, "system_message": ""}` + "\n" + separator)
	for buf.Len() < 1<<20 {
		buf.WriteString("some words of the answer, héllo 世界 😀 ")
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, loops, events := ms.Mallocs, 0, 0
	for b.Loop() {
		loops++
		s := backend.NewStream(newDecoder(io.NopCloser(&sizedReader{data: in, n: 4 << 10}), decoderOptions{}))
		text := 0
		for s.Next() {
			events++
			if d, ok := s.Current().(backend.Delta); ok {
				text += len(d.Text)
			}
		}
		if s.Err() != nil || text != len(in)-bytes.Index(in, []byte(separator))-len(separator) {
			b.Fatalf("decoded %d bytes of text, err %v", text, s.Err())
		}
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-before)/float64(events), "allocs/event")
	b.ReportMetric(float64(events)/float64(loops), "events/op")
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
