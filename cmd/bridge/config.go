package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/store"
)

// ConfigError is an invalid configuration; the CLI exits with code 2.
type ConfigError struct {
	Key  string // the failing key, dotted; empty when not known
	Line int    // 1-based, 0 when not known
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Config is the whole decoded configuration file.
type Config struct {
	// unset are the ${VAR}s whose variable is not set (expanded to ""),
	// refused by requireEnv where the command uses their table.
	unset []tableUnset

	Path          string
	Store         store.Config
	HTTPListen    string
	AdminToken    backend.Secret // [http] admin_token; empty = generated at start
	Pprof         bool           // serve /debug/pprof/ on [http] listen
	ShutdownGrace time.Duration
	PendingMaxAge time.Duration
	Policy        bridges.Policy // [limits], before instance overrides
	Log           LogConfig
	Backends      map[string]*BackendConfig
	Instances     []*Instance
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
// its subtables), all in one error; with no tables, in any table. Commands
// call it for the tables they use, so that `console --backend demo` works
// while the platforms' tokens are not set yet.
func (c *Config) requireEnv(tables ...string) error {
	var missing []unsetVar
	for _, u := range c.unset {
		use := len(tables) == 0
		for _, t := range tables {
			if u.table == t || strings.HasPrefix(u.table, t+".") {
				use = true
			}
		}
		if use {
			missing = append(missing, u.unsetVar)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return &ConfigError{Line: missing[0].Line, Msg: fmt.Sprintf("environment variable %s is not set", missing[0].Name)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d environment variables are not set (set them, or comment out the tables using them):", len(missing))
	for _, u := range missing {
		fmt.Fprintf(&b, "\n  %s", u.Error())
	}
	return &ConfigError{Msg: b.String()}
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
	Name        string
	Kind        string
	Citations   bool
	IdleTimeout time.Duration
	// build constructs the client from the kind's own decoded Config.
	build func(deps backend.Deps) (backend.Backend, error)
}

// Instance is one [telegram.NAME], [discord.NAME] or [slack.NAME] table.
type Instance struct {
	Platform     string
	Name         string
	Backend      string
	Respond      string
	Scope        string
	EditInterval time.Duration
	Policy       bridges.Policy
	build        func(deps bridges.Deps) (bridges.Platform, error)
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
	Backend      string   `toml:"backend"`
	Respond      string   `toml:"respond"`
	Scope        string   `toml:"scope"`
	EditInterval duration `toml:"edit_interval"`
	limitKeys
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
		Path      string   `toml:"path"`
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
	} `toml:"bridge"`
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

// ParseConfig validates a configuration file's text.
func ParseConfig(path, src string, getenv func(string) (string, bool)) (*Config, error) {
	text, unset, err := expandEnv(src, getenv)
	if err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	var fc fileConfig
	md, err := toml.Decode(text, &fc)
	if err != nil {
		return nil, tomlError(err)
	}
	cfg := &Config{
		Path:          path,
		Store:         store.Config{Path: fc.Store.Path, IdleReset: time.Duration(fc.Store.IdleReset)},
		HTTPListen:    fc.HTTP.Listen,
		AdminToken:    fc.HTTP.AdminToken,
		Pprof:         fc.HTTP.Pprof,
		ShutdownGrace: time.Duration(fc.Bridge.ShutdownGrace),
		PendingMaxAge: time.Duration(fc.Bridge.PendingMaxAge),
		Log:           fc.Log,
		Backends:      map[string]*BackendConfig{},
	}
	if !md.IsDefined("http", "listen") {
		cfg.HTTPListen = defaultListen
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	if cfg.PendingMaxAge == 0 {
		cfg.PendingMaxAge = 10 * time.Minute
	}
	if cfg.Policy, err = fc.Limits.apply(bridges.Policy{}, "limits."); err != nil {
		return nil, located(text, err)
	}
	if cfg.Log.Format == "" {
		cfg.Log.Format = "text"
	}
	if cfg.Log.Format != "text" && cfg.Log.Format != "json" {
		return nil, keyError(text, "log.format", fmt.Sprintf("must be \"text\" or \"json\", not %q", cfg.Log.Format))
	}
	if _, err := parseLevel(cfg.Log.Level); err != nil {
		return nil, keyError(text, "log.level", err.Error())
	}

	for _, name := range sortedKeys(fc.Backends) {
		bc, err := decodeBackend(md, name, fc.Backends[name])
		if err != nil {
			return nil, located(text, err)
		}
		cfg.Backends[name] = bc
	}
	for _, pk := range platformKinds {
		tables := map[string]map[string]toml.Primitive{"telegram": fc.Telegram, "discord": fc.Discord, "slack": fc.Slack, "web": fc.Web}[pk.name]
		for _, name := range sortedKeys(tables) {
			in, err := decodeInstance(md, pk, name, tables[name], cfg.Backends, cfg.Policy)
			if err != nil {
				return nil, located(text, err)
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
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return nil, keyError(text, k, "unknown key (check the spelling; every key is listed in config.toml.example)")
	}
	return cfg, nil
}

func decodeBackend(md toml.MetaData, name string, p toml.Primitive) (*BackendConfig, error) {
	prefix := "backends." + name
	var common struct {
		Kind        string   `toml:"kind"`
		Citations   *bool    `toml:"citations"`
		IdleTimeout duration `toml:"idle_timeout"`
		// DESIGN.md's table lists language with every kind; only chatofai
		// uses it, the others accept and ignore it.
		Language string `toml:"language"`
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
	bc := &BackendConfig{Name: name, Kind: common.Kind, Citations: true, IdleTimeout: time.Duration(common.IdleTimeout), build: build}
	if common.Citations != nil {
		bc.Citations = *common.Citations
	}
	if bc.IdleTimeout == 0 {
		bc.IdleTimeout = 60 * time.Second
	}
	return bc, nil
}

func decodeInstance(md toml.MetaData, pk platformKind, name string, p toml.Primitive, backends map[string]*BackendConfig, global bridges.Policy) (*Instance, error) {
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
	if _, ok := backends[rk.Backend]; !ok {
		return nil, &ConfigError{Key: prefix + ".backend", Msg: fmt.Sprintf("no backend named %q (defined: %s)", rk.Backend, strings.Join(sortedKeys(backends), ", "))}
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
	build, err := pk.decode(md, p, name)
	if err != nil {
		return nil, &ConfigError{Key: prefix, Msg: err.Error()}
	}
	return &Instance{
		Platform: pk.name, Name: name, Backend: rk.Backend, Respond: rk.Respond, Scope: rk.Scope,
		EditInterval: time.Duration(rk.EditInterval), Policy: policy, build: build,
	}, nil
}

var lineRE = regexp.MustCompile(`line (\d+)`)

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
// it; errors from PrimitiveDecode mention "line N" themselves.
func located(text string, err error) error {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	if m := lineRE.FindStringSubmatch(ce.Msg); m != nil {
		fmt.Sscan(m[1], &ce.Line)
		ce.Msg = strings.TrimPrefix(ce.Msg, "toml: ")
		ce.Msg = strings.TrimSpace(lineRE.ReplaceAllString(ce.Msg, ""))
		ce.Msg = strings.TrimPrefix(strings.TrimPrefix(ce.Msg, "(last key"), ":")
	}
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
