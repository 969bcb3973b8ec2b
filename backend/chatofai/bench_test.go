package chatofai

import (
	"testing"

	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

// BenchmarkDecode decodes a ~1 MB answer (mixed ASCII and multi-byte text)
// delivered in 4 KiB reads, as a network connection would.
func BenchmarkDecode(b *testing.B) {
	const words = "some words of the answer, héllo 世界 😀 "
	in, n := wiretest.Repeat(`{"answer": "", "question": "q", "related_docs": [{"title":"T","url":"https://x.example/t"}], "conversation_uid": "c", "is_qa_mode": true, "system_message": ""}`+"\n"+separator, words, "", 1<<20)
	wiretest.BenchStream(b, in, 4<<10, openDecoder, func(_, text int) bool { return text == n*len(words) })
}
