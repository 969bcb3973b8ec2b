package chatofai

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
)

// decodeBytes runs the stream decoder over r.
func decodeBytes(r io.Reader) ([]backend.Event, error) {
	s := backend.NewStream(newDecoder(io.NopCloser(r), decoderOptions{conversationID: "prev"}))
	defer s.Close()
	var evs []backend.Event
	for s.Next() {
		evs = append(evs, s.Current())
	}
	return evs, s.Err()
}

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
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole, werr := decodeBytes(bytes.NewReader(in))
		var be *backend.Error
		if werr != nil && !errors.As(werr, &be) {
			t.Fatalf("error %v (%T) is not a *backend.Error", werr, werr)
		}
		for i, ev := range whole {
			switch ev := ev.(type) {
			case backend.Done:
				if i != len(whole)-1 {
					t.Fatalf("Done is not last: %v", whole)
				}
			case backend.Delta:
				if ev.Text == "" || !utf8.ValidString(ev.Text) {
					t.Fatalf("Delta %q: want non-empty valid UTF-8", ev.Text)
				}
			}
		}
		for _, cs := range [][]byte{cuts, {0}} { // {0}: one byte per read
			pieces, perr := decodeBytes(&chunkReader{data: in, cuts: cs})
			if !cmp.Equal(merge(whole), merge(pieces)) || backend.KindOf(werr) != backend.KindOf(perr) || (werr == nil) != (perr == nil) {
				t.Fatalf("whole: %v, %v; in pieces %v: %v, %v", whole, werr, cs, pieces, perr)
			}
		}
	})
}

// chunkReader returns data in reads of the sizes cuts describes (each
// 1..16 bytes, cycling); without cuts, all at once.
type chunkReader struct {
	data, cuts []byte
	i          int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.cuts) > 0 {
		n = int(c.cuts[c.i%len(c.cuts)])%16 + 1
		c.i++
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}
