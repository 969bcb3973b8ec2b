package chatbotiq

import (
	"testing"

	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

// BenchmarkDecode decodes a ~1 MB answer of content events.
func BenchmarkDecode(b *testing.B) {
	in, events := wiretest.Repeat("", "data: {\"type\":\"content\",\"content\":\"some words of the answer, \"}\n\n",
		"data: {\"type\":\"done\",\"conversation_id\":\"c\"}\n\n", 1<<20)
	wiretest.BenchStream(b, in, 0, openDecoder, func(n, _ int) bool { return n == events+1 })
}
