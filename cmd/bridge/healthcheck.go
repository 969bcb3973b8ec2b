package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// cmdHealthcheck probes a running bridge's /healthz on [http] listen and
// exits 0 when it answers 200, 1 otherwise: the container and systemd
// health check (`chat-bridge version` always succeeds, so it checks
// nothing).
func cmdHealthcheck(args []string, e *env) int {
	fs, cfgFlag := flags(e, "healthcheck", "healthcheck [--config config.toml] [--timeout 5s]")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if _, code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	path, _ := configPath(*cfgFlag, e)
	cfg, code := loadConfig(path, e)
	if cfg == nil {
		return code
	}
	if cfg.HTTPListen == "" {
		fmt.Fprintf(e.stderr, "chat-bridge: %s: [http] listen is off, so there is no /healthz to probe\n", path)
		return exitUsage
	}
	url := "http://" + probeAddr(cfg.HTTPListen) + "/healthz"
	ctx, cancel := context.WithTimeout(e.context(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "chat-bridge: healthcheck: %v\n", err)
		return exitRuntime
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(e.stderr, "chat-bridge: healthcheck: %s: %v\n", url, err)
		return exitRuntime
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(e.stderr, "chat-bridge: healthcheck: %s answered %s\n", url, resp.Status)
		return exitRuntime
	}
	fmt.Fprintf(e.stdout, "ok: %s\n", url)
	return exitOK
}

// probeAddr turns a listen address into one a client can dial: an empty
// or unspecified host becomes the loopback address.
func probeAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}
