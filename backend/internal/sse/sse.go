// Package sse decodes a Server-Sent Events stream (text/event-stream) as
// the WHATWG HTML standard specifies it ("9.2 Server-sent events",
// "Parsing an event stream" and "Interpreting an event stream"): UTF-8
// with an optional leading BOM, lines ended by CRLF, LF or CR (also when a
// CRLF is split between two reads), "data" fields joined with "\n", one
// leading space stripped from a value, ":" comments ignored, "event", "id"
// and "retry" fields, and an event dispatched at each blank line.
//
// It is the one SSE decoder of the backend clients:
//
//	dec := sse.NewDecoder(resp.Body)
//	for dec.Next() {
//		ev := dec.Event() // Type, Data, ID, Retry
//	}
//	if err := dec.Err(); err != nil { ... }          // a read error
//	if ev, ok := dec.Incomplete(); ok { ... }        // EOF inside an event
//
// As the standard requires, an event not followed by a blank line is not
// dispatched at end of stream; Incomplete reports it, so a caller can treat
// the stream as truncated (or, knowing its vendor, use it).
//
// Package sse imports only the standard library.
package sse

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event is one dispatched event.
type Event struct {
	// Type is the event type: the last "event" field of the event, or
	// "message" when there was none.
	Type string
	// Data is the event's "data" fields joined with "\n".
	Data string
	// ID is the last event ID: the value of the latest "id" field seen in
	// the stream so far (it persists across events, as the standard says).
	ID string
	// Retry is the reconnection time from the latest valid "retry" field
	// seen so far, 0 when there was none.
	Retry time.Duration
}

// ErrTooLarge is returned by Err when a line or an event's data exceeds
// the decoder's limit (MaxEventSize).
var ErrTooLarge = errors.New("sse: event too large")

// MaxEventSize is the default limit on the size of one line and of one
// event's data, in bytes.
const MaxEventSize = 8 << 20

const (
	initialBuf   = 4 << 10 // grows by doubling; most events are far smaller, and every live stream holds one
	maxEmptyRead = 100
)

var bom = []byte("\xEF\xBB\xBF")

// Decoder reads events from a stream. It is not safe for concurrent use.
type Decoder struct {
	r   io.Reader
	max int

	buf        []byte // buf[start:end] is unread input
	start, end int
	eof        bool  // r returned io.EOF
	err        error // a read error other than io.EOF, or ErrTooLarge

	bomDone bool // the BOM check at the stream's start is done
	skipLF  bool // the previous line ended with CR: drop a leading LF

	// The event being built.
	data    []byte // "data" values, each followed by "\n"
	typ     []byte
	hasTyp  bool
	inEvent bool // a field line was seen since the last blank line

	// Persistent state.
	id       string
	retry    time.Duration
	lastType string // interned Type of the previous event

	ev         Event
	incomplete Event
	hasIncompl bool
	done       bool
}

// NewDecoder returns a decoder reading from r with the default size limit.
func NewDecoder(r io.Reader) *Decoder { return NewDecoderSize(r, MaxEventSize) }

// NewDecoderSize returns a decoder reading from r that fails with
// ErrTooLarge on a line or an event's data larger than max bytes.
func NewDecoderSize(r io.Reader, max int) *Decoder {
	if max <= 0 {
		max = MaxEventSize
	}
	return &Decoder{r: r, max: max, lastType: "message"}
}

// Next reads up to the next dispatched event and reports whether there is
// one; see Event. It returns false at the end of the stream or on an
// error; Err then tells which.
func (d *Decoder) Next() bool {
	if d.done {
		return false
	}
	for {
		line, ok := d.line()
		if !ok {
			d.finish()
			return false
		}
		if d.process(line) {
			return true
		}
		if d.err != nil {
			d.finish()
			return false
		}
	}
}

// Event returns the event Next advanced to.
func (d *Decoder) Event() Event { return d.ev }

// Err returns the read error that ended the stream, or ErrTooLarge; nil
// when the stream simply ended.
func (d *Decoder) Err() error { return d.err }

// Incomplete reports, once Next has returned false, whether the stream
// ended inside an event: after a field line not followed by a blank line,
// or within a line that had no line ending. ev is what that event would
// have been had a blank line followed (its Data may be empty).
func (d *Decoder) Incomplete() (ev Event, ok bool) { return d.incomplete, d.hasIncompl }

// finish ends the stream, recording an undispatched event.
func (d *Decoder) finish() {
	if d.done {
		return
	}
	d.done = true
	if d.err == nil && d.start < d.end { // a last line without line ending
		line := d.buf[d.start:d.end]
		d.start = d.end
		if len(line) > 0 {
			if line[0] != ':' {
				d.inEvent = true
			}
			d.field(line)
		}
	}
	if d.inEvent {
		d.incomplete = d.build()
		d.hasIncompl = true
	}
}

// process handles one line and reports whether it dispatched an event.
func (d *Decoder) process(line []byte) bool {
	if len(line) == 0 {
		d.inEvent = false
		if len(d.data) == 0 {
			// No data: nothing is dispatched, the type is reset.
			d.typ, d.hasTyp = d.typ[:0], false
			return false
		}
		d.ev = d.build()
		d.data, d.typ, d.hasTyp = d.data[:0], d.typ[:0], false
		return true
	}
	if line[0] == ':' {
		return false // comment
	}
	d.inEvent = true
	d.field(line)
	return false
}

// field applies one field line.
func (d *Decoder) field(line []byte) {
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) { // no allocation: the compiler optimises the comparison
	case "data":
		if len(d.data)+len(value)+1 > d.max {
			d.err = ErrTooLarge
			return
		}
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
	case "event":
		d.typ = append(d.typ[:0], value...)
		d.hasTyp = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			if string(value) != d.id {
				d.id = text(value)
			}
		}
	case "retry":
		if len(value) > 0 && allDigits(value) {
			if ms, err := strconv.ParseInt(string(value), 10, 64); err == nil && ms <= int64(time.Duration(1<<63-1)/time.Millisecond) {
				d.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// build returns the event the buffers hold.
func (d *Decoder) build() Event {
	data := d.data
	if n := len(data); n > 0 && data[n-1] == '\n' {
		data = data[:n-1]
	}
	typ := "message"
	if d.hasTyp && len(d.typ) > 0 {
		if string(d.typ) == d.lastType {
			typ = d.lastType
		} else {
			typ = text(d.typ)
		}
	}
	d.lastType = typ
	return Event{Type: typ, Data: text(data), ID: d.id, Retry: d.retry}
}

// text converts b to a string, replacing invalid UTF-8 with U+FFFD.
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// line returns the next complete line, without its line ending. The slice
// is valid until the next call. ok is false at end of stream or on error;
// an unterminated last line then stays in buf[start:end].
func (d *Decoder) line() (line []byte, ok bool) {
	for {
		if d.skipLF && d.start < d.end {
			if d.buf[d.start] == '\n' {
				d.start++
			}
			d.skipLF = false
		}
		if !d.bomDone && (d.start < d.end || d.eof) {
			avail := d.buf[d.start:d.end]
			switch {
			case bytes.HasPrefix(avail, bom):
				d.start += len(bom)
				d.bomDone = true
			case len(avail) < len(bom) && bytes.HasPrefix(bom, avail) && !d.eof:
				// Could still become a BOM: read more.
			default:
				d.bomDone = true
			}
		}
		if d.bomDone && !d.skipLF {
			s := d.buf[d.start:d.end]
			if i := IndexEOL(s); i >= 0 {
				d.start += i + 1
				if s[i] == '\r' {
					if i+1 == len(s) {
						d.skipLF = true // the LF of a CRLF may be in the next read
					} else if s[i+1] == '\n' {
						d.start++
					}
				}
				return s[:i], true
			}
			if len(s) > d.max {
				d.err = ErrTooLarge
				return nil, false
			}
		}
		if d.eof || d.err != nil {
			return nil, false
		}
		d.fill()
	}
}

// IndexEOL returns the index of the first line end in b, a CR or an LF
// (the CR of a CRLF), or -1 when b holds none.
func IndexEOL(b []byte) int {
	lf := bytes.IndexByte(b, '\n')
	seg := b
	if lf >= 0 {
		seg = b[:lf]
	}
	if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
		return cr
	}
	return lf
}

// fill reads more input into buf, compacting or growing it as needed.
func (d *Decoder) fill() {
	if d.start > 0 {
		if d.start == d.end {
			d.start, d.end = 0, 0
		} else if d.end == len(d.buf) {
			n := copy(d.buf, d.buf[d.start:d.end])
			d.start, d.end = 0, n
		}
	}
	if d.end == len(d.buf) {
		size := 2 * len(d.buf)
		if size < initialBuf {
			size = initialBuf
		}
		nb := make([]byte, size)
		n := copy(nb, d.buf[d.start:d.end])
		d.buf, d.start, d.end = nb, 0, n
	}
	for range maxEmptyRead {
		n, err := d.r.Read(d.buf[d.end:])
		if n < 0 || n > len(d.buf)-d.end {
			d.err = errors.New("sse: invalid Read count")
			return
		}
		d.end += n
		if err != nil {
			if err == io.EOF {
				d.eof = true
			} else {
				d.err = err
			}
			return
		}
		if n > 0 {
			return
		}
	}
	d.err = io.ErrNoProgress
}
