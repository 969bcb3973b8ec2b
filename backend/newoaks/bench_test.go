package newoaks

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
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
	wiretest.BenchStream(b, buf.Bytes(), 4<<10, openDecoder, func(n, _ int) bool { return n == events })
}
