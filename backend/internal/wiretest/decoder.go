package wiretest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
)

// Decode returns a DecoderCheck.Decode that runs the decoder newDecoder
// opens over the body.
func Decode(newDecoder func(body io.ReadCloser) backend.Decoder) func(r io.Reader) ([]backend.Event, error) {
	return func(r io.Reader) ([]backend.Event, error) {
		return Events(backend.NewStream(newDecoder(io.NopCloser(r))))
	}
}

// Events drains s and returns its events and the error that ended it.
func Events(s *backend.Stream) ([]backend.Event, error) {
	defer s.Close()
	var evs []backend.Event
	for s.Next() {
		evs = append(evs, s.Current())
	}
	return evs, s.Err()
}

// ChunkReader returns Data in reads of the sizes Cuts describes (each
// 1..16 bytes, cycling); without cuts, all at once.
type ChunkReader struct {
	Data, Cuts []byte
	i          int
}

func (c *ChunkReader) Read(p []byte) (int, error) {
	if len(c.Data) == 0 {
		return 0, io.EOF
	}
	n := len(c.Data)
	if len(c.Cuts) > 0 {
		n = int(c.Cuts[c.i%len(c.Cuts)])%16 + 1
		c.i++
	}
	n = min(n, len(p), len(c.Data))
	copy(p, c.Data[:n])
	c.Data = c.Data[n:]
	return n, nil
}

// DecoderCheck is the property every stream decoder's fuzz target checks:
// it never panics, returns only classified errors (*backend.Error), ends
// with at most one Done (last), and yields the same events and error kind
// whether the body arrives at once or in the pieces cuts describe.
type DecoderCheck struct {
	// Decode runs the package's decoder over r.
	Decode func(r io.Reader) ([]backend.Event, error)
	// Secret, when set, must never appear in an error.
	Secret string
	// ValidDeltas requires every Delta to be non-empty valid UTF-8.
	ValidDeltas bool
	// OneByte also feeds the body one byte per read.
	OneByte bool
	// MergeDeltas compares the events with adjacent deltas joined (for
	// decoders whose delta boundaries follow the reads).
	MergeDeltas bool
}

// Run checks in, cut as cuts describe.
func (c DecoderCheck) Run(t *testing.T, in, cuts []byte) {
	t.Helper()
	whole, werr := c.Decode(bytes.NewReader(in))
	var be *backend.Error
	if werr != nil && !errors.As(werr, &be) {
		t.Fatalf("error %v (%T) is not a *backend.Error", werr, werr)
	}
	if werr != nil && c.Secret != "" && strings.Contains(werr.Error(), c.Secret) {
		t.Fatalf("error leaks the secret: %v", werr)
	}
	for i, ev := range whole {
		switch ev := ev.(type) {
		case backend.Done:
			if i != len(whole)-1 {
				t.Fatalf("Done is not last: %v", whole)
			}
		case backend.Delta:
			if c.ValidDeltas && (ev.Text == "" || !utf8.ValidString(ev.Text)) {
				t.Fatalf("Delta %q: want non-empty valid UTF-8", ev.Text)
			}
		}
	}
	norm := func(evs []backend.Event) []backend.Event { return evs }
	if c.MergeDeltas {
		norm = MergeDeltas
	}
	cutsList := [][]byte{cuts}
	if c.OneByte {
		cutsList = append(cutsList, []byte{0}) // {0}: one byte per read
	}
	for _, cs := range cutsList {
		pieces, perr := c.Decode(&ChunkReader{Data: in, Cuts: cs})
		if !cmp.Equal(norm(whole), norm(pieces)) || backend.KindOf(werr) != backend.KindOf(perr) || (werr == nil) != (perr == nil) {
			t.Fatalf("whole: %v, %v; in pieces %v: %v, %v", whole, werr, cs, pieces, perr)
		}
	}
}

// MergeDeltas joins adjacent deltas.
func MergeDeltas(evs []backend.Event) []backend.Event {
	var out []backend.Event
	for _, ev := range evs {
		if d, ok := ev.(backend.Delta); ok && len(out) > 0 {
			if prev, ok := out[len(out)-1].(backend.Delta); ok {
				out[len(out)-1] = backend.Delta{Text: prev.Text + d.Text}
				continue
			}
		}
		out = append(out, ev)
	}
	return out
}
