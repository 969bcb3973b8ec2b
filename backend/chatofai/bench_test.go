package chatofai

import (
	"bytes"
	"io"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
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
	want := len(in) - bytes.Index(in, []byte(separator)) - len(separator)
	wiretest.BenchStream(b, in, 4<<10, func(body io.ReadCloser) *backend.Stream {
		return backend.NewStream(newDecoder(body, wire.DecoderOptions{}))
	}, func(_, text int) bool { return text == want })
}
