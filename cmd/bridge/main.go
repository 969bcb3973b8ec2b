// Command bridge is chat-bridge's composition root: it parses the CLI,
// loads the TOML configuration, wires the store, backends, relay and
// platform adapters, and runs them until a signal.
//
// Only this package knows every concrete package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit codes (a contract).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// env is the process environment the commands see.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
	// stdoutTerminal reports whether stdout is a terminal (console redraws).
	stdoutTerminal bool
	termWidth      int
	// termWidthFunc measures the terminal's width now (nil: termWidth).
	termWidthFunc func() int
	// stdinTerminal reports whether stdin is a terminal (it echoes).
	stdinTerminal bool
	// ctx ends on the first SIGINT/SIGTERM (nil: never).
	ctx context.Context
	// onStop, when set, is called after the first signal so that a second
	// one ends the process at once.
	onStop func()
}

func main() {
	e, cleanup := osEnv()
	code := run(os.Args[1:], e)
	cleanup()
	os.Exit(code)
}

const usage = `chat-bridge puts a knowledge-base chatbot into Discord, Slack, Telegram and a web chat.

Usage:
  chat-bridge run      [--config config.toml]   serve every configured instance
  chat-bridge check    [--config config.toml] [--ask QUESTION] [--backend NAME]
                                                validate config, reach every backend and platform
  chat-bridge console  [--config config.toml] [--backend NAME]   chat from the terminal
  chat-bridge conversations list|reset KEY [--config config.toml]
  chat-bridge healthcheck [--config config.toml]  probe a running bridge's /healthz (exit 0 or 1)
  chat-bridge version

--config defaults to $BRIDGE_CONFIG, then ./config.toml.
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid config.
Run "chat-bridge COMMAND --help" for a command's options.
`

// run executes the CLI and returns the exit code.
func run(args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, e)
	case "check":
		return cmdCheck(rest, e)
	case "console":
		return cmdConsole(rest, e)
	case "conversations":
		return cmdConversations(rest, e)
	case "healthcheck":
		return cmdHealthcheck(rest, e)
	case "version", "--version":
		fmt.Fprintln(e.stdout, "chat-bridge", versionString())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "chat-bridge: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "dev"
}

// flags returns a FlagSet for cmd that prints its help once on --help
// (to stdout) or after a bad flag (to stderr), with the --config flag
// every command has.
func flags(e *env, cmd, synopsis string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: chat-bridge %s\n\nOptions:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs, fs.String("config", "", "configuration file (default $BRIDGE_CONFIG, then ./config.toml)")
}

// parseFlags parses args, allowing flags after positional arguments, and
// returns the positional ones. ok is false after --help or an error; code
// is then the exit code.
func parseFlags(fs *flag.FlagSet, args []string, e *env) (pos []string, code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, once, where it belongs
	defer func() { fs.Usage = usage }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(e.stdout)
				usage()
				return nil, exitOK, false
			}
			usage() // the flag package printed the error itself
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// configPath resolves --config: the flag, then $BRIDGE_CONFIG, then
// ./config.toml. explicit is false for the last.
func configPath(flagValue string, e *env) (path string, explicit bool) {
	if flagValue != "" {
		return flagValue, true
	}
	if v, ok := e.getenv("BRIDGE_CONFIG"); ok && v != "" {
		return v, true
	}
	return "config.toml", false
}

// loadConfigFlag resolves --config and loads that file; every variable it
// names must be set.
func loadConfigFlag(flagValue string, e *env) (*Config, string, int) {
	path, _ := configPath(flagValue, e)
	cfg, code := loadConfig(path, e)
	if cfg != nil {
		if err := cfg.requireEnv(); err != nil {
			printConfigError(e, err)
			return nil, path, exitUsage
		}
	}
	return cfg, path, code
}

// loadConfig loads the config or prints why not; code is the exit code.
// Variables that are not set are the caller's to check (requireEnv).
func loadConfig(path string, e *env) (*Config, int) {
	cfg, err := LoadConfig(path, e.getenv)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && strings.Contains(ce.Msg, "no such file") {
			fmt.Fprintf(e.stderr, "chat-bridge: config file %s not found (copy config.toml.example to config.toml, or pass --config)\n", path)
			return nil, exitUsage
		}
		printConfigError(e, err)
		return nil, exitUsage
	}
	return cfg, exitOK
}

// printConfigError prints each problem of an invalid config on a line of
// its own: "chat-bridge: config.toml line 6: telegram.main.tokn: unknown key".
func printConfigError(e *env, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(e.stderr, "chat-bridge: "+line)
	}
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

// newLogger builds the process logger from [log].
func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(c.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		opts.ReplaceAttr = secondsAttr
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// secondsAttr writes durations in JSON logs as seconds (a number), as log
// pipelines expect, instead of slog's nanoseconds.
func secondsAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key, a.Value.Duration().Seconds())
	}
	return a
}
