// Package web is the web chat adapter: a page embedded in the binary,
// served at /web/NAME/ on the [http] listen server, where a visitor asks
// questions and watches the answer grow in place.
//
// Package web imports bridges and the standard library only.
//
// Decisions worth knowing:
//   - The page is plain HTML, CSS and one small script (static/), embedded
//     with embed: no CDN, no build step. The script renders the backend's
//     Markdown itself by building DOM nodes with textContent, never
//     innerHTML of backend text, and links only http(s) URLs: backend text
//     is untrusted.
//   - Each browser has a random ID, its conversation key web/NAME/<id>. The
//     page's script keeps it in localStorage and sends it with every
//     request (so the chat also works in an iframe of another site, where
//     cookies are not sent); clients without the script get it in a cookie
//     (HttpOnly, SameSite=Strict, path /web/NAME/).
//   - The adapter keeps a short transcript per browser in memory (the
//     questions and the bridge's messages, as Send and Edit leave them), and
//     streams its changes to the browser over Server-Sent Events
//     (GET api/events). A change made while no page listens is not lost:
//     a page that connects gets the transcript first. The transcript is not
//     durable; the conversation (in the store) is.
//   - Sending is POST api/send with a JSON body. A JSON content type and
//     the X-Chat-Browser header need a CORS preflight, which is never
//     granted, and the cookie is SameSite=Strict: another site cannot post
//     in a visitor's name (nor read the events, whose ID it does not know).
//   - Progress (bridges.StatusShower): a status line ("Searching the
//     knowledge base…") is an SSE "status" event the page shows, as text,
//     in the typing bubble where the answer will appear; the answer's
//     first text (Send) or its end (Completed) clears it. It is not part
//     of the transcript. Notices follow the browser's first
//     Accept-Language language (Message.Locale).
//   - Limits: a short edit interval (250ms), no platform budget, a
//     generous MaxLen, and a final edit for every message (StreamPlain);
//     the core's live reply does the rest, as on every platform.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Config configures one web chat instance ([web.NAME]).
type Config struct {
	// Name is the instance name; the page is at /web/Name/. Set by the
	// caller from the table name.
	Name string `toml:"-"`
	// Title is the page's title and heading; empty means "Chat".
	Title string `toml:"title"`
}

func (c Config) title() string {
	if c.Title == "" {
		return "Chat"
	}
	return c.Title
}

// EditInterval is the web chat's pace of live edits (the instance's
// edit_interval overrides it in the core).
const EditInterval = 250 * time.Millisecond

// MaxLen is the longest message the web chat shows in one bubble (runes);
// longer answers continue in a new one.
const MaxLen = 32000

// Adapter is one web chat instance.
type Adapter struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	base string // "/web/NAME/"

	mu       sync.Mutex
	browsers map[string]*browser
	handler  bridges.Handler // set while Run runs
	running  atomic.Bool
	// epoch and seq make message IDs unique across restarts (a recovered
	// answer edits a message ID of the previous process).
	epoch string
	seq   atomic.Uint64
}

var _ interface {
	bridges.Platform
	bridges.ReplicaLocal
	bridges.Typer
	bridges.Connector
	bridges.Completer
	bridges.Checker
	bridges.StatusShower
} = (*Adapter)(nil)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Path returns where the web chat of instance name is served.
func Path(name string) string { return "/web/" + name + "/" }

// New validates cfg and registers the page and its API on deps.Mux, which
// must be set (the web chat lives on [http] listen). It does no I/O.
func New(cfg Config, deps bridges.Deps) (*Adapter, error) {
	if !nameRE.MatchString(cfg.Name) {
		return nil, fmt.Errorf("web: instance name %q: use letters, digits, - and _", cfg.Name)
	}
	if deps.Mux == nil {
		return nil, errors.New("web: the web chat needs [http] listen (it is off)")
	}
	a := &Adapter{
		cfg:      cfg,
		log:      deps.Logger,
		now:      deps.Now,
		base:     Path(cfg.Name),
		browsers: map[string]*browser{},
		epoch:    newBrowserID()[:8],
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	deps.Mux.Handle(a.base, a.routes())
	return a, nil
}

// Run serves the instance's messages until ctx ends; the HTTP server
// itself belongs to the caller. It returns nil on a clean stop.
func (a *Adapter) Run(ctx context.Context, h bridges.Handler) error {
	a.mu.Lock()
	a.handler = h
	a.mu.Unlock()
	a.running.Store(true)
	defer func() {
		a.running.Store(false)
		a.mu.Lock()
		a.handler = nil
		a.mu.Unlock()
	}()
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.prune()
		}
	}
}

// Connected implements bridges.Connector: true while Run runs.
func (a *Adapter) Connected() bool { return a.running.Load() }

// ReplicaLocal implements bridges.ReplicaLocal: a browser's event stream
// is open to this process only, so in cluster mode its questions are
// answered here (a load balancer in front of the replicas keeps a
// browser on one of them, by its cookie).
func (a *Adapter) ReplicaLocal() bool { return true }

// Limits implements bridges.Platform.
func (a *Adapter) Limits(*bridges.Message) bridges.Limits {
	return bridges.Limits{
		MaxLen:       MaxLen,
		Unit:         bridges.Runes,
		EditInterval: EditInterval,
		TypingEvery:  3 * time.Second,
		// Every message gets its final edit even when its text did not
		// change: the page marks a message final (and stops its cursor)
		// only then. The page renders Markdown while streaming too.
		StreamPlain: true,
	}
}
