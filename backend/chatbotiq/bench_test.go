package chatbotiq

import (
	"bytes"
	"io"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
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
	wiretest.BenchStream(b, buf.Bytes(), 0, func(body io.ReadCloser) *backend.Stream {
		return backend.NewStream(newDecoder(body, nil))
	}, func(n, _ int) bool { return n == events })
}
