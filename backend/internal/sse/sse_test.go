package sse

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

// result is everything a decoder reports for one input.
type result struct {
	Events     []Event
	Incomplete *Event
	Err        string
}

func decodeAll(r io.Reader) result {
	var res result
	dec := NewDecoder(r)
	for dec.Next() {
		res.Events = append(res.Events, dec.Event())
	}
	if err := dec.Err(); err != nil {
		res.Err = err.Error()
	}
	if ev, ok := dec.Incomplete(); ok {
		res.Incomplete = &ev
	}
	return res
}

func msg(data string) Event { return Event{Type: "message", Data: data} }

func TestDecoder(t *testing.T) {
	tests := map[string]struct {
		in   string
		want result
	}{
		"empty":                     {"", result{}},
		"one event":                 {"data: hello\n\n", result{Events: []Event{msg("hello")}}},
		"no space":                  {"data:hello\n\n", result{Events: []Event{msg("hello")}}},
		"two spaces":                {"data:  hello\n\n", result{Events: []Event{msg(" hello")}}},
		"multi-line data":           {"data: a\ndata: b\ndata\ndata:\n\n", result{Events: []Event{msg("a\nb\n\n")}}},
		"empty data":                {"data\n\n", result{Events: []Event{msg("")}}},
		"CRLF":                      {"data: a\r\n\r\ndata: b\r\n\r\n", result{Events: []Event{msg("a"), msg("b")}}},
		"CR":                        {"data: a\r\rdata: b\r\r", result{Events: []Event{msg("a"), msg("b")}}},
		"mixed endings":             {"data: a\r\ndata: b\rdata: c\n\r\n", result{Events: []Event{msg("a\nb\nc")}}},
		"LF CR is two":              {"data: a\n\rdata: b\n\n", result{Events: []Event{msg("a"), msg("b")}}},
		"BOM":                       {"\xEF\xBB\xBFdata: a\n\n", result{Events: []Event{msg("a")}}},
		"only first BOM":            {"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n", result{}},
		"BOM only":                  {"\xEF\xBB\xBF", result{}},
		"comments":                  {": ping\n:\ndata: a\n: mid\n\n: bye\n", result{Events: []Event{msg("a")}}},
		"event type":                {"event: done\ndata: {}\n\ndata: x\n\n", result{Events: []Event{{Type: "done", Data: "{}"}, msg("x")}}},
		"empty type":                {"event:\ndata: x\n\n", result{Events: []Event{msg("x")}}},
		"type reset without data":   {"event: a\n\ndata: x\n\n", result{Events: []Event{msg("x")}}},
		"last type wins":            {"event: a\nevent: b\ndata: x\n\n", result{Events: []Event{{Type: "b", Data: "x"}}}},
		"id persists":               {"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", result{Events: []Event{{Type: "message", Data: "a", ID: "7"}, {Type: "message", Data: "b", ID: "7"}, msg("c")}}},
		"id with NUL":               {"id: 1\ndata: a\n\nid: x\x00y\ndata: b\n\n", result{Events: []Event{{Type: "message", Data: "a", ID: "1"}, {Type: "message", Data: "b", ID: "1"}}}},
		"retry":                     {"retry: 1500\ndata: a\n\nretry: x1\ndata: b\n\n", result{Events: []Event{{Type: "message", Data: "a", Retry: 1500 * time.Millisecond}, {Type: "message", Data: "b", Retry: 1500 * time.Millisecond}}}},
		"retry overflow":            {"retry: 99999999999999999999999\ndata: a\n\n", result{Events: []Event{msg("a")}}},
		"unknown field":             {"foo: bar\ndata: a\n\n", result{Events: []Event{msg("a")}}},
		"field no colon":            {"data\ndata\n\n", result{Events: []Event{msg("\n")}}},
		"colon in value":            {"data: a: b\n\n", result{Events: []Event{msg("a: b")}}},
		"no dispatch without data":  {"id: 1\n\n", result{}},
		"invalid utf8":              {"data: a\xffb\n\n", result{Events: []Event{msg("a\uFFFDb")}}},
		"utf8":                      {"data: héllo ✓ 🙂\n\n", result{Events: []Event{msg("héllo ✓ 🙂")}}},
		"truncated no blank":        {"data: a\n\ndata: b\n", result{Events: []Event{msg("a")}, Incomplete: &Event{Type: "message", Data: "b"}}},
		"truncated no line ending":  {"data: a\n\ndata: {\"x\"", result{Events: []Event{msg("a")}, Incomplete: &Event{Type: "message", Data: `{"x"`}}},
		"truncated event only":      {"data: a\n\nevent: x\n", result{Events: []Event{msg("a")}, Incomplete: &Event{Type: "x"}}},
		"trailing comment complete": {"data: a\n\n: bye", result{Events: []Event{msg("a")}}},
		"trailing CR is a line end": {"data: a\r\r", result{Events: []Event{msg("a")}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := decodeAll(strings.NewReader(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decode(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if ref := reference(tt.in); !cmp.Equal(ref, got) {
				t.Errorf("decode(%q) differs from the reference decoder:\n%s", tt.in, cmp.Diff(ref, got))
			}
		})
	}
}

// TestSplitEverywhere feeds each input in two reads cut at every byte, and
// one byte per read, and expects the result of a single read.
func TestSplitEverywhere(t *testing.T) {
	inputs := []string{
		"\xEF\xBB\xBFdata: a\r\n\r\nevent: t\rdata: b\r\rid: 1\ndata: c\n\n",
		"data: héllo 🙂\r\n\r\n: c\r\ndata: x\r\ndata\r\n\r\n",
		"data: a\r\n\r\ndata: tail",
	}
	for _, in := range inputs {
		want := decodeAll(strings.NewReader(in))
		for i := 0; i <= len(in); i++ {
			got := decodeAll(io.MultiReader(strings.NewReader(in[:i]), strings.NewReader(in[i:])))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decode(%q split at %d) mismatch (-whole +split):\n%s", in, i, diff)
			}
		}
		if got := decodeAll(iotest.OneByteReader(strings.NewReader(in))); !cmp.Equal(want, got) {
			t.Errorf("decode(%q one byte per read) mismatch:\n%s", in, cmp.Diff(want, got))
		}
	}
}

// TestCRLFAcrossReads: a CR ending one read dispatches at once (no wait for
// the next read), and the LF starting the next read is not a second line.
func TestCRLFAcrossReads(t *testing.T) {
	pr, pw := io.Pipe()
	dec := NewDecoder(pr)
	go func() {
		pw.Write([]byte("data: a\r\n\r"))
		pw.Write([]byte("\ndata: b\r\n\r\n"))
		pw.Close()
	}()
	var got []string
	for dec.Next() {
		got = append(got, dec.Event().Data)
	}
	if !cmp.Equal(got, []string{"a", "b"}) || dec.Err() != nil {
		t.Errorf("events = %q, err %v; want [a b], nil", got, dec.Err())
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	dec := NewDecoder(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom)))
	if !dec.Next() || dec.Event().Data != "a" {
		t.Fatalf("first event = %+v, want a", dec.Event())
	}
	if dec.Next() {
		t.Fatalf("Next() = true after the read error")
	}
	if !errors.Is(dec.Err(), boom) {
		t.Errorf("Err() = %v, want boom", dec.Err())
	}
	if ev, ok := dec.Incomplete(); !ok || ev.Data != "b" {
		t.Errorf("Incomplete() = %+v, %v; want data b", ev, ok)
	}
}

func TestTooLarge(t *testing.T) {
	tests := map[string]string{
		"long line":  "data: " + strings.Repeat("x", 200) + "\n\n",
		"long event": strings.Repeat("data: "+strings.Repeat("x", 50)+"\n", 5) + "\n",
		"no newline": strings.Repeat("x", 1000),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			dec := NewDecoderSize(strings.NewReader(in), 100)
			for dec.Next() {
				t.Errorf("unexpected event %+v", dec.Event())
			}
			if !errors.Is(dec.Err(), ErrTooLarge) {
				t.Errorf("Err() = %v, want ErrTooLarge", dec.Err())
			}
		})
	}
}

func TestNoProgress(t *testing.T) {
	dec := NewDecoder(zeroReader{})
	if dec.Next() || !errors.Is(dec.Err(), io.ErrNoProgress) {
		t.Errorf("Err() = %v, want io.ErrNoProgress", dec.Err())
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// reference is a deliberately naive decoder written straight from the
// standard's prose, over the whole input at once.
func reference(in string) result {
	var res result
	in = strings.TrimPrefix(in, "\uFEFF")
	var lines []string
	terminated := true
	for len(in) > 0 {
		i := strings.IndexAny(in, "\r\n")
		if i < 0 {
			lines = append(lines, in)
			terminated = false
			break
		}
		lines = append(lines, in[:i])
		if strings.HasPrefix(in[i:], "\r\n") {
			in = in[i+2:]
		} else {
			in = in[i+1:]
		}
	}
	var data, typ, id string
	var retry time.Duration
	hasData, inEvent := false, false
	for n, line := range lines {
		last := n == len(lines)-1 && !terminated
		if line == "" && !last {
			inEvent = false
			if hasData {
				ev := Event{Type: "message", Data: strings.TrimSuffix(data, "\n"), ID: id, Retry: retry}
				if typ != "" {
					ev.Type = typ
				}
				ev.Data = strings.ToValidUTF8(ev.Data, "\uFFFD")
				ev.Type = strings.ToValidUTF8(ev.Type, "\uFFFD")
				res.Events = append(res.Events, ev)
			}
			data, typ, hasData = "", "", false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		inEvent = true
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "data":
			data += value + "\n"
			hasData = true
		case "event":
			typ = value
		case "id":
			if !strings.Contains(value, "\x00") {
				id = strings.ToValidUTF8(value, "\uFFFD")
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				var ms int64
				ok := true
				for _, c := range value {
					if ms > (1<<63-1)/int64(time.Millisecond)/10 {
						ok = false
						break
					}
					ms = ms*10 + int64(c-'0')
				}
				if ok && ms <= (1<<63-1)/int64(time.Millisecond) {
					retry = time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
	if inEvent {
		ev := Event{Type: "message", Data: strings.ToValidUTF8(strings.TrimSuffix(data, "\n"), "\uFFFD"), ID: id, Retry: retry}
		if typ != "" {
			ev.Type = strings.ToValidUTF8(typ, "\uFFFD")
		}
		res.Incomplete = &ev
	}
	return res
}

// FuzzDecoder checks that feeding the input in arbitrary pieces gives the
// same result as one read, and that both agree with the reference decoder.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		"data: a\r\n\r\n", "\xEF\xBB\xBFdata: x\r\rid: 1\nretry: 10\ndata:y\n\n", "event: e\ndata\n\n:c\n",
		"data: a\n\ndata: b", "data: \xff\xfe\n\n", "id: a\x00b\n", "data: a\r", "\xEF\xBB",
	} {
		f.Add([]byte(s), []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole := decodeAll(bytes.NewReader(in))
		if ref := reference(string(in)); !cmp.Equal(ref, whole) {
			t.Fatalf("decode(%q) differs from the reference:\n%s", in, cmp.Diff(ref, whole))
		}
		got := decodeAll(&chunkReader{data: in, cuts: cuts})
		if !cmp.Equal(whole, got) {
			t.Fatalf("decode(%q in pieces %v) differs from one read:\n%s", in, cuts, cmp.Diff(whole, got))
		}
	})
}

// chunkReader returns data in pieces whose sizes come from cuts (0 means
// an empty read, never two in a row), cycling.
type chunkReader struct {
	data  []byte
	cuts  []byte
	i     int
	empty bool // the last read was empty
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.cuts) > 0 {
		n = int(c.cuts[c.i%len(c.cuts)]) % 17
		c.i++
		if n == 0 && c.empty {
			n = 1 // never two empty reads in a row
		}
		c.empty = n == 0
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func BenchmarkDecoder(b *testing.B) {
	in, events := wiretest.Repeat("", "data: {\"type\":\"content\",\"content\":\"some words of an answer \"}\n\n", "", 1<<20)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	loops := 0
	for b.Loop() {
		loops++
		dec := NewDecoder(bytes.NewReader(in))
		n := 0
		for dec.Next() {
			n++
		}
		if n != events {
			b.Fatalf("decoded %d events, want %d", n, events)
		}
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(loops*events), "allocs/event")
}

func TestIndexEOL(t *testing.T) {
	for in, want := range map[string]int{"": -1, "abc": -1, "a\nb": 1, "a\rb": 1, "a\r\nb": 1, "ab\n\r": 2, "\n": 0, "a\nb\r": 1} {
		if got := IndexEOL([]byte(in)); got != want {
			t.Errorf("IndexEOL(%q) = %d, want %d", in, got, want)
		}
	}
}
