package chatofai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// separator divides the stream's JSON header from the answer text.
const separator = "645130146e8d07b175fd8b1d5682d520"

// maxHeader bounds the bytes buffered while looking for the separator
// (related_docs may carry document excerpts).
const maxHeader = 4 << 20

// readSize is the size of one read from the body; each read of answer text
// becomes at most one Delta.
const readSize = 32 << 10

// decoder turns the streamed body into backend events. It implements
// backend.Decoder.
//
// Before the separator it buffers the header; after it, every read becomes
// a Delta holding the complete UTF-8 characters received so far (a
// character cut by a read waits for its remaining bytes; invalid bytes
// become U+FFFD each). The end of the body is the end of the answer: it
// yields Done. A body that ends before the separator is read as the JSON
// envelope of an error (or of a non-stream answer).
type decoder struct {
	body io.ReadCloser
	opt  wire.DecoderOptions
	rbuf []byte

	head   []byte // bytes before the separator, while !inText
	scan   int    // where the next separator search starts in head
	inText bool

	hdr     envelope
	held    [utf8.UTFMax]byte // a character cut by the last read
	nheld   int
	emitted bool // a non-empty Delta was produced

	queue wire.Queue // events not yet returned, then EOF
}

func newDecoder(body io.ReadCloser, opt wire.DecoderOptions) *decoder {
	opt = opt.WithDefaults()
	return &decoder{body: body, opt: opt, rbuf: make([]byte, readSize)}
}

// Next implements backend.Decoder.
func (d *decoder) Next() (backend.Event, error) {
	for {
		if ev, err := d.queue.Next(); ev != nil || err != nil {
			return ev, err
		}
		n, err := d.body.Read(d.rbuf)
		if n > 0 {
			if ferr := d.feed(d.rbuf[:n]); ferr != nil {
				return nil, ferr
			}
		}
		switch {
		case err == io.EOF:
			d.queue.Ended = true
			if ferr := d.finish(); ferr != nil {
				return nil, ferr
			}
		case err != nil:
			return nil, wire.ReadError(err, false)
		}
	}
}

// Close implements backend.Decoder.
func (d *decoder) Close() error { return d.body.Close() }

func (d *decoder) push(ev backend.Event) { d.queue.Push(ev) }

// feed consumes one read.
func (d *decoder) feed(p []byte) error {
	if d.inText {
		d.text(p)
		return nil
	}
	d.head = append(d.head, p...)
	i := bytes.Index(d.head[d.scan:], []byte(separator))
	if i < 0 {
		if len(d.head) > maxHeader {
			return &backend.Error{Kind: backend.KindBadResponse, Message: fmt.Sprintf("no separator in the first %d bytes", maxHeader)}
		}
		d.scan = max(0, len(d.head)-len(separator)+1)
		return nil
	}
	i += d.scan
	if err := d.header(d.head[:i]); err != nil {
		return err
	}
	d.inText = true
	d.text(d.head[i+len(separator):])
	d.head = nil
	return nil
}

// header parses the JSON before the separator. An empty header is
// tolerated; so is one with fields of unexpected types.
func (d *decoder) header(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		d.opt.Log.Debug("chatofai: empty stream header")
		return nil
	}
	var h envelope
	if err := json.Unmarshal(b, &h); err != nil {
		return &backend.Error{Kind: backend.KindBadResponse, Message: "decode header " + wire.Snippet(b, d.opt.Secret), Err: err}
	}
	if h.failed() {
		return h.err(d.opt.Secret, d.opt.ConversationID != "")
	}
	if h.ConversationUID == "" && len(h.Data) > 0 {
		// An enveloped header: {"code":0,"data":{...}}.
		var inner envelope
		if json.Unmarshal(h.Data, &inner) == nil {
			h = inner
		}
	}
	d.hdr = h
	if msg := strings.TrimSpace(string(h.SystemMessage)); msg != "" {
		d.push(backend.Notice{Code: "system_message", Message: msg})
	}
	return nil
}

// text emits the complete characters of p (after any held bytes) and holds
// back a trailing incomplete one.
func (d *decoder) text(p []byte) {
	var hb [utf8.UTFMax]byte
	h := hb[:copy(hb[:], d.held[:d.nheld])]
	d.nheld = 0
	var t [2 * utf8.UTFMax]byte
	if len(h) > 0 && len(p) < utf8.UTFMax {
		// The tail check below must see the held bytes too.
		n := copy(t[:], h)
		n += copy(t[n:], p)
		h, p = nil, t[:n]
	}
	if k := incompleteTail(p); k > 0 {
		d.nheld = copy(d.held[:], p[len(p)-k:])
		p = p[:len(p)-k]
	}
	if len(h)+len(p) == 0 {
		return
	}
	d.emitted = true
	if len(h) == 0 {
		d.push(backend.Delta{Text: validString(p)})
		return
	}
	// The held bytes and p, copied once.
	var b strings.Builder
	b.Grow(len(h) + len(p))
	b.Write(h)
	b.Write(p)
	s := b.String()
	if !utf8.ValidString(s) {
		s = validString([]byte(s))
	}
	d.push(backend.Delta{Text: s})
}

// finish handles the end of the body.
func (d *decoder) finish() error {
	if !d.inText {
		return d.noSeparator()
	}
	if d.nheld > 0 {
		d.emitted = true
		d.push(backend.Delta{Text: validString(d.held[:d.nheld])})
		d.nheld = 0
	}
	done := backend.Done{
		ConversationID: string(d.hdr.ConversationUID),
		Citations:      citations(d.hdr.RelatedDocs),
	}
	if done.ConversationID == "" {
		done.ConversationID = d.opt.ConversationID
	}
	if !d.emitted {
		// Nothing followed the separator: a header that carries the answer
		// itself (it is "" in the documented stream) is the answer.
		done.Text = string(d.hdr.Answer)
	}
	d.push(done)
	return nil
}

// noSeparator reads a body that ended before the separator as the
// documented envelope: an error (code != 0) or a non-stream answer.
func (d *decoder) noSeparator() error {
	b := bytes.TrimSpace(d.head)
	if len(b) == 0 {
		return &backend.Error{Kind: backend.KindBadResponse, Message: "empty body", Err: backend.ErrTruncated}
	}
	var env envelope
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&env); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &backend.Error{Kind: backend.KindBadResponse, Message: "no separator: body cut inside JSON", Err: backend.ErrTruncated}
		}
		return &backend.Error{Kind: backend.KindBadResponse, Message: "no separator: " + wire.Snippet(b, d.opt.Secret)}
	}
	if env.failed() {
		return env.err(d.opt.Secret, d.opt.ConversationID != "")
	}
	if env.Code == nil {
		// A header whose separator never came.
		return &backend.Error{Kind: backend.KindBadResponse, Message: "no separator after header", Err: backend.ErrTruncated}
	}
	var data envelope
	if len(env.Data) == 0 || json.Unmarshal(env.Data, &data) != nil || bytes.Equal(env.Data, []byte("null")) {
		return &backend.Error{Kind: backend.KindBadResponse, Message: "no separator: envelope without data"}
	}
	// A non-stream answer: the service ignored "stream": true.
	d.opt.Log.Debug("chatofai: non-stream answer")
	if msg := strings.TrimSpace(string(data.SystemMessage)); msg != "" {
		d.push(backend.Notice{Code: "system_message", Message: msg})
	}
	done := backend.Done{
		ConversationID: string(data.ConversationUID),
		Text:           string(data.Answer),
		Citations:      citations(data.RelatedDocs),
	}
	if done.ConversationID == "" {
		done.ConversationID = d.opt.ConversationID
	}
	d.push(done)
	return nil
}

// incompleteTail returns the length of a trailing prefix of a valid
// multi-byte character at the end of p (0 when p ends with a complete
// character or with invalid bytes).
func incompleteTail(p []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(p); k++ {
		if utf8.RuneStart(p[len(p)-k]) {
			if utf8.FullRune(p[len(p)-k:]) {
				return 0
			}
			return k
		}
	}
	return 0
}

// validString returns p as a string, each invalid byte replaced by U+FFFD,
// so the result does not depend on where the stream was cut.
func validString(p []byte) string {
	if utf8.Valid(p) {
		return string(p)
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.Write(p[:n])
		}
		p = p[n:]
	}
	return b.String()
}

// citations reads related_docs tolerantly: its item shape is undocumented.
// An item may be a string (a URL or a title) or an object whose title and
// URL are found under common names, at its top level or in a nested
// "metadata", "document" or "doc" object (LangChain's page_content +
// metadata.source shape). Items without either are skipped; repeats are
// dropped.
func citations(raw json.RawMessage) []backend.Citation {
	if len(raw) == 0 {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []backend.Citation
	seen := make(map[backend.Citation]bool, len(items))
	for _, it := range items {
		c := citation(it, 0)
		c.Title, c.URL = strings.TrimSpace(c.Title), strings.TrimSpace(c.URL)
		if c == (backend.Citation{}) || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

var (
	titleKeys = []string{"title", "name", "page_title", "doc_name", "document_name", "file_name", "filename", "source_name"}
	urlKeys   = []string{"url", "link", "href", "source_url", "doc_url", "document_url", "page_url"}
	nestKeys  = []string{"metadata", "document", "doc"}
)

func citation(raw json.RawMessage, depth int) backend.Citation {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if isURL(s) {
			return backend.Citation{URL: s}
		}
		return backend.Citation{Title: s}
	}
	var m map[string]json.RawMessage
	if depth > 2 || json.Unmarshal(raw, &m) != nil {
		return backend.Citation{}
	}
	var c backend.Citation
	c.Title = firstString(m, titleKeys, false)
	c.URL = firstString(m, urlKeys, true)
	if src := firstString(m, []string{"source"}, false); src != "" {
		if isURL(src) && c.URL == "" {
			c.URL = src
		} else if !isURL(src) && c.Title == "" {
			c.Title = src
		}
	}
	for _, k := range nestKeys {
		if c.Title != "" && c.URL != "" {
			break
		}
		if v, ok := wire.Lookup(m, k); ok {
			n := citation(v, depth+1)
			if c.Title == "" {
				c.Title = n.Title
			}
			if c.URL == "" {
				c.URL = n.URL
			}
		}
	}
	return c
}

// firstString returns the first of keys in m holding a non-empty string
// (a URL when wantURL).
func firstString(m map[string]json.RawMessage, keys []string, wantURL bool) string {
	for _, k := range keys {
		v, ok := wire.Lookup(m, k)
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil || strings.TrimSpace(s) == "" {
			continue
		}
		if wantURL && !isURL(s) {
			continue
		}
		return s
	}
	return ""
}

func isURL(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) > 8 && (strings.HasPrefix(strings.ToLower(s), "https://") || strings.HasPrefix(strings.ToLower(s), "http://"))
}
