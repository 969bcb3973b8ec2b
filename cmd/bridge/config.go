package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/store"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
)

// ConfigError is an invalid configuration; the CLI exits with code 2.
type ConfigError struct {
	File string // the config file; empty when not known
	Key  string // the failing key, dotted; empty when not known
	Line int    // 1-based, 0 when not known
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("config")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// ConfigErrors are all the problems found in one pass over a file, in
// the order of their lines.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the first ConfigError.
func (es ConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// err returns es sorted by line, or nil when empty.
func (es ConfigErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	slices.SortStableFunc(es, func(a, b *ConfigError) int { return a.Line - b.Line })
	return es
}

// add records err (a *ConfigError or ConfigErrors) with the file and its
// line located in text.
func (es *ConfigErrors) add(file, text string, err error) {
	var many ConfigErrors
	if errors.As(err, &many) {
		for _, e := range many {
			es.add(file, text, e)
		}
		return
	}
	ce, ok := located(text, err).(*ConfigError)
	if !ok {
		ce = &ConfigError{Msg: err.Error()}
	}
	if ce.File == "" {
		ce.File = file
	}
	*es = append(*es, ce)
}

// Config is the whole decoded configuration file.
type Config struct {
	// unset are the ${VAR}s whose variable is not set (expanded to ""),
	// refused by requireEnv where the command uses their table.
	unset []tableUnset

	Path          string
	Store         store.Config
	StoreKind     string            // [store] kind: "bbolt" (default) or "redis"
	Redis         redisstore.Config // [store] url, prefix, idle_reset when kind = "redis"
	Cluster       ClusterConfig     // [cluster], with kind = "redis"
	HTTPListen    string
	AdminToken    backend.Secret // [http] admin_token; empty = generated at start
	Pprof         bool           // serve /debug/pprof/ on [http] listen
	ShutdownGrace time.Duration
	PendingMaxAge time.Duration
	// Language is [bridge] language: "auto" (each user's own, the
	// default) or one of bridges.Languages for every notice.
	Language  string
	Policy    bridges.Policy // [limits], before instance overrides
	Log       LogConfig
	Backends  map[string]*BackendConfig
	Instances []*Instance
}

// LogConfig is the [log] table.
type LogConfig struct {
	// Format is "text" (default) or "json".
	Format string `toml:"format"`
	// Level is debug, info (default), warn or error.
	Level string `toml:"level"`
	// Content logs message text (privacy: off by default).
	Content bool `toml:"content"`
}

type tableUnset struct {
	unsetVar
	table string // "telegram.main", "" for top-level keys
}

// requireEnv reports every unset variable in one of tables (a table and
// its subtables), in one error; with no tables, the tables the instances
// use (tablesInUse). Commands call it for the tables they use, so that
// `console --backend demo` works while the platforms' tokens are not set
// yet, and a backend no instance uses needs no key.
func (c *Config) requireEnv(tables ...string) error {
	if len(tables) == 0 {
		tables = c.tablesInUse()
	}
	var errs ConfigErrors
	for _, u := range c.unset {
		for _, t := range tables {
			if u.table == t || strings.HasPrefix(u.table, t+".") {
				errs = append(errs, &ConfigError{File: c.Path, Line: u.Line, Msg: fmt.Sprintf("environment variable %s is not set", u.Name)})
				break
			}
		}
	}
	return errs.err()
}

// tablesInUse are the tables `run` reads: the top-level ones, every
// instance's and the backends they use.
func (c *Config) tablesInUse() []string {
	t := []string{"", "store", "http", "log", "bridge", "limits"}
	for _, in := range c.Instances {
		t = append(t, in.Platform+"."+in.Name, "backends."+in.Backend)
		for _, r := range in.Routes {
			t = append(t, "backends."+r.Backend)
		}
	}
	return t
}

// tableAt returns the table a line of the file belongs to.
func tableAt(text string, line int) string {
	table := ""
	for i, l := range strings.Split(text, "\n") {
		if i+1 >= line {
			break
		}
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "[") {
			h := strings.Trim(t, "[] ")
			if j := strings.Index(h, "]"); j >= 0 {
				h = h[:j]
			}
			table = strings.TrimSpace(h)
		}
	}
	return table
}

// BackendConfig is one [backends.NAME] table.
type BackendConfig struct {
	Name      string
	Kind      string
	Citations bool
	// MaxCitations is max_citations: the most sources shown (default 5).
	MaxCitations int
	// build constructs the client from the kind's own decoded Config.
	build func(deps backend.Deps) (backend.Backend, error)
}

// Instance is one [telegram.NAME], [discord.NAME] or [slack.NAME] table.
type Instance struct {
	Platform string
	Name     string
	Backend  string
	Respond  string
	Scope    string
	Routes   []RouteConfig
	// ThreadContext is thread_context: how many earlier messages of a
	// thread go with a conversation's first question (default 20, 0 =
	// off).
	ThreadContext int
	EditInterval  time.Duration
	Policy        bridges.Policy
	build         func(deps bridges.Deps) (bridges.Platform, error)
}

// limitKeys are the access and abuse limits, in [limits] for every
// instance and in an instance's table to override them.
type limitKeys struct {
	UserRate         *bridges.Rate `toml:"user_rate"`
	ChatRate         *bridges.Rate `toml:"chat_rate"`
	UserDailyQuota   *int          `toml:"user_daily_quota"`
	MaxQuestionChars *int          `toml:"max_question_chars"`
	Reset            *string       `toml:"reset"`
	Admins           *[]string     `toml:"admins"`
	ErrorPolicy      *string       `toml:"error_policy"`
}

// apply overrides p with the keys that are set, validating them.
func (l limitKeys) apply(p bridges.Policy, prefix string) (bridges.Policy, error) {
	if l.UserRate != nil {
		p.UserRate = *l.UserRate
	}
	if l.ChatRate != nil {
		p.ChatRate = *l.ChatRate
	}
	if l.UserDailyQuota != nil {
		if *l.UserDailyQuota < 0 {
			return p, &ConfigError{Key: prefix + "user_daily_quota", Msg: "must be 0 (no quota) or more"}
		}
		p.UserDailyQuota = *l.UserDailyQuota
	}
	if l.MaxQuestionChars != nil {
		p.MaxQuestionChars = *l.MaxQuestionChars
		if p.MaxQuestionChars == 0 {
			p.MaxQuestionChars = -1 // 0 in the file means no limit
		}
	}
	if l.Reset != nil {
		switch *l.Reset {
		case "anyone", "":
			p.ResetAdminsOnly = false
		case "admins":
			p.ResetAdminsOnly = true
		default:
			return p, &ConfigError{Key: prefix + "reset", Msg: fmt.Sprintf("must be \"anyone\" or \"admins\", not %q", *l.Reset)}
		}
	}
	if l.Admins != nil {
		p.Admins = *l.Admins
	}
	if l.ErrorPolicy != nil {
		switch *l.ErrorPolicy {
		case "message", "reaction", "silent":
			p.ErrorPolicy = *l.ErrorPolicy
		default:
			return p, &ConfigError{Key: prefix + "error_policy", Msg: fmt.Sprintf("must be \"message\", \"reaction\" or \"silent\", not %q", *l.ErrorPolicy)}
		}
	}
	return p, nil
}

// routeKeys are the keys of an instance table the core uses; the rest
// belong to the adapter's Config.
type routeKeys struct {
	Backend       string     `toml:"backend"`
	Respond       string     `toml:"respond"`
	Scope         string     `toml:"scope"`
	EditInterval  duration   `toml:"edit_interval"`
	Routes        []routeKey `toml:"routes"`
	ThreadContext *int       `toml:"thread_context"`
	limitKeys
}

// routeKey is one entry of an instance's routes: the chats (Telegram),
// channels (Discord, Slack) or guilds (Discord) it matches and the
// backend that answers there.
type routeKey struct {
	Chats    []any    `toml:"chats"`
	Channels []string `toml:"channels"`
	Guilds   []string `toml:"guilds"`
	Backend  string   `toml:"backend"`
}

// RouteConfig is a decoded route: where it applies and its backend.
type RouteConfig struct {
	Chats   []string // chat or channel IDs
	Guilds  []string // Discord guild IDs
	Backend string
}

// routeMatchKeys are the keys each platform's routes match by.
var routeMatchKeys = map[string][]string{
	"telegram": {"chats"},
	"discord":  {"channels", "guilds"},
	"slack":    {"channels"},
	"web":      {},
}

// decodeRoutes validates an instance's routes.
func decodeRoutes(platform, prefix string, rks []routeKey, backends map[string]*BackendConfig, badBackends map[string]bool) ([]RouteConfig, error) {
	var out []RouteConfig
	for i, rk := range rks {
		key := fmt.Sprintf("%s.routes[%d]", prefix, i)
		rc := RouteConfig{Backend: rk.Backend, Guilds: rk.Guilds}
		for _, c := range rk.Chats {
			switch v := c.(type) {
			case int64:
				rc.Chats = append(rc.Chats, strconv.FormatInt(v, 10))
			case string:
				rc.Chats = append(rc.Chats, v)
			default:
				return nil, &ConfigError{Key: prefix + ".routes", Msg: fmt.Sprintf("routes[%d].chats: %v is not a chat ID", i, c)}
			}
		}
		rc.Chats = append(rc.Chats, rk.Channels...)
		allowed := routeMatchKeys[platform]
		used := map[string]bool{"chats": len(rk.Chats) > 0, "channels": len(rk.Channels) > 0, "guilds": len(rk.Guilds) > 0}
		any := false
		for _, k := range []string{"chats", "channels", "guilds"} {
			if used[k] && !slices.Contains(allowed, k) {
				return nil, &ConfigError{Key: prefix + ".routes", Msg: fmt.Sprintf("routes[%d]: %s routes match by %s, not %s", i, platform, strings.Join(allowed, " or "), k)}
			}
			any = any || used[k]
		}
		if !any {
			return nil, &ConfigError{Key: prefix + ".routes", Msg: fmt.Sprintf("routes[%d]: name the %s it applies to", i, strings.Join(allowed, " or "))}
		}
		if rk.Backend == "" {
			return nil, &ConfigError{Key: prefix + ".routes", Msg: fmt.Sprintf("routes[%d]: backend is missing", i)}
		}
		if _, ok := backends[rk.Backend]; !ok && !badBackends[rk.Backend] {
			return nil, &ConfigError{Key: prefix + ".routes", Msg: fmt.Sprintf("%s.backend: no backend named %q (defined: %s)", strings.TrimPrefix(key, prefix+"."), rk.Backend, strings.Join(sortedKeys(backends), ", "))}
		}
		out = append(out, rc)
	}
	return out, nil
}

// duration decodes "" as zero, and a Go duration string.
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a form like \"1.5s\" or \"10m\")", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", b)
	}
	*d = duration(v)
	return nil
}

type fileConfig struct {
	Store struct {
		Kind      string   `toml:"kind"`
		Path      string   `toml:"path"`
		URL       string   `toml:"url"`
		Prefix    string   `toml:"prefix"`
		IdleReset duration `toml:"idle_reset"`
	} `toml:"store"`
	HTTP struct {
		Listen     string         `toml:"listen"`
		AdminToken backend.Secret `toml:"admin_token"`
		Pprof      bool           `toml:"pprof"`
	} `toml:"http"`
	Bridge struct {
		ShutdownGrace duration `toml:"shutdown_grace"`
		PendingMaxAge duration `toml:"pending_max_age"`
		Language      string   `toml:"language"`
	} `toml:"bridge"`
	Cluster  clusterKeys               `toml:"cluster"`
	Limits   limitKeys                 `toml:"limits"`
	Log      LogConfig                 `toml:"log"`
	Backends map[string]toml.Primitive `toml:"backends"`
	Telegram map[string]toml.Primitive `toml:"telegram"`
	Discord  map[string]toml.Primitive `toml:"discord"`
	Slack    map[string]toml.Primitive `toml:"slack"`
	Web      map[string]toml.Primitive `toml:"web"`
}

// defaultListen is [http] listen when the key is absent.
const defaultListen = "127.0.0.1:9090"

// LoadConfig reads, expands and validates the file at path.
func LoadConfig(path string, getenv func(string) (string, bool)) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	return ParseConfig(path, string(raw), getenv)
}

// ParseConfig validates a configuration file's text. It reports every
// problem it finds in one pass (ConfigErrors), each with the file, the
// line and the key.
func ParseConfig(path, src string, getenv func(string) (string, bool)) (*Config, error) {
	text, unset, err := expandEnv(src, getenv)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	var fc fileConfig
	md, err := toml.Decode(text, &fc)
	if err != nil {
		var errs ConfigErrors
		errs.add(path, text, tomlError(err))
		return nil, errs.err()
	}
	var errs ConfigErrors
	fail := func(err error) { errs.add(path, text, err) }
	cfg := &Config{
		Path:          path,
		Store:         store.Config{Path: fc.Store.Path, IdleReset: time.Duration(fc.Store.IdleReset)},
		HTTPListen:    fc.HTTP.Listen,
		AdminToken:    fc.HTTP.AdminToken,
		Pprof:         fc.HTTP.Pprof,
		ShutdownGrace: time.Duration(fc.Bridge.ShutdownGrace),
		PendingMaxAge: time.Duration(fc.Bridge.PendingMaxAge),
		Language:      fc.Bridge.Language,
		Log:           fc.Log,
		Backends:      map[string]*BackendConfig{},
	}
	if !md.IsDefined("http", "listen") {
		cfg.HTTPListen = defaultListen
	}
	cfg.Store.Path = storePath(path, cfg.Store.Path)
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	if cfg.PendingMaxAge == 0 {
		cfg.PendingMaxAge = 10 * time.Minute
	}
	if cfg.Language == "" {
		cfg.Language = "auto"
	}
	if cfg.Language != "auto" && !bridges.IsLanguage(cfg.Language) {
		fail(keyError(text, "bridge.language", fmt.Sprintf("must be \"auto\" or one of %s, not %q", strings.Join(bridges.Languages, ", "), cfg.Language)))
	}
	if err := cfg.decodeStore(text, fc.Store.Kind, fc.Store.URL, fc.Store.Prefix); err != nil {
		return nil, err
	}
	for _, err := range cfg.decodeCluster(md, text, fc.Cluster, fc.Telegram) {
		fail(err)
	}
	if cfg.Policy, err = fc.Limits.apply(bridges.Policy{}, "limits."); err != nil {
		fail(err)
	}
	if cfg.Log.Format == "" {
		cfg.Log.Format = "text"
	}
	if cfg.Log.Format != "text" && cfg.Log.Format != "json" {
		fail(keyError(text, "log.format", fmt.Sprintf("must be \"text\" or \"json\", not %q", cfg.Log.Format)))
	}
	if _, err := parseLevel(cfg.Log.Level); err != nil {
		fail(keyError(text, "log.level", err.Error()))
	}

	badBackends := map[string]bool{}
	for _, name := range sortedKeys(fc.Backends) {
		bc, err := decodeBackend(md, name, fc.Backends[name])
		if err != nil {
			fail(err)
			badBackends[name] = true
			if bk, ok := backendKinds[kindOfTable(md, fc.Backends[name])]; ok {
				_, _ = bk(md, fc.Backends[name]) // its keys are known all the same
			}
			continue
		}
		cfg.Backends[name] = bc
	}
	for _, pk := range platformKinds {
		tables := map[string]map[string]toml.Primitive{"telegram": fc.Telegram, "discord": fc.Discord, "slack": fc.Slack, "web": fc.Web}[pk.name]
		for _, name := range sortedKeys(tables) {
			in, err := decodeInstance(md, pk, name, tables[name], cfg.Backends, badBackends, cfg.Policy)
			if err != nil {
				fail(err)
				_, _ = pk.decode(md, tables[name], name) // its keys are known all the same
				continue
			}
			cfg.Instances = append(cfg.Instances, in)
		}
	}
	if err := checkWebListen(cfg, text); err != nil {
		return nil, err
	}
	for _, u := range unset {
		cfg.unset = append(cfg.unset, tableUnset{unsetVar: u, table: tableAt(text, u.Line)})
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		name := k.String()
		if slices.ContainsFunc(unknown, func(u string) bool { return strings.HasPrefix(name, u+".") }) {
			continue // inside an unknown key already reported
		}
		unknown = append(unknown, name)
		msg := "unknown key (check the spelling; every key is listed in config.toml.example)"
		if len(k) == 2 && k[0] == "backend" {
			msg = fmt.Sprintf("unknown table; did you mean [backends.%s]?", k[1])
		} else if len(k) > 2 && k[0] == "backend" {
			continue // reported with its table
		}
		fail(keyError(text, k.String(), msg))
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// storePath resolves [store] path: relative to the config file's
// directory (so the store does not depend on where the bridge is
// started), "bridge.db" beside it when empty.
func storePath(configPath, p string) string {
	if p == "" {
		p = "bridge.db"
	}
	if filepath.IsAbs(p) || configPath == "" {
		return p
	}
	return filepath.Join(filepath.Dir(configPath), p)
}

// kindOfTable returns a backend table's kind, "" when it has none.
func kindOfTable(md toml.MetaData, p toml.Primitive) string {
	var k struct {
		Kind string `toml:"kind"`
	}
	_ = md.PrimitiveDecode(p, &k)
	return k.Kind
}

func decodeBackend(md toml.MetaData, name string, p toml.Primitive) (*BackendConfig, error) {
	prefix := "backends." + name
	var common struct {
		Kind      string `toml:"kind"`
		Citations *bool  `toml:"citations"`
		// idle_timeout belongs to the backend client, which decodes it
		// from its own table and enforces it (wire.Policy.Idle).
		IdleTimeout duration `toml:"idle_timeout"`
		// DESIGN.md's table lists language with every kind; only chatofai
		// uses it, the others accept and ignore it.
		Language     string `toml:"language"`
		MaxCitations *int   `toml:"max_citations"`
	}
	if err := md.PrimitiveDecode(p, &common); err != nil {
		return nil, &ConfigError{Key: prefix, Msg: err.Error()}
	}
	if common.Kind == "" {
		return nil, &ConfigError{Key: prefix + ".kind", Msg: "missing; one of " + strings.Join(backendKindNames(), ", ")}
	}
	bk, ok := backendKinds[common.Kind]
	if !ok {
		return nil, &ConfigError{Key: prefix + ".kind", Msg: fmt.Sprintf("unknown backend kind %q; one of %s", common.Kind, strings.Join(backendKindNames(), ", "))}
	}
	build, err := bk(md, p)
	if err != nil {
		return nil, &ConfigError{Key: prefix, Msg: err.Error()}
	}
	bc := &BackendConfig{Name: name, Kind: common.Kind, Citations: true, MaxCitations: 5, build: build}
	if common.Citations != nil {
		bc.Citations = *common.Citations
	}
	if common.MaxCitations != nil {
		if *common.MaxCitations < 1 {
			return nil, &ConfigError{Key: prefix + ".max_citations", Msg: fmt.Sprintf("must be 1 or more, not %d (citations = false shows none)", *common.MaxCitations)}
		}
		bc.MaxCitations = *common.MaxCitations
	}
	return bc, nil
}

func decodeInstance(md toml.MetaData, pk platformKind, name string, p toml.Primitive, backends map[string]*BackendConfig, badBackends map[string]bool, global bridges.Policy) (*Instance, error) {
	prefix := pk.name + "." + name
	var rk routeKeys
	if err := md.PrimitiveDecode(p, &rk); err != nil {
		return nil, &ConfigError{Key: prefix, Msg: err.Error()}
	}
	if rk.Backend == "" {
		if len(backends) != 1 {
			return nil, &ConfigError{Key: prefix + ".backend", Msg: "missing: name the [backends.NAME] this instance uses"}
		}
		for n := range backends {
			rk.Backend = n
		}
	}
	if _, ok := backends[rk.Backend]; !ok && !badBackends[rk.Backend] {
		defined := "no [backends.NAME] table is defined"
		if len(backends)+len(badBackends) > 0 {
			defined = "defined: " + strings.Join(sortedKeys(backends), ", ")
		}
		return nil, &ConfigError{Key: prefix + ".backend", Msg: fmt.Sprintf("no backend named %q (%s)", rk.Backend, defined)}
	}
	switch rk.Respond {
	case "":
		rk.Respond = "mention"
	case "mention", "all":
	default:
		return nil, &ConfigError{Key: prefix + ".respond", Msg: fmt.Sprintf("must be \"mention\" or \"all\", not %q", rk.Respond)}
	}
	policy, err := rk.limitKeys.apply(global, prefix+".")
	if err != nil {
		return nil, err
	}
	threadContext := 20
	if rk.ThreadContext != nil {
		if *rk.ThreadContext < 0 || *rk.ThreadContext > 200 {
			return nil, &ConfigError{Key: prefix + ".thread_context", Msg: fmt.Sprintf("must be 0 (off) to 200 messages, not %d", *rk.ThreadContext)}
		}
		threadContext = *rk.ThreadContext
	}
	routes, err := decodeRoutes(pk.name, prefix, rk.Routes, backends, badBackends)
	if err != nil {
		return nil, err
	}
	build, err := pk.decode(md, p, name)
	if err != nil {
		return nil, &ConfigError{Key: prefix, Msg: err.Error()}
	}
	return &Instance{
		Platform: pk.name, Name: name, Backend: rk.Backend, Respond: rk.Respond, Scope: rk.Scope, Routes: routes,
		ThreadContext: threadContext, EditInterval: time.Duration(rk.EditInterval), Policy: policy, build: build,
	}, nil
}

var (
	lineRE    = regexp.MustCompile(`line (\d+)`)
	lastKeyRE = regexp.MustCompile(`^(?:toml: )?line (\d+) \(last key "([^"]*)"\): (.*)$`)
	typesRE   = regexp.MustCompile(`incompatible types: TOML value has type (\w+); destination has type (\w+)`)
)

// typeNames are the TOML library's type names as a user reads them.
var typeNames = map[string]string{
	"string": "a string", "int64": "a whole number", "float64": "a number", "bool": "true or false",
	"boolean": "true or false", "slice": "a list", "array": "a list", "map": "a table", "struct": "a table",
	"time.Duration": "a duration string such as \"10s\"",
}

func typeName(t string) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return t
}

// tomlError turns a TOML library error into a ConfigError, keeping the
// library's line and key.
func tomlError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &ConfigError{Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
	}
	return &ConfigError{Msg: strings.TrimPrefix(err.Error(), "toml: ")}
}

// located adds the line of the failing key when the library did not give
// it, and turns the library's wording ("line 5 (last key "a.b"): …") into
// the key, the line and a plain message.
func located(text string, err error) error {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	if m := lastKeyRE.FindStringSubmatch(ce.Msg); m != nil {
		fmt.Sscan(m[1], &ce.Line)
		if m[2] != "" {
			ce.Key = m[2]
		}
		ce.Msg = m[3]
	} else if m := lineRE.FindStringSubmatch(ce.Msg); m != nil {
		fmt.Sscan(m[1], &ce.Line)
		ce.Msg = strings.TrimPrefix(ce.Msg, "toml: ")
		ce.Msg = strings.TrimSpace(lineRE.ReplaceAllString(ce.Msg, ""))
	}
	if m := typesRE.FindStringSubmatch(ce.Msg); m != nil {
		ce.Msg = fmt.Sprintf("wrong type: %s, want %s", typeName(m[1]), typeName(m[2]))
	}
	ce.Msg = strings.TrimPrefix(ce.Msg, "toml: ")
	if ce.Line == 0 && ce.Key != "" {
		ce.Line = findKeyLine(text, ce.Key)
	}
	return ce
}

func keyError(text, key, msg string) error {
	return &ConfigError{Key: key, Line: findKeyLine(text, key), Msg: msg}
}

// findKeyLine finds the line defining a dotted key (table.sub.key) in the
// file: the key's line after its table header, or 0.
func findKeyLine(text, key string) int {
	parts := strings.Split(key, ".")
	last := parts[len(parts)-1]
	table := strings.Join(parts[:len(parts)-1], ".")
	inTable := table == ""
	keyRE := regexp.MustCompile(`^\s*("?)` + regexp.QuoteMeta(last) + `("?)\s*=`)
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			h := strings.Trim(t, "[] ")
			if j := strings.Index(h, "]"); j >= 0 {
				h = h[:j]
			}
			inTable = h == table
			if h == key {
				return i + 1
			}
			continue
		}
		if inTable && keyRE.MatchString(line) {
			return i + 1
		}
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
