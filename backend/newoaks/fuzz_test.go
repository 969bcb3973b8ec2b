package newoaks

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
)

// decodeBytes runs the stream decoder over r.
func decodeBytes(r io.Reader) ([]backend.Event, error) {
	s := backend.NewStream(newDecoder(io.NopCloser(r), decoderOptions{sessionID: "77"}))
	defer s.Close()
	var evs []backend.Event
	for s.Next() {
		evs = append(evs, s.Current())
	}
	return evs, s.Err()
}

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
			if !cmp.Equal(whole, pieces) || backend.KindOf(werr) != backend.KindOf(perr) || (werr == nil) != (perr == nil) {
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
