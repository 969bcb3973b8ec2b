package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
)

// app is the wired process: store, backends, relay, adapters.
type app struct {
	cfg      *Config
	log      *slog.Logger
	db       bridgeStore
	backends map[string]backend.Backend
	relay    *bridges.Relay
	mux      *http.ServeMux
	reg      *prometheus.Registry
	cluster  *redisCluster // cluster mode ([store] kind = "redis"), else nil
	adapters []runningAdapter
	health   []*instanceHealth
	// addr is the HTTP server's address once it listens.
	addr chan string
	// admin serves /admin/ (nil when [http] listen is off); onListen, when
	// set, is called once with the address the HTTP server listens on.
	admin    *admin
	onListen func(addr string)
}

type runningAdapter struct {
	in     *Instance
	p      bridges.Platform
	h      bridges.Handler
	health *instanceHealth
}

// buildBackends constructs every configured backend.
func buildBackends(cfg *Config, log *slog.Logger) (map[string]backend.Backend, error) {
	out := map[string]backend.Backend{}
	for _, name := range sortedKeys(cfg.Backends) {
		bc := cfg.Backends[name]
		b, err := bc.build(backend.Deps{
			HTTPClient: &http.Client{Transport: newTransport()},
			Logger:     log.With("backend", name, "kind", bc.Kind),
		})
		if err != nil {
			return nil, &ConfigError{Key: "backends." + name, Msg: err.Error()}
		}
		out[name] = b
	}
	return out, nil
}

// wire builds everything without network I/O.
func wire(cfg *Config, log *slog.Logger, db bridgeStore) (*app, error) {
	errs := newErrorLog(cfg)
	log = slog.New(errs.wrap(log.Handler())) // the operator page shows the last errors
	a := &app{cfg: cfg, log: log, db: db, mux: http.NewServeMux(), reg: prometheus.NewRegistry(), addr: make(chan string, 1)}
	var reg prometheus.Registerer = a.reg
	var cluster bridges.Cluster
	if a.cluster = buildCluster(cfg, db, log); a.cluster != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"replica": a.cluster.id}, a.reg)
		cluster = a.cluster
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pm := newPlatformMetrics(reg)
	var err error
	if a.backends, err = buildBackends(cfg, log); err != nil {
		return nil, err
	}
	met := newRelayMetrics(reg)
	a.relay, err = bridges.NewRelay(bridges.Config{
		Cluster:       cluster,
		Store:         db,
		Logger:        log,
		LogContent:    cfg.Log.Content,
		Language:      cfg.Language,
		Metrics:       met,
		Inbox:         db,
		QuotaKV:       db.KV("limits"),
		PendingMaxAge: cfg.PendingMaxAge,
	})
	if err != nil {
		return nil, err
	}
	shareBudgets(a.relay, db, log) // one budget for the deployment on Redis
	citing := map[string]bridges.CitationPolicy{}
	for name, bc := range cfg.Backends {
		citing[name] = bridges.CitationPolicy{Show: bc.Citations, Max: bc.MaxCitations}
	}
	for _, in := range cfg.Instances {
		var mux bridges.Mux
		if cfg.HTTPListen != "" {
			mux = a.mux
		}
		p, err := in.build(bridges.Deps{
			Logger:     log.With("platform", in.Platform, "instance", in.Name),
			HTTPClient: pm.client(in.Platform, in.Name),
			KV:         db.KV(in.Platform + "/" + in.Name),
			Mux:        mux,
			Leader:     a.cluster.leaderFunc(),
			Budgets:    a.relay.Budgets(), // the adapter's own requests book on the replies' budgets
		})
		if err != nil {
			return nil, &ConfigError{Key: in.Platform + "." + in.Name, Msg: err.Error()}
		}
		bc := cfg.Backends[in.Backend]
		name := in.Platform + "/" + in.Name
		var routes []bridges.ChatRoute
		for _, rc := range in.Routes {
			routes = append(routes, bridges.ChatRoute{Chats: rc.Chats, Spaces: rc.Guilds, BackendName: rc.Backend, Backend: a.backends[rc.Backend]})
		}
		h := a.relay.Bind(p, bridges.Route{
			Name:          name,
			Policy:        in.Policy,
			BackendName:   in.Backend,
			Backend:       a.backends[in.Backend],
			Routes:        routes,
			Backends:      a.backends,
			ThreadContext: in.ThreadContext,
			Respond:       in.Respond,
			Scope:         in.Scope,
			EditInterval:  in.EditInterval,
			Citations:     bc.Citations,
			MaxCitations:  bc.MaxCitations,
			CitationsBy:   citing,
		})
		ih := &instanceHealth{name: name, p: p}
		a.health = append(a.health, ih)
		a.adapters = append(a.adapters, runningAdapter{in: in, p: p, h: ih.wrap(h), health: ih})
	}
	if cfg.HTTPListen != "" {
		a.admin = newAdmin(cfg, db, a.reg, errs)
		a.admin.shareToken(db, log)
		a.admin.health = a.health
		a.admin.cluster = a.cluster.viewFunc()
		a.admin.mount(a.mux)
	}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	a.mux.Handle("GET /readyz", readyHandler(db, a.health, a.cluster.statusFunc()))
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	if cfg.Pprof {
		a.mux.HandleFunc("/debug/pprof/", pprof.Index)
		a.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		a.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		a.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		a.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return a, nil
}

// recoverPending resumes the inbox's pending messages. Resuming needs
// only a way to send, so it runs as soon as every instance is bound and
// its adapter started, whatever the receive side is doing (a Telegram
// long poll in a quiet chat returns only after its timeout); a send that
// fails meanwhile is retried by the live reply. Recover only queues, so
// it returns at once.
func (a *app) recoverPending() {
	if _, _, err := a.relay.Recover(); err != nil {
		a.log.Error("inbox: resuming pending messages", "err", err)
	}
}

// serve runs every adapter and the HTTP server until ctx ends, then shuts
// down gracefully. It returns an error when every instance failed.
func (a *app) serve(ctx context.Context) error {
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	if err := a.cluster.open(runCtx); err != nil {
		return err
	}
	var g errgroup.Group
	if a.admin != nil {
		g.Go(func() error { a.admin.run(runCtx); return nil })
	}
	var (
		mu     sync.Mutex
		failed int
	)
	for _, ra := range a.adapters {
		g.Go(func() error {
			log := a.log.With("platform", ra.in.Platform, "instance", ra.in.Name)
			log.Info("starting")
			err := ra.p.Run(runCtx, ra.h)
			ra.health.stopped.Store(true)
			if err != nil && runCtx.Err() == nil {
				log.Error("instance stopped", "err", err)
				ra.health.setErr(err)
				mu.Lock()
				failed++
				all := failed == len(a.adapters)
				mu.Unlock()
				if all {
					cancelRun()
				}
				return fmt.Errorf("%s.%s: %w", ra.in.Platform, ra.in.Name, err)
			}
			log.Info("stopped")
			return nil
		})
	}
	// Every instance is bound (wire) and its adapter started: resume now,
	// synchronously, so recovery is over long before the store closes.
	a.recoverPending()
	if a.cluster != nil {
		go func() { _ = a.relay.RunCluster() }()
	}
	var srv *http.Server
	if a.cfg.HTTPListen != "" {
		ln, err := net.Listen("tcp", a.cfg.HTTPListen)
		if err != nil {
			cancelRun()
			_ = g.Wait()
			return fmt.Errorf("http listen %s: %w", a.cfg.HTTPListen, err)
		}
		// Shutdown cancels every request's context, so that streaming
		// responses (the web chat's events) end instead of holding it.
		baseCtx, cancelBase := context.WithCancel(context.Background())
		defer cancelBase()
		srv = &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second,
			BaseContext: func(net.Listener) context.Context { return baseCtx }}
		srv.RegisterOnShutdown(cancelBase)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("http server", "err", err)
			}
		}()
		a.log.Info("http listening", "addr", ln.Addr().String())
		if a.onListen != nil {
			a.onListen(ln.Addr().String())
		}
		a.addr <- ln.Addr().String()
	}
	<-runCtx.Done()
	allFailed := ctx.Err() == nil
	a.log.Info("shutting down", "grace", a.cfg.ShutdownGrace)
	graceCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	if err := a.relay.Shutdown(graceCtx); err != nil {
		a.log.Warn("shutdown", "err", err)
	}
	err := g.Wait()
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	if allFailed {
		return fmt.Errorf("every instance stopped: %w", err)
	}
	return nil
}
