package newoaks

import (
	"encoding/json"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

// FuzzDecoder checks that the decoder never panics, returns only
// classified errors, ends with at most one Done, emits only non-empty valid
// UTF-8 deltas, and yields the same events whether the body arrives at
// once, in the pieces cuts describes, or one byte at a time.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte(readFile(f, "testdata/seed.txt")), []byte{3, 1, 16})
	f.Add([]byte(readFile(f, "testdata/answer.txt")), []byte{0})
	f.Add([]byte("data: {\"content\":\"a\"}\r\n\r\ndata: [DONE]\r\n\r\n"), []byte{2, 7})
	f.Add([]byte("{\r\n  \"Data\": null,\r\n  \"Success\": false,\r\n  \"Code\": 401,\r\n  \"Message\": \"Invalid key\"\r\n}"), []byte{5})
	f.Add([]byte(`{"content":"a"}{"content":"b"} {"Answer":"ab","noAnswer":true}`), []byte{1})
	f.Add([]byte(`{"Data":{"messageid":1,"content":"x","noAnswer":"true"},"Success":true}`), []byte{})
	f.Add([]byte("{\"content\":5}\r{\"Answer\":null,\"AnswerID\":[1]}\n: c\n// c\n[DONE]"), []byte{9, 3})
	f.Add([]byte("{\"content\":\"a\xffb\"}\n{\"QuestionID\":1,"), []byte{4})
	f.Add([]byte(`{"content":"plain é"}`), []byte{})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		if text, ok := plainContent(in); ok {
			var l struct {
				Content string `json:"content"`
			}
			if err := json.Unmarshal(in, &l); err != nil || l.Content != text {
				t.Fatalf("plainContent(%q) = %q; encoding/json: %q, %v", in, text, l.Content, err)
			}
		}
		wiretest.DecoderCheck{Decode: wiretest.Decode(openDecoder), ValidDeltas: true, OneByte: true}.Run(t, in, cuts)
	})
}
