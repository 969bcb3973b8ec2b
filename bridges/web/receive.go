package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

//go:embed static
var static embed.FS

var pageTmpl = template.Must(template.ParseFS(static, "static/index.html"))

// maxBody bounds a POST body; the core refuses long questions itself
// ([limits] max_question_chars).
const maxBody = 64 << 10

// heartbeat is how often an idle event stream sends a comment, so that
// proxies keep it open and a gone browser is noticed.
const heartbeat = 25 * time.Second

// routes returns the handler of everything under /web/NAME/.
func (a *Adapter) routes() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	mux.HandleFunc("GET "+a.base+"{$}", a.servePage)
	mux.Handle("GET "+a.base+"static/", http.StripPrefix(a.base+"static/", http.FileServerFS(sub)))
	mux.HandleFunc("POST "+a.base+"api/send", a.serveSend)
	mux.HandleFunc("GET "+a.base+"api/events", a.serveEvents)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Defence in depth: the script never turns backend text into
		// markup, and the page could not run an injected script anyway.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'")
		mux.ServeHTTP(w, r)
	})
}

// cookieName is the browser ID cookie of the instance.
func (a *Adapter) cookieName() string { return "chat_bridge_web_" + a.cfg.Name }

// browserID returns the browser's ID: the one the page's script keeps in
// localStorage and sends (the X-Chat-Browser header, or ?browser= on the
// event stream, which cannot send headers), else the cookie's, else a new
// one with its cookie. The script's ID works where the cookie is not sent,
// as in a page of another site that embeds the chat in an iframe.
func (a *Adapter) browserID(w http.ResponseWriter, r *http.Request) string {
	if id := r.Header.Get("X-Chat-Browser"); browserIDRE.MatchString(id) {
		return id
	}
	if id := r.URL.Query().Get("browser"); browserIDRE.MatchString(id) {
		return id
	}
	if c, err := r.Cookie(a.cookieName()); err == nil && browserIDRE.MatchString(c.Value) {
		return c.Value
	}
	id := newBrowserID()
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(), Value: id, Path: a.base,
		MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil,
	})
	return id
}

func (a *Adapter) servePage(w http.ResponseWriter, r *http.Request) {
	a.browserID(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = pageTmpl.Execute(w, struct{ Title, Instance string }{a.cfg.title(), a.cfg.Name})
}

type sendRequest struct {
	Text string `json:"text"`
}

type sendResponse struct {
	ID string `json:"id"`
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// serveSend accepts one question (or command) from the page.
func (a *Adapter) serveSend(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		httpError(w, http.StatusUnsupportedMediaType, "send JSON: {\"text\": \"...\"}")
		return
	}
	var req sendRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON body")
		return
	}
	text := strings.TrimSpace(req.Text)
	if text == "" {
		httpError(w, http.StatusBadRequest, "empty message")
		return
	}
	bid := a.browserID(w, r)
	id := fmt.Sprintf("q%s-%d", a.epoch, a.seq.Add(1))
	a.mu.Lock()
	h := a.handler
	if h != nil {
		a.browserLocked(bid).put(item{ID: id, Role: "user", Text: text, Final: true, Plain: true})
	}
	a.mu.Unlock()
	if h == nil {
		httpError(w, http.StatusServiceUnavailable, "the chat is not running")
		return
	}
	m := bridges.Message{
		Key:    Key(a.cfg.Name, bid),
		ID:     id,
		ChatID: bid, UserID: bid, UserName: "web",
		Text: text, Private: true, Time: a.now(),
		Locale: firstLanguage(r.Header.Get("Accept-Language")),
	}
	if err := h.Handle(r.Context(), m); err != nil {
		a.log.Warn("message not accepted", "err", err)
		httpError(w, http.StatusServiceUnavailable, "the chat is shutting down; try again in a moment")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sendResponse{ID: id})
}

// localeRE is the shape of a language tag ("de", "pt-BR", "zh-Hant-TW").
var localeRE = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)

// firstLanguage returns the first language of an Accept-Language header
// ("de-DE,de;q=0.9" is "de-DE"), the browser's preferred one, or "" when
// there is none or it is no language tag ("*", garbage). The core maps it
// to a notice language (bridges.LanguageOf).
func firstLanguage(h string) string {
	first, _, _ := strings.Cut(h, ",")
	tag, _, _ := strings.Cut(first, ";")
	tag = strings.TrimSpace(tag)
	if len(tag) > 35 || !localeRE.MatchString(tag) {
		return ""
	}
	return tag
}

// serveEvents streams the browser's transcript as Server-Sent Events: at
// first every message it holds, then each change. Events: "msg" (an item
// as JSON, sent again whole on every change), "typing" ({"on": bool}) and
// "status" ({"text": "...", "reply_to": "..."}: the progress line shown in
// the coming answer's place; "" once the answer's first text replaced it).
// A stream ends with its request's context: the HTTP server cancels it
// when it shuts down, after the relay has written the last final texts
// (which a stream ending with Run would lose).
func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	bid := a.browserID(w, r)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	a.mu.Lock()
	a.browserLocked(bid).streams++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.browserLocked(bid).streams--
		a.mu.Unlock()
	}()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	var seen, typingSeen, statusSeen uint64
	first := true
	for {
		a.mu.Lock()
		b := a.browserLocked(bid)
		items := b.since(seen)
		typing, typingChanged := b.typing, b.typingV > typingSeen
		st, statusChanged := b.status, b.statusV > statusSeen
		seen, typingSeen, statusSeen = b.version, b.typingV, b.statusV
		wake := b.wake
		a.mu.Unlock()
		var buf strings.Builder
		if first {
			buf.WriteString("retry: 2000\n\n")
		}
		for _, it := range items {
			data, _ := json.Marshal(it)
			fmt.Fprintf(&buf, "event: msg\ndata: %s\n\n", data)
		}
		if typingChanged || first {
			fmt.Fprintf(&buf, "event: typing\ndata: {\"on\":%t}\n\n", typing)
		}
		// A page connecting gets the status line only if one shows.
		if (first && st.Text != "") || (!first && statusChanged) {
			data, _ := json.Marshal(st)
			fmt.Fprintf(&buf, "event: status\ndata: %s\n\n", data)
		}
		first = false
		if buf.Len() > 0 {
			if _, err := io.WriteString(w, buf.String()); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-wake:
		case <-tick.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}
