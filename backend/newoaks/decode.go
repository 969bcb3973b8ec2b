package newoaks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/sse"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// maxLine bounds one line (or one JSON object spread over lines); the
// final object carries the whole answer.
const maxLine = 8 << 20

// readSize is the initial line buffer.
const readSize = 32 << 10

// decoder turns the ClientAsk stream into backend events. It implements
// backend.Decoder.
//
// The documented body is one JSON object per line. The decoder also
// accepts an SSE-style "data: " prefix, blank lines, CRLF or CR line ends,
// SSE fields and comments (":", "event:", "id:", "retry:") and "//"
// comments (the documentation's own sample has them), "[DONE]", several
// objects on one line, and one object spread over several lines (a
// pretty-printed error envelope).
//
// {"content": ...} objects are Deltas; the object with Answer/AnswerID is
// Done, whose Text is the complete Answer. An envelope with Success false
// (or a Code other than 200) is a classified error; a successful envelope
// holding a non-stream answer (Data.content) is Done. noAnswer true with a
// text is a Notice then Done with that text; without a text it is a
// KindNoAnswer error. "[DONE]" without a final object ends the answer with
// the deltas' text. The end of the body before a final object is
// truncation.
type decoder struct {
	body io.ReadCloser
	lr   lineReader
	opt  wire.DecoderOptions

	pending []byte // an object spread over lines, so far
	sawDone bool   // "[DONE]" was seen

	queue wire.Queue // events not yet returned, then the error or EOF
}

func newDecoder(body io.ReadCloser, opt wire.DecoderOptions) *decoder {
	opt = opt.WithDefaults()
	return &decoder{body: body, lr: lineReader{r: body}, opt: opt}
}

// Close implements backend.Decoder.
func (d *decoder) Close() error { return d.body.Close() }

func (d *decoder) push(ev backend.Event) { d.queue.Push(ev) }

// Next implements backend.Decoder.
func (d *decoder) Next() (backend.Event, error) {
	for {
		if ev, err := d.queue.Next(); ev != nil || err != nil {
			return ev, err
		}
		line, eol, err := d.lr.next()
		switch {
		case err == io.EOF:
			d.queue.Ended = true
			if len(bytes.TrimSpace(d.pending)) == 0 && d.sawDone {
				d.opt.Log.Debug("newoaks: [DONE] without a final answer object")
				d.push(backend.Done{ConversationID: d.opt.ConversationID})
			}
			continue
		case err != nil:
			return nil, wire.ReadError(err, errors.Is(err, errLineTooLong))
		}
		d.queue.Err = d.line(line, eol)
	}
}

var (
	dataPrefix = []byte("data:")
	skipPrefix = [][]byte{[]byte(":"), []byte("//"), []byte("event:"), []byte("id:"), []byte("retry:")}
)

// line handles one line of the body; eol tells whether it was
// terminated (the last line of a body may not be).
func (d *decoder) line(b []byte, eol bool) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	for _, p := range skipPrefix {
		if bytes.HasPrefix(b, p) {
			return nil
		}
	}
	if bytes.HasPrefix(b, dataPrefix) {
		b = bytes.TrimSpace(b[len(dataPrefix):])
		if len(b) == 0 {
			return nil
		}
	}
	if string(b) == "[DONE]" {
		d.sawDone = true
		return nil
	}
	if len(d.pending) == 0 {
		if text, ok := plainContent(b); ok {
			if text != "" {
				d.push(backend.Delta{Text: text})
			}
			return nil
		}
		// The documented case, one object per line, decoded directly.
		var s strictLine
		if json.Unmarshal(b, &s) == nil {
			return d.object(s.flex())
		}
	}
	if len(d.pending)+len(b) >= maxLine {
		return &backend.Error{Kind: backend.KindBadResponse, Message: "read stream", Err: errLineTooLong}
	}
	d.pending = append(d.pending, b...)
	if eol {
		d.pending = append(d.pending, '\n')
	}
	return d.drain()
}

var (
	contentPrefix = []byte(`{"content":"`)
	contentSuffix = []byte(`"}`)
)

// plainContent reads the commonest line, {"content":"..."} whose text
// needs no unescaping, without encoding/json. ok is false for anything
// else (escapes, other fields, spacing, invalid UTF-8), which then takes
// the general path; where ok is true, the text is what encoding/json
// would decode.
func plainContent(b []byte) (text string, ok bool) {
	if len(b) < len(contentPrefix)+len(contentSuffix) || !bytes.HasPrefix(b, contentPrefix) || !bytes.HasSuffix(b, contentSuffix) {
		return "", false
	}
	in := b[len(contentPrefix) : len(b)-len(contentSuffix)]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// drain decodes the complete JSON values in pending and keeps an
// incomplete last one for the following lines.
func (d *decoder) drain() error {
	dec := json.NewDecoder(bytes.NewReader(d.pending))
	off := 0
	for !d.queue.Ended {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			n := copy(d.pending, d.pending[off:])
			d.pending = d.pending[:n]
			return nil
		}
		if err != nil {
			return &backend.Error{Kind: backend.KindBadResponse, Message: "decode stream line " + wire.Snippet(d.pending[off:], d.opt.Secret), Err: err}
		}
		off = int(dec.InputOffset())
		if err := d.value(raw); err != nil {
			return err
		}
	}
	d.pending = d.pending[:0]
	return nil
}

// value handles one JSON value; anything but an object is skipped.
func (d *decoder) value(raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] != '{' {
		d.opt.Log.Debug("newoaks: skipping a non-object value", "value", wire.Snippet(raw, d.opt.Secret))
		return nil
	}
	var s strictLine
	if json.Unmarshal(raw, &s) == nil {
		return d.object(s.flex())
	}
	var l flexLine
	if err := json.Unmarshal(raw, &l); err != nil {
		return &backend.Error{Kind: backend.KindBadResponse, Message: "decode stream object " + wire.Snippet(raw, d.opt.Secret), Err: err}
	}
	return d.object(l)
}

// object maps one decoded object to events. Once Done is queued nothing
// more is read.
func (d *decoder) object(l flexLine) error {
	if d.queue.Ended {
		return nil
	}
	if l.isEnvelope() {
		if l.failed() {
			return l.envelope.err(d.opt.Secret, true)
		}
		var nd struct {
			Content  *flexString `json:"content"`
			NoAnswer flexString  `json:"noAnswer"`
		}
		if len(l.Data) > 0 && json.Unmarshal(l.Data, &nd) == nil && nd.Content != nil {
			// A non-stream answer: the service ignored "stream": true.
			return d.final(string(*nd.Content), isTrue(nd.NoAnswer))
		}
		return nil
	}
	if l.Answer != nil || l.AnswerID != nil {
		answer := ""
		if l.Answer != nil {
			answer = string(*l.Answer)
		}
		return d.final(answer, l.NoAnswer != nil && isTrue(*l.NoAnswer))
	}
	if l.Content != nil && *l.Content != "" {
		d.push(backend.Delta{Text: string(*l.Content)})
	}
	return nil
}

// final queues the end of the answer.
func (d *decoder) final(text string, noAnswer bool) error {
	if noAnswer {
		if strings.TrimSpace(text) == "" {
			return &backend.Error{Kind: backend.KindNoAnswer, Message: "the chatbot has no answer"}
		}
		d.push(backend.Notice{Code: "no_answer", Message: "the chatbot found no answer in its knowledge base"})
	}
	d.push(backend.Done{ConversationID: d.opt.ConversationID, Text: text})
	d.queue.Ended = true
	return nil
}

func isTrue(f flexString) bool { return strings.EqualFold(string(f), "true") || f == "1" }

// flexLine is one stream object with every field any kind of object has.
type flexLine struct {
	Content    *flexString `json:"content"`
	QuestionID *flexString `json:"QuestionID"`
	AnswerID   *flexString `json:"AnswerID"`
	Answer     *flexString `json:"Answer"`
	NoAnswer   *flexString `json:"noAnswer"`
	envelope
}

// strictLine is flexLine with plain types: decoding into it is several
// times cheaper and fits every documented object.
type strictLine struct {
	Content    *string         `json:"content"`
	QuestionID json.RawMessage `json:"QuestionID"`
	AnswerID   json.RawMessage `json:"AnswerID"`
	Answer     *string         `json:"Answer"`
	NoAnswer   *bool           `json:"noAnswer"`
	Data       json.RawMessage `json:"Data"`
	Success    *bool           `json:"Success"`
	Code       json.RawMessage `json:"Code"`
	Message    *string         `json:"Message"`
}

func (s strictLine) flex() flexLine {
	var l flexLine
	l.Content = (*flexString)(s.Content)
	l.Answer = (*flexString)(s.Answer)
	l.QuestionID = rawFlex(s.QuestionID)
	l.AnswerID = rawFlex(s.AnswerID)
	if s.NoAnswer != nil {
		v := flexString(fmt.Sprint(*s.NoAnswer))
		l.NoAnswer = &v
	}
	l.Data = s.Data
	if s.Success != nil {
		v := flexString(fmt.Sprint(*s.Success))
		l.Success = &v
	}
	l.Code = rawFlex(s.Code)
	if s.Message != nil {
		l.Message = flexString(*s.Message)
	}
	return l
}

// rawFlex decodes a present raw value (null counts as absent).
func rawFlex(raw json.RawMessage) *flexString {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var f flexString
	if f.UnmarshalJSON(raw) != nil {
		return nil
	}
	return &f
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

// lineReader splits a body into lines ended by LF, CR or CRLF (a CRLF
// gives an extra empty line, which callers skip).
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	err        error
}

// next returns the next line, valid until the following call, and
// whether a line end terminated it. At the end of the body it returns a
// last unterminated line, then io.EOF; a read error is returned as soon as
// the buffered lines are used up.
func (l *lineReader) next() (line []byte, eol bool, err error) {
	for {
		b := l.buf[l.start:l.end]
		if i := sse.IndexEOL(b); i >= 0 {
			l.start += i + 1
			return b[:i], true, nil
		}
		if l.err != nil {
			if l.err == io.EOF && len(b) > 0 {
				l.start = l.end
				return b, false, nil
			}
			return nil, false, l.err
		}
		if l.start > 0 {
			n := copy(l.buf, b)
			l.start, l.end = 0, n
		}
		if l.end == len(l.buf) {
			if len(l.buf) >= maxLine {
				return nil, false, errLineTooLong
			}
			nb := make([]byte, max(readSize, 2*len(l.buf)))
			copy(nb, l.buf[:l.end])
			l.buf = nb
		}
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		if err != nil {
			l.err = err
		}
	}
}
