package wiretest

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

// SizedReader returns Data in reads of N bytes, as a network connection
// would.
type SizedReader struct {
	Data []byte
	N    int
}

func (r *SizedReader) Read(p []byte) (int, error) {
	if len(r.Data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.N)], r.Data)
	r.Data = r.Data[n:]
	return n, nil
}

// Repeat returns head, then line as many times as it takes to pass size
// bytes in all, then tail, and how many times line is in it: the body of
// a benchmark.
func Repeat(head, line, tail string, size int) (body []byte, lines int) {
	var buf bytes.Buffer
	buf.WriteString(head)
	for buf.Len() < size {
		buf.WriteString(line)
		lines++
	}
	buf.WriteString(tail)
	return buf.Bytes(), lines
}

// BenchStream benchmarks a decoder: newDecoder opens it over body (in
// reads of readSize bytes; 0 = all at once), and check verifies each
// run's count of events and bytes of Delta text. It reports
// allocs/event and events/op beside the usual figures.
func BenchStream(b *testing.B, in []byte, readSize int, newDecoder func(body io.ReadCloser) backend.Decoder, check func(events, text int) bool) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, loops, total := ms.Mallocs, 0, 0
	for b.Loop() {
		loops++
		var r io.Reader = bytes.NewReader(in)
		if readSize > 0 {
			r = &SizedReader{Data: in, N: readSize}
		}
		s := backend.NewStream(newDecoder(io.NopCloser(r)))
		events, text := 0, 0
		for s.Next() {
			events++
			if d, ok := s.Current().(backend.Delta); ok {
				text += len(d.Text)
			}
		}
		total += events
		if s.Err() != nil || !check(events, text) {
			b.Fatalf("decoded %d events, %d bytes of text, err %v", events, text, s.Err())
		}
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-before)/float64(max(total, 1)), "allocs/event")
	b.ReportMetric(float64(total)/float64(loops), "events/op")
}
