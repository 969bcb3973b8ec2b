package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/console"
	"github.com/chat-bridge/chat-bridge/store"
)

func (e *env) context() context.Context {
	if e.ctx != nil {
		return e.ctx
	}
	return context.Background()
}

func cmdRun(args []string, e *env) int {
	fs, cfgFlag := flags(e, "run", "run [--config config.toml] [--listen HOST:PORT]")
	listen := fs.String("listen", "", "serve HTTP here instead of [http] listen (port 0: any free port; the URLs printed at start say which)")
	if _, code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	cfg, path, code := loadConfigFlag(*cfgFlag, e)
	if cfg == nil {
		return code
	}
	if *listen != "" {
		cfg.HTTPListen = *listen
	}
	if len(cfg.Instances) == 0 {
		fmt.Fprintf(e.stderr, "bridge: %s: no platform instance configured: add a [web.NAME], [telegram.NAME], [discord.NAME] or [slack.NAME] table (see config.toml.example), or try `bridge console --backend demo`\n", path)
		return exitUsage
	}
	log := newLogger(cfg.Log, e.stderr)
	db, code := openStore(cfg, log, e)
	if db == nil {
		return code
	}
	defer db.Close()
	a, err := wire(cfg, log, db)
	if err != nil {
		fmt.Fprintf(e.stderr, "bridge: %s: %v\n", path, err)
		return exitUsage
	}
	log.Info("chat-bridge starting", "version", versionString(), "instances", len(a.adapters), "store", db.Where())
	removeAdminFile := func() {}
	if a.admin != nil {
		a.onListen = func(addr string) { removeAdminFile = a.admin.started(e.stdout, addr, cfg.Store.Path, log) }
	}
	err = a.serve(e.context())
	removeAdminFile()
	if err != nil {
		log.Error("bridge stopped", "err", err)
		return exitRuntime
	}
	log.Info("bridge stopped")
	return exitOK
}

func cmdCheck(args []string, e *env) int {
	fs, cfgFlag := flags(e, "check", "check [--config config.toml] [--ask QUESTION] [--backend NAME]")
	ask := fs.String("ask", "", "send this one real question to each backend (or --backend) and show the answer")
	only := fs.String("backend", "", "check only this backend")
	if _, code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	cfg, path, code := loadConfigFlag(*cfgFlag, e)
	if cfg == nil {
		return code
	}
	fmt.Fprintf(e.stdout, "config %s: ok (%d backends, %d platform instances)\n", path, len(cfg.Backends), len(cfg.Instances))
	log := slog.New(slog.DiscardHandler)
	backends, err := buildBackends(cfg, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "bridge: %v\n", err)
		return exitUsage
	}
	if *only != "" {
		if _, ok := backends[*only]; !ok {
			fmt.Fprintf(e.stderr, "bridge: no backend named %q\n", *only)
			return exitUsage
		}
	}
	failed := false
	ctx := e.context()
	for _, name := range sortedKeys(backends) {
		if *only != "" && name != *only {
			continue
		}
		b := backends[name]
		kind := cfg.Backends[name].Kind
		if c, ok := b.(backend.Checker); ok {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := c.Check(cctx)
			cancel()
			if err != nil {
				failed = true
				fmt.Fprintf(e.stdout, "backend %s (%s): FAILED: %v\n", name, kind, err)
				continue
			}
			fmt.Fprintf(e.stdout, "backend %s (%s): ok\n", name, kind)
		} else {
			fmt.Fprintf(e.stdout, "backend %s (%s): configured (no cheap check available)\n", name, kind)
		}
		if *ask != "" {
			fmt.Fprintf(e.stdout, "  Q: %s\n  A: ", *ask)
			if err := askOnce(ctx, b, *ask, e); err != nil {
				failed = true
				fmt.Fprintf(e.stdout, "\n  FAILED: %v\n", err)
			} else {
				fmt.Fprintln(e.stdout)
			}
		}
	}
	if *only == "" {
		var mux bridges.Mux
		if cfg.HTTPListen != "" {
			// Webhook and Events API instances mount their handlers as
			// `run` would; check only needs them to build.
			mux = http.NewServeMux()
		}
		for _, in := range cfg.Instances {
			p, err := in.build(bridges.Deps{Logger: log, Mux: mux})
			if err != nil {
				failed = true
				fmt.Fprintf(e.stdout, "%s.%s: FAILED: %v\n", in.Platform, in.Name, err)
				continue
			}
			c, ok := p.(bridges.Checker)
			if !ok {
				fmt.Fprintf(e.stdout, "%s.%s: configured\n", in.Platform, in.Name)
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			report, err := c.Check(cctx)
			cancel()
			if err != nil {
				failed = true
				fmt.Fprintf(e.stdout, "%s.%s: FAILED: %v\n", in.Platform, in.Name, err)
				continue
			}
			fmt.Fprintf(e.stdout, "%s.%s: ok: %s\n", in.Platform, in.Name, report)
		}
	}
	if failed {
		return exitRuntime
	}
	return exitOK
}

// askOnce streams one answer to stdout.
func askOnce(ctx context.Context, b backend.Backend, q string, e *env) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s := b.Ask(ctx, backend.Request{Question: q, SessionID: "bridge-check"})
	defer s.Close()
	var a backend.Answer
	for s.Next() {
		ev := s.Current()
		if d, ok := ev.(backend.Delta); ok {
			fmt.Fprint(e.stdout, d.Text)
		}
		a.Add(ev)
	}
	if err := s.Err(); err != nil {
		return err
	}
	if a.Done != nil && a.Done.Text != "" {
		fmt.Fprintf(e.stdout, "\n  (final text: %s)", a.Done.Text)
	}
	return nil
}

// consoleDemoConfig is the configuration `console --backend demo` uses
// when there is no config file.
func consoleDemoConfig(e *env) (*Config, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	cfg, err := ParseConfig("(built-in demo)", "[backends.demo]\nkind = \"demo\"\n", e.getenv)
	if err != nil {
		return nil, err
	}
	cfg.Store.Path = filepath.Join(dir, "chat-bridge", "console.db")
	return cfg, nil
}

func cmdConsole(args []string, e *env) int {
	fs, cfgFlag := flags(e, "console", "console [--config config.toml] [--backend NAME]")
	name := fs.String("backend", "", "backend to talk to (default: the only one configured)")
	if _, code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	path, explicit := configPath(*cfgFlag, e)
	var cfg *Config
	if _, err := os.Stat(path); err != nil && !explicit && *name == "demo" {
		c, err := consoleDemoConfig(e)
		if err != nil {
			fmt.Fprintf(e.stderr, "bridge: %v\n", err)
			return exitRuntime
		}
		cfg = c
	} else {
		c, code := loadConfig(path, e)
		if c == nil {
			return code
		}
		cfg = c
	}
	if *name == "" {
		if len(cfg.Backends) != 1 {
			fmt.Fprintf(e.stderr, "bridge: choose a backend with --backend (configured: %s)\n", strings.Join(sortedKeys(cfg.Backends), ", "))
			return exitUsage
		}
		*name = sortedKeys(cfg.Backends)[0]
	}
	if _, ok := cfg.Backends[*name]; !ok {
		if *name != "demo" {
			fmt.Fprintf(e.stderr, "bridge: no backend named %q (configured: %s)\n", *name, strings.Join(sortedKeys(cfg.Backends), ", "))
			return exitUsage
		}
		demoCfg, _ := consoleDemoConfig(e)
		cfg.Backends["demo"] = demoCfg.Backends["demo"]
	}
	if err := cfg.requireEnv("", "store", "log", "backends."+*name); err != nil {
		printConfigError(e, err)
		return exitUsage
	}
	c, err := console.New(console.Config{Backend: *name, In: e.stdin, Out: e.stdout, Terminal: e.stdoutTerminal,
		Width: e.termWidth, WidthFunc: e.termWidthFunc, Echo: e.stdinTerminal})
	if err != nil {
		fmt.Fprintf(e.stderr, "chat-bridge: %v\n", err)
		return exitRuntime
	}
	logOut := c.LogWriter(e.stderr) // log lines never land inside the live redraw
	log := newLogger(cfg.Log, logOut)
	if !cfg.Log.Content && cfg.Log.Level == "" {
		log = newLogger(LogConfig{Format: cfg.Log.Format, Level: "warn"}, logOut)
	}
	db, code := openStore(cfg, log, e)
	if db == nil {
		return code
	}
	defer db.Close()
	backends, err := buildBackends(&Config{Backends: map[string]*BackendConfig{*name: cfg.Backends[*name]}}, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "bridge: %v\n", err)
		return exitUsage
	}
	relay, err := bridges.NewRelay(bridges.Config{Store: db, Logger: log, LogContent: cfg.Log.Content, Language: cfg.Language})
	if err != nil {
		fmt.Fprintf(e.stderr, "bridge: %v\n", err)
		return exitRuntime
	}
	bc := cfg.Backends[*name]
	h := relay.Bind(c, bridges.Route{BackendName: *name, Backend: backends[*name], Respond: "all", Citations: bc.Citations, MaxCitations: bc.MaxCitations})
	if e.stdoutTerminal {
		fmt.Fprintf(e.stdout, "chat-bridge console: talking to backend %q (%s). Type a question; /reset starts over; Ctrl-D quits.\n", *name, bc.Kind)
	}
	runErr := c.Run(e.context(), h)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = relay.Shutdown(sctx)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		fmt.Fprintf(e.stderr, "bridge: %v\n", runErr)
		return exitRuntime
	}
	return exitOK
}

func cmdConversations(args []string, e *env) int {
	fs, cfgFlag := flags(e, "conversations", "conversations list|reset KEY [--config config.toml]")
	pos, code, ok := parseFlags(fs, args, e)
	if !ok {
		return code
	}
	if len(pos) == 0 || (pos[0] == "list" && len(pos) != 1) || (pos[0] == "reset" && len(pos) != 2) ||
		(pos[0] != "list" && pos[0] != "reset") {
		fs.Usage()
		return exitUsage
	}
	path, _ := configPath(*cfgFlag, e)
	cfg, code := loadConfig(path, e)
	if cfg == nil {
		return code
	}
	if err := cfg.requireEnv("", "store"); err != nil { // only the store is used
		printConfigError(e, err)
		return exitUsage
	}
	if _, err := os.Stat(cfg.Store.Path); cfg.StoreKind != "redis" && errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stderr, "chat-bridge: no store at %s: check [store] path in %s (`chat-bridge run` creates the store)\n", cfg.Store.Path, path)
		return exitUsage
	}
	db, err := openStoreErr(cfg, newLogger(cfg.Log, e.stderr))
	if errors.Is(err, store.ErrInUse) {
		return conversationsViaAdmin(cfg, cfg.Store.Path, pos, e) // a running bridge holds it
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "chat-bridge: %v\n", err)
		return exitRuntime
	}
	defer db.Close()
	if pos[0] == "reset" {
		k, err := store.ParseKey(pos[1])
		if err != nil {
			fmt.Fprintf(e.stderr, "bridge: %q: %v\n", pos[1], err)
			return exitUsage
		}
		_, found, err := db.Get(k)
		if err == nil {
			err = db.Forget(k)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "bridge: %v\n", err)
			return exitRuntime
		}
		if !found {
			fmt.Fprintf(e.stdout, "no conversation %s\n", k)
			return exitOK
		}
		fmt.Fprintf(e.stdout, "forgot conversation %s\n", k)
		return exitOK
	}
	entries, err := db.List()
	if err != nil {
		fmt.Fprintf(e.stderr, "bridge: %v\n", err)
		return exitRuntime
	}
	printConversations(e.stdout, entries)
	return exitOK
}
