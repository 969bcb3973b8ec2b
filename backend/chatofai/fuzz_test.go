package chatofai

import (
	"testing"

	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

// FuzzDecoder checks that the decoder never panics, returns only
// classified errors, ends with at most one Done, emits only non-empty valid
// UTF-8 deltas, and yields the same events (deltas joined) whether the body
// arrives at once, in the pieces cuts describes, or one byte at a time.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte(readFile(f, "testdata/answer.txt")), []byte{3, 1, 16})
	f.Add([]byte(`{"answer": "", "question": "Ut minim ex", "related_docs": [], "conversation_uid": "9628808a-dbb6-42c3-aba6-9fe5b772c724", "is_qa_mode": true, "system_message": ""}`+"\n"+separator+"answer"), []byte{31, 2})
	f.Add([]byte(`{"code":1001,"msg":"Invalid API key"}`), []byte{1})
	f.Add([]byte(`{"code":0,"data":{"answer":"a","conversation_uid":"c","related_docs":[{"metadata":{"source":"https://x.example"}}]}}`), []byte{})
	f.Add([]byte(separator+"a\xffb\xe4\xb8c\xf0\x9f\x98"), []byte{0, 2})
	f.Add([]byte(`{"related_docs":["https://x.example",{"title":"t"}],"system_message":"m"}`+separator[:16]), []byte{5})
	f.Add([]byte("6451301"+separator+"世界"), []byte{7, 1})
	check := wiretest.DecoderCheck{Decode: wiretest.Decode(openDecoder), ValidDeltas: true, OneByte: true, MergeDeltas: true}
	f.Fuzz(check.Run)
}
