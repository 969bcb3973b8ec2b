package main

// The operator page (/admin/) and its JSON API, the web chat's wiring, and
// `bridge conversations` through the running process.
//
// Authentication: [http] admin_token, or a random token made at start when
// it is empty. A request carries it as "Authorization: Bearer TOKEN", or
// as the page's cookie, which /admin/?token=TOKEN sets (HttpOnly,
// SameSite=Strict; the cookie holds a hash of the token, not the token).
// Tokens are compared in constant time. With a generated token, the
// running process writes the page's URL and the token to a file beside the
// store, STORE.admin (mode 0600, removed at a clean stop), so that
// `bridge conversations` on the same machine can reach it.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges/web"
	"github.com/chat-bridge/chat-bridge/store"
)

// checkWebListen refuses a [web.NAME] table when [http] listen is off.
func checkWebListen(cfg *Config, text string) error {
	if cfg.HTTPListen != "" {
		return nil
	}
	for _, in := range cfg.Instances {
		if in.Platform == "web" {
			return &ConfigError{Key: "http.listen", Line: findKeyLine(text, "http.listen"),
				Msg: fmt.Sprintf("is off (\"\"), but [web.%s] is served on it: set it (e.g. \"127.0.0.1:9090\") or remove the web table", in.Name)}
		}
	}
	return nil
}

// conversationStore is what the operator page needs of the store.
type conversationStore interface {
	List() ([]store.Entry, error)
	Get(k store.Key) (store.Record, bool, error)
	Forget(k store.Key) error
}

// admin serves /admin/ and keeps what it shows: the last error of every
// instance and backend (from the log) and answers per hour (from the
// relay's metrics).
type admin struct {
	token     backend.Secret
	generated bool
	cfg       *Config
	db        conversationStore
	health    []*instanceHealth
	reg       prometheus.Gatherer
	errs      *errorLog
	now       func() time.Time
	// countsFn reads the message counters (gather; tests replace it).
	countsFn func() map[string]outcomes
	// cluster reads the deployment view; nil outside cluster mode.
	cluster func() *deploymentView

	mu      sync.Mutex
	samples []sample // one a minute, the last hour and a bit
}

// sample is the relay's message counters at one time, by instance.
type sample struct {
	at     time.Time
	counts map[string]outcomes
}

type outcomes struct{ answered, failed float64 }

func newAdmin(cfg *Config, db conversationStore, reg prometheus.Gatherer, errs *errorLog) *admin {
	ad := &admin{token: cfg.AdminToken, cfg: cfg, db: db, reg: reg, errs: errs, now: time.Now}
	ad.countsFn = ad.gather
	if !ad.token.IsSet() {
		var b [24]byte
		_, _ = rand.Read(b[:])
		ad.token = backend.NewSecret(hex.EncodeToString(b[:]))
		ad.generated = true
	}
	return ad
}

// shareToken makes a generated token the deployment's in cluster mode:
// the first replica's is kept in Redis and every replica uses it, so the
// operator page behind a load balancer accepts one token (and one
// cookie) whichever replica answers. A Redis error keeps this replica's
// own token, with a warning.
func (ad *admin) shareToken(db bridgeStore, log *slog.Logger) {
	rs, ok := db.(redisStore)
	if !ok || !ad.generated {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := rs.DB.SharedSecret(ctx, "admin_token", ad.token.Reveal())
	if err != nil {
		log.Warn("cluster: the generated operator page token is not shared; this replica uses its own (set [http] admin_token)", "err", err)
		return
	}
	ad.token = backend.NewSecret(tok)
}

// mount registers the operator page, its API and the / redirect.
func (ad *admin) mount(mux *http.ServeMux) {
	mux.Handle("/admin/", ad.auth(ad.routes()))
	first := ""
	for _, in := range ad.cfg.Instances {
		if in.Platform == "web" {
			first = web.Path(in.Name)
			break
		}
	}
	if first == "" {
		first = "/admin/"
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, first, http.StatusSeeOther)
	})
}

const adminCookie = "chat_bridge_admin"

// cookieValue is what the page's cookie holds: a hash of the token.
func (ad *admin) cookieValue() string {
	h := sha256.Sum256([]byte("chat-bridge admin cookie\x00" + ad.token.Reveal()))
	return hex.EncodeToString(h[:])
}

func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// auth lets through requests with the token (bearer or cookie), turns
// ?token= into the cookie, and refuses the rest: 401 without credentials,
// 403 with wrong ones.
func (ad *admin) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
		if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet {
			if !equalSecret(t, ad.token.Reveal()) {
				adminRefuse(w, r, http.StatusForbidden, "wrong token")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: ad.cookieValue(), Path: "/admin/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			q := r.URL.Query()
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if h := r.Header.Get("Authorization"); h != "" {
			t, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || !equalSecret(strings.TrimSpace(t), ad.token.Reveal()) {
				adminRefuse(w, r, http.StatusForbidden, "wrong token")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(adminCookie); err == nil {
			if !equalSecret(c.Value, ad.cookieValue()) {
				adminRefuse(w, r, http.StatusForbidden, "wrong token (open the operator page's link again)")
				return
			}
			if r.Method != http.MethodGet && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				// A cross-site form cannot send JSON; the cookie is
				// SameSite=Strict as well.
				adminRefuse(w, r, http.StatusForbidden, "send JSON")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		adminRefuse(w, r, http.StatusUnauthorized, "the operator page needs the admin token: open /admin/?token=TOKEN (printed at start, or [http] admin_token), or send Authorization: Bearer TOKEN")
	})
}

func adminRefuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="chat-bridge admin"`)
	}
	if strings.HasPrefix(r.URL.Path, "/admin/api/") {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (ad *admin) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'")
		io.WriteString(w, adminHTML)
	})
	mux.HandleFunc("GET /admin/admin.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		io.WriteString(w, adminJS)
	})
	mux.HandleFunc("GET /admin/admin.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		io.WriteString(w, adminCSS)
	})
	mux.HandleFunc("GET /admin/api/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ad.status())
	})
	mux.HandleFunc("GET /admin/api/conversations", ad.serveList)
	mux.HandleFunc("POST /admin/api/conversations/reset", ad.serveReset)
	return mux
}

// The JSON API's types (the CLI decodes them too).
type (
	adminStatus struct {
		Version   string          `json:"version"`
		Store     string          `json:"store"`
		Instances []adminInstance `json:"instances"`
		Backends  []adminBackend  `json:"backends"`
		// Cluster is the deployment: replicas, the partitions and roles
		// each holds, the unowned ones (cluster mode only).
		Cluster *deploymentView `json:"cluster,omitempty"`
	}
	adminInstance struct {
		Name       string     `json:"name"` // platform/instance
		Backend    string     `json:"backend"`
		State      string     `json:"state"` // connected | disconnected | stopped
		Connected  bool       `json:"connected"`
		LastError  string     `json:"last_error,omitempty"`
		ErrorSince *time.Time `json:"last_error_at,omitempty"`
		Answered1h int        `json:"answered_last_hour"`
		Failed1h   int        `json:"failed_last_hour"`
		URL        string     `json:"url,omitempty"` // web chats: their page
	}
	adminBackend struct {
		Name       string     `json:"name"`
		Kind       string     `json:"kind"`
		Healthy    bool       `json:"healthy"`
		LastError  string     `json:"last_error,omitempty"`
		ErrorSince *time.Time `json:"last_error_at,omitempty"`
	}
	adminConversation struct {
		Key            string    `json:"key"`
		Backend        string    `json:"backend"`
		ConversationID string    `json:"conversation_id"`
		Turns          int       `json:"turns"`
		Created        time.Time `json:"created"`
		LastUsed       time.Time `json:"last_used"`
	}
	adminReset struct {
		Key   string `json:"key"`
		Found bool   `json:"found"`
	}
)

func (ad *admin) status() adminStatus {
	st := adminStatus{Version: versionString(), Store: "ok"}
	if w, ok := ad.db.(interface{ Writable() error }); ok {
		if err := w.Writable(); err != nil {
			st.Store = err.Error()
		}
	}
	hour := ad.lastHour()
	backendOf := map[string]string{}
	for _, in := range ad.cfg.Instances {
		backendOf[in.Platform+"/"+in.Name] = in.Backend
	}
	for _, ih := range ad.health {
		ai := adminInstance{Name: ih.name, Backend: backendOf[ih.name], State: "connected", Connected: true}
		switch {
		case ih.stopped.Load():
			ai.State, ai.Connected = "stopped", false
		default:
			if c, ok := ih.p.(interface{ Connected() bool }); ok && !c.Connected() {
				ai.State, ai.Connected = "disconnected", false
			}
		}
		if e, ok := ad.errs.last("instance", ih.name); ok {
			ai.LastError, ai.ErrorSince = e.msg, &e.at
		}
		o := hour[ih.name]
		ai.Answered1h, ai.Failed1h = int(o.answered), int(o.failed)
		if name, ok := strings.CutPrefix(ih.name, "web/"); ok {
			ai.URL = web.Path(name)
		}
		st.Instances = append(st.Instances, ai)
	}
	for _, name := range sortedKeys(ad.cfg.Backends) {
		ab := adminBackend{Name: name, Kind: ad.cfg.Backends[name].Kind, Healthy: true}
		if e, ok := ad.errs.last("backend", name); ok {
			ab.LastError, ab.ErrorSince = e.msg, &e.at
			ab.Healthy = ad.now().Sub(e.at) > 5*time.Minute
		}
		st.Backends = append(st.Backends, ab)
	}
	if ad.cluster != nil {
		st.Cluster = ad.cluster()
	}
	return st
}

func (ad *admin) serveList(w http.ResponseWriter, r *http.Request) {
	entries, err := ad.db.List()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	prefix := r.URL.Query().Get("prefix")
	out := []adminConversation{}
	for _, en := range entries {
		if !strings.HasPrefix(en.Key, prefix) {
			continue
		}
		out = append(out, adminConversation{Key: en.Key, Backend: en.Record.Backend, ConversationID: en.Record.ConversationID,
			Turns: en.Record.Turns, Created: en.Record.Created, LastUsed: en.Record.LastUsed})
	}
	writeJSON(w, http.StatusOK, out)
}

func (ad *admin) serveReset(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send JSON: {\"key\": \"platform/instance/chat\"}"})
		return
	}
	k, err := store.ParseKey(req.Key)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	_, found, err := ad.db.Get(k)
	if err == nil && found {
		err = ad.db.Forget(k)
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, adminReset{Key: k.String(), Found: found})
}

// ---- answers per hour ------------------------------------------------

// sampleEvery is how often the message counters are read.
const sampleEvery = time.Minute

// run samples the counters until ctx ends.
func (ad *admin) run(ctx context.Context) {
	ad.takeSample()
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ad.takeSample()
		}
	}
}

// gather reads chatbridge_messages_total by platform/instance.
func (ad *admin) gather() map[string]outcomes {
	out := map[string]outcomes{}
	mfs, err := ad.reg.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "chatbridge_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var platform, instance, outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "platform":
					platform = l.GetValue()
				case "instance":
					instance = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			k := platform + "/" + instance
			o := out[k]
			switch outcome {
			case "answered":
				o.answered += m.GetCounter().GetValue()
			case "failed":
				o.failed += m.GetCounter().GetValue()
			}
			out[k] = o
		}
	}
	return out
}

func (ad *admin) takeSample() {
	s := sample{at: ad.now(), counts: ad.countsFn()}
	ad.mu.Lock()
	defer ad.mu.Unlock()
	ad.samples = append(ad.samples, s)
	// Keep the newest sample at least an hour old, and those after it.
	for len(ad.samples) > 1 && s.at.Sub(ad.samples[1].at) >= time.Hour {
		ad.samples = ad.samples[1:]
	}
}

// lastHour returns the answers and failures since the oldest sample within
// the last hour (since start when the process is younger).
func (ad *admin) lastHour() map[string]outcomes {
	now := ad.countsFn()
	ad.mu.Lock()
	var base map[string]outcomes
	t := ad.now()
	for _, s := range ad.samples {
		if t.Sub(s.at) <= time.Hour {
			base = s.counts
			break
		}
	}
	ad.mu.Unlock()
	if base == nil {
		return now
	}
	for k, o := range now {
		b := base[k]
		now[k] = outcomes{answered: o.answered - b.answered, failed: o.failed - b.failed}
	}
	return now
}

// ---- last errors, from the log ----------------------------------------

// errorLog is a slog.Handler wrapper that remembers the last warning or
// error of every instance (records scoped with platform and instance)
// and backend (records scoped with backend, and an instance's backend
// failures, which carry a "kind"). It keeps only the message and the err
// attribute, which the log already holds free of secrets.
type errorLog struct {
	mu        sync.Mutex
	byName    map[string]lastError // "instance platform/name", "backend name"
	backendOf map[string]string    // platform/instance -> backend
	now       func() time.Time
}

type lastError struct {
	msg string
	at  time.Time
}

func newErrorLog(cfg *Config) *errorLog {
	el := &errorLog{byName: map[string]lastError{}, backendOf: map[string]string{}, now: time.Now}
	for _, in := range cfg.Instances {
		el.backendOf[in.Platform+"/"+in.Name] = in.Backend
	}
	return el
}

func (el *errorLog) last(kind, name string) (lastError, bool) {
	el.mu.Lock()
	defer el.mu.Unlock()
	e, ok := el.byName[kind+" "+name]
	return e, ok
}

func (el *errorLog) record(attrs []slog.Attr, r slog.Record) {
	var platform, instance, backendName, errText string
	var backendFailure bool
	see := func(a slog.Attr) bool {
		switch a.Key {
		case "platform":
			platform = a.Value.String()
		case "instance":
			instance = a.Value.String()
		case "backend":
			backendName = a.Value.String()
		case "err":
			errText = a.Value.String()
		case "kind":
			backendFailure = true
		}
		return true
	}
	for _, a := range attrs {
		see(a)
	}
	r.Attrs(see)
	msg := r.Message
	if errText != "" {
		msg += ": " + errText
	}
	e := lastError{msg: msg, at: r.Time}
	if e.at.IsZero() {
		e.at = el.now()
	}
	el.mu.Lock()
	defer el.mu.Unlock()
	if platform != "" && instance != "" {
		name := platform + "/" + instance
		el.byName["instance "+name] = e
		if backendFailure && backendName == "" {
			backendName = el.backendOf[name]
		}
	}
	if backendName != "" {
		el.byName["backend "+backendName] = e
	}
}

// wrap returns h, also recording into el.
func (el *errorLog) wrap(h slog.Handler) slog.Handler { return &errorHandler{el: el, next: h} }

type errorHandler struct {
	el    *errorLog
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs (groups are not used for these keys)
}

func (h *errorHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *errorHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.el.record(h.attrs, r)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *errorHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &errorHandler{el: h.el, next: h.next.WithAttrs(as), attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *errorHandler) WithGroup(name string) slog.Handler {
	return &errorHandler{el: h.el, next: h.next.WithGroup(name), attrs: h.attrs}
}

// ---- start-up: URLs and the admin file --------------------------------

// localURL returns the http:// base URL for a listen address, with a
// loopback host for a wildcard one.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// adminFile is the file beside the store where a running process tells
// `bridge conversations` how to reach it.
func adminFile(storePath string) string {
	if storePath == "" {
		storePath = "bridge.db"
	}
	return storePath + ".admin"
}

type adminFileData struct {
	URL   string `json:"url"`
	Token string `json:"token,omitempty"` // only a generated one
}

// started prints the web chats' and the operator page's URLs once and
// writes the admin file; it returns the function removing that file.
func (ad *admin) started(w io.Writer, addr, storePath string, log *slog.Logger) (cleanup func()) {
	base := localURL(addr)
	for _, in := range ad.cfg.Instances {
		if in.Platform == "web" {
			fmt.Fprintf(w, "web chat %s: %s%s\n", in.Name, base, web.Path(in.Name))
		}
	}
	if ad.generated {
		fmt.Fprintf(w, "operator page: %s/admin/?token=%s\n", base, ad.token.Reveal())
	} else {
		fmt.Fprintf(w, "operator page: %s/admin/ (token: [http] admin_token)\n", base)
	}
	data := adminFileData{URL: base}
	if ad.generated {
		data.Token = ad.token.Reveal()
	}
	b, _ := json.Marshal(data)
	path := adminFile(storePath)
	if err := writePrivate(path, b); err != nil {
		log.Warn("admin file not written; `bridge conversations` cannot reach this process", "path", path, "err", err)
		return func() {}
	}
	return func() { _ = os.Remove(path) }
}

// writePrivate writes b to path with mode 0600, replacing it atomically.
func writePrivate(path string, b []byte) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// ---- bridge conversations, through the running process ----------------

// adminClient calls a running process's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// newAdminClient finds the running process: the admin file beside the
// store, else [http] listen; the token from [http] admin_token, else the
// file's.
func newAdminClient(cfg *Config, storePath string) (*adminClient, error) {
	c := &adminClient{token: cfg.AdminToken.Reveal(), http: &http.Client{Timeout: 10 * time.Second}}
	if cfg.HTTPListen != "" {
		c.base = localURL(cfg.HTTPListen)
	}
	if b, err := os.ReadFile(adminFile(storePath)); err == nil {
		var d adminFileData
		if json.Unmarshal(b, &d) == nil {
			if d.URL != "" {
				c.base = d.URL
			}
			if c.token == "" {
				c.token = d.Token
			}
		}
	}
	switch {
	case c.base == "":
		return nil, errors.New("the store is in use by a running bridge, and [http] listen is off, so its operator API cannot be reached")
	case c.token == "":
		return nil, fmt.Errorf("the store is in use by a running bridge; to reach its operator API set [http] admin_token (or run this as the user running it, who can read %s)", adminFile(storePath))
	}
	return c, nil
}

func (c *adminClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("the store is in use, and the running bridge's operator API at %s does not answer: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		return fmt.Errorf("operator API at %s: %s: %s", c.base, resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// conversationsViaAdmin runs `conversations list|reset` against the
// running process; it returns the exit code.
func conversationsViaAdmin(cfg *Config, storePath string, pos []string, e *env) int {
	c, err := newAdminClient(cfg, storePath)
	if err != nil {
		fmt.Fprintf(e.stderr, "bridge: %v\n", err)
		return exitRuntime
	}
	ctx := e.context()
	if pos[0] == "reset" {
		k, err := store.ParseKey(pos[1])
		if err != nil {
			fmt.Fprintf(e.stderr, "bridge: %q: %v\n", pos[1], err)
			return exitUsage
		}
		var res adminReset
		if err := c.do(ctx, http.MethodPost, "/admin/api/conversations/reset", map[string]string{"key": k.String()}, &res); err != nil {
			fmt.Fprintf(e.stderr, "bridge: %v\n", err)
			return exitRuntime
		}
		if !res.Found {
			fmt.Fprintf(e.stdout, "no conversation %s\n", k)
			return exitOK
		}
		fmt.Fprintf(e.stdout, "forgot conversation %s\n", k)
		return exitOK
	}
	var list []adminConversation
	if err := c.do(ctx, http.MethodGet, "/admin/api/conversations", nil, &list); err != nil {
		fmt.Fprintf(e.stderr, "bridge: %v\n", err)
		return exitRuntime
	}
	entries := make([]store.Entry, len(list))
	for i, ac := range list {
		entries[i] = store.Entry{Key: ac.Key, Record: store.Record{Backend: ac.Backend, ConversationID: ac.ConversationID,
			Turns: ac.Turns, Created: ac.Created, LastUsed: ac.LastUsed}}
	}
	printConversations(e.stdout, entries)
	return exitOK
}

// printConversations writes the `conversations list` table.
func printConversations(w io.Writer, entries []store.Entry) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tBACKEND\tCONVERSATION\tTURNS\tLAST USED")
	for _, en := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", en.Key, en.Record.Backend, en.Record.ConversationID, en.Record.Turns, en.Record.LastUsed.Format(time.RFC3339))
	}
	tw.Flush()
}

// ---- the operator page -------------------------------------------------

// The page is plain HTML, CSS and a small script; everything it shows is
// set with textContent (conversation keys and errors come from outside).
const adminHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chat-bridge operator</title>
<link rel="stylesheet" href="admin.css">
<script src="admin.js" defer></script>
</head>
<body>
<header><h1>chat-bridge</h1><span id="version"></span><span id="store"></span></header>
<section>
<h2>Instances</h2>
<table id="instances"><thead><tr><th>Instance</th><th>Backend</th><th>State</th><th>Answered (1h)</th><th>Failed (1h)</th><th>Last error</th><th>Since</th></tr></thead><tbody></tbody></table>
</section>
<section>
<h2>Backends</h2>
<table id="backends"><thead><tr><th>Backend</th><th>Kind</th><th>Health</th><th>Last error</th><th>Since</th></tr></thead><tbody></tbody></table>
</section>
<section id="cluster" hidden>
<h2>Cluster</h2>
<p id="cluster-summary"></p>
<table id="replicas"><thead><tr><th>Replica</th><th>State</th><th>Partitions (token, lease left)</th><th>Roles (token, lease left)</th></tr></thead><tbody></tbody></table>
<table id="unowned"><thead><tr><th>Unowned</th><th>For</th><th>Last token</th></tr></thead><tbody></tbody></table>
</section>
<section>
<h2>Conversations</h2>
<form id="search"><input id="prefix" type="search" placeholder="key prefix, e.g. web/local/" aria-label="Key prefix"><button type="submit">Search</button></form>
<table id="conversations"><thead><tr><th>Key</th><th>Backend</th><th>Conversation</th><th>Turns</th><th>Last used</th><th></th></tr></thead><tbody></tbody></table>
<p id="message" role="status"></p>
</section>
</body>
</html>
`

const adminCSS = `body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 0 1rem 2rem; color: #1c1e21; }
header { display: flex; gap: 1rem; align-items: baseline; border-bottom: 1px solid #ddd; }
header span { color: #666; font-size: .85rem; }
h1 { font-size: 1.2rem; } h2 { font-size: 1rem; margin-top: 1.5rem; }
table { border-collapse: collapse; width: 100%; display: block; overflow-x: auto; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #eee; vertical-align: top; }
td.err { color: #b00; max-width: 28rem; overflow-wrap: anywhere; }
.ok { color: #197a2e; } .bad { color: #b00; }
form { display: flex; gap: .5rem; margin-bottom: .5rem; }
input { flex: 1; font: inherit; padding: .3rem .5rem; }
button { font: inherit; }
code { font: .9em ui-monospace, monospace; }
.lease { display: inline-block; margin: 0 .3rem .2rem 0; padding: 0 .3rem; border: 1px solid #ddd; border-radius: 3px; font: .85em ui-monospace, monospace; white-space: nowrap; }
tr.bad td { background: #fdecea; }
#unowned { margin-top: .8rem; }
tr.muted td { color: #666; }
`

const adminJS = `"use strict";
(function () {
  const $ = (s) => document.querySelector(s);
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function when(t) { return t ? new Date(t).toLocaleString() : ""; }
  async function api(path, opts) {
    const r = await fetch("api/" + path, Object.assign({ credentials: "same-origin" }, opts || {}));
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || r.statusText);
    return j;
  }
  async function status() {
    try {
      const s = await api("status");
      $("#version").textContent = "version " + s.version;
      $("#store").textContent = "store: " + s.store;
      const ib = $("#instances tbody");
      ib.replaceChildren();
      for (const i of s.instances || []) {
        const tr = document.createElement("tr");
        tr.dataset.name = i.name;
        const name = cell(tr, "");
        if (i.url) { const a = document.createElement("a"); a.href = i.url; a.textContent = i.name; name.appendChild(a); }
        else name.textContent = i.name;
        cell(tr, i.backend);
        cell(tr, i.state, i.connected ? "ok state" : "bad state");
        cell(tr, i.answered_last_hour, "answered");
        cell(tr, i.failed_last_hour, "failed");
        cell(tr, i.last_error, "err");
        cell(tr, when(i.last_error_at));
        ib.appendChild(tr);
      }
      const bb = $("#backends tbody");
      bb.replaceChildren();
      for (const b of s.backends || []) {
        const tr = document.createElement("tr");
        tr.dataset.name = b.name;
        cell(tr, b.name); cell(tr, b.kind);
        cell(tr, b.healthy ? "ok" : "failing", b.healthy ? "ok" : "bad");
        cell(tr, b.last_error, "err"); cell(tr, when(b.last_error_at));
        bb.appendChild(tr);
      }
      cluster(s.cluster);
    } catch (e) { $("#message").textContent = "status: " + e.message; }
  }
  function secs(ms) { return (ms / 1000).toFixed(1) + " s"; }
  function chip(td, text, attr, value) {
    const sp = document.createElement("span");
    sp.className = "lease";
    sp.dataset[attr] = String(value);
    sp.textContent = text;
    td.appendChild(sp);
  }
  function cluster(c) {
    const sec = $("#cluster");
    sec.hidden = !c;
    if (!c) return;
    const rb = $("#replicas tbody"), ub = $("#unowned tbody");
    rb.replaceChildren(); ub.replaceChildren();
    if (c.error) { $("#cluster-summary").textContent = "cluster: " + c.error; return; }
    const live = c.replicas.filter((r) => r.live).length;
    $("#cluster-summary").textContent = live + " live replicas, " + c.partitions + " partitions, " +
      c.unowned_partitions.length + " unowned (read by " + c.replica + " at " + when(c.at) + ")";
    for (const r of c.replicas) {
      const tr = document.createElement("tr");
      tr.dataset.replica = r.id;
      cell(tr, r.id + (r.self ? " (this one)" : ""), "id");
      cell(tr, r.live ? "live" : "not announcing", r.live ? "ok state" : "bad state");
      const ps = cell(tr, "", "partitions");
      for (const p of r.partitions) chip(ps, "p" + p.partition + " #" + p.token + " " + secs(p.left_ms), "partition", p.partition);
      const rs = cell(tr, "", "roles");
      for (const l of r.roles) chip(rs, l.role + " #" + l.token + " " + secs(l.left_ms), "role", l.role);
      rb.appendChild(tr);
    }
    for (const u of c.unowned_partitions.concat(c.unowned_roles)) {
      const tr = document.createElement("tr");
      const part = u.role === undefined;
      if (part) tr.dataset.partition = String(u.partition); else tr.dataset.role = u.role;
      tr.className = part ? "bad" : "muted";
      cell(tr, part ? "partition " + u.partition : "role " + u.role);
      cell(tr, secs(u.unowned_for_ms), "for");
      cell(tr, u.last_token ? u.last_token : "never held");
      ub.appendChild(tr);
    }
    if (ub.children.length === 0) {
      const tr = document.createElement("tr");
      cell(tr, "every partition and role is held").colSpan = 3;
      ub.appendChild(tr);
    }
  }
  async function conversations() {
    try {
      const list = await api("conversations?prefix=" + encodeURIComponent($("#prefix").value));
      const tb = $("#conversations tbody");
      tb.replaceChildren();
      for (const c of list) {
        const tr = document.createElement("tr");
        tr.dataset.key = c.key;
        cell(tr, c.key, "key"); cell(tr, c.backend); cell(tr, c.conversation_id); cell(tr, c.turns); cell(tr, when(c.last_used));
        const td = cell(tr, "");
        const b = document.createElement("button");
        b.type = "button"; b.textContent = "Reset"; b.className = "reset";
        b.addEventListener("click", () => reset(c.key));
        td.appendChild(b);
        tb.appendChild(tr);
      }
      if (list.length === 0) {
        const tr = document.createElement("tr");
        cell(tr, "no conversations").colSpan = 6;
        tb.appendChild(tr);
      }
    } catch (e) { $("#message").textContent = "conversations: " + e.message; }
  }
  async function reset(key) {
    try {
      const r = await api("conversations/reset", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key: key }) });
      $("#message").textContent = (r.found ? "Forgot conversation " : "No conversation ") + r.key;
    } catch (e) { $("#message").textContent = "reset: " + e.message; }
    conversations();
  }
  $("#search").addEventListener("submit", (ev) => { ev.preventDefault(); conversations(); });
  status(); conversations();
  setInterval(status, 5000);
})();
`
