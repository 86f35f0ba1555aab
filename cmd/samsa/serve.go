package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	node "github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/samsa-streaming/samsa/internal/server"
)

// serveShortcuts are the config keys serve has a flag for (--listeners for
// listeners, --log-durability for samsa.log.durability).
var serveShortcuts = []string{"listeners", "advertised.listeners", "node.id", "log.dirs", "samsa.admin.listener", "samsa.log.durability"}

// serveUsageTemplate is cobra's usage without the inherited (client)
// flags, which do not apply to serve.
const serveUsageTemplate = `Usage:
  {{.UseLine}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
`

// newServeCmd runs a node: controller and broker in one process.
func newServeCmd() *cobra.Command {
	var (
		configFile   string
		overrides    []string
		logLevel     string
		logFormat    string
		allowUnknown bool
		flagKeys     = map[string]*string{}
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Samsa node (controller and broker) for Kafka clients",
		Long: `Run a Samsa node: a broker that speaks the Kafka protocol, with its
metadata in a Raft log on the same node. With no flags it listens on
127.0.0.1:9092 with data under ./data and the admin HTTP server
(/metrics, /healthz, /readyz) on 127.0.0.1:9644.

Settings use Kafka's names (docs/configuration.md lists them all).
Precedence: flags (--override key=value and the shortcuts below) over
SAMSA_* environment variables (log.dirs is SAMSA_LOG_DIRS;
samsa.log.durability is SAMSA_LOG_DURABILITY) over the --config file
(server.properties format) over defaults. A key that is not a setting, in
any of them, stops the start with the closest known key; Kafka only logs
such keys, and --allow-unknown-config does the same here.

SIGINT or SIGTERM stops the node gracefully: it stops accepting, answers the
requests already received, flushes the logs and marks them clean.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var clientFlag string
			cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) {
				if f.Changed {
					clientFlag = f.Name
				}
			})
			if clientFlag != "" {
				return usagef("--%s is a flag of the client commands; serve does not use it", clientFlag)
			}
			props := map[string]string{}
			for key, v := range flagKeys {
				if cmd.Flags().Changed(flagName(key)) {
					props[key] = *v
				}
			}
			for _, kv := range overrides {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return usagef("--override %q: expected key=value", kv)
				}
				props[strings.TrimSpace(k)] = v
			}
			// The coordinators' settings are known before the configuration
			// is read, so they come from every source like the rest.
			replica.RegisterConfigs()
			cfg, err := config.Load(config.Sources{File: configFile, Env: os.Environ(), Overrides: props, AllowUnknown: allowUnknown})
			var unknown *config.UnknownKeysError
			if errors.As(err, &unknown) {
				return fmt.Errorf("configuration: %w\nSamsa refuses keys it does not read at start, where Kafka only logs them: correct or remove them, or start with --allow-unknown-config to ignore them", err)
			}
			if err != nil {
				return fmt.Errorf("configuration: %w", err)
			}
			logger, err := newLogger(logLevel, logFormat, cmd.ErrOrStderr())
			if err != nil {
				return usagef("%v", err)
			}
			return serve(cmd.Context(), cfg, logger, nil)
		},
	}
	cmd.SetUsageTemplate(serveUsageTemplate)
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "a server.properties file")
	f.StringArrayVar(&overrides, "override", nil, "set a config key, as key=value (repeatable)")
	f.BoolVar(&allowUnknown, "allow-unknown-config", false, "start even when the configuration names keys Samsa does not read at start, logging a warning for each (Kafka's behaviour)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	for _, key := range serveShortcuts {
		v := new(string)
		flagKeys[key] = v
		var doc, def string
		for _, d := range config.Defs {
			if d.Name == key {
				doc, def = d.Doc, d.Default
			}
			if key == "log.dirs" && d.Name == "log.dir" {
				def = d.Default // log.dirs falls back to log.dir
			}
		}
		f.StringVar(v, flagName(key), def, doc+" ("+key+")")
	}
	return cmd
}

// flagName is the flag for a config key: log.dirs → --log-dirs.
func flagName(key string) string {
	return strings.ReplaceAll(strings.TrimPrefix(key, "samsa."), ".", "-")
}

func newLogger(level, format string, w interface{ Write([]byte) (int, error) }) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %v", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// serve runs a node until ctx ends, then shuts it down gracefully. started,
// if set, receives the Kafka listener address once the node serves.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, started func(addr string)) error {
	for _, u := range cfg.Unknown {
		logger.Warn("ignored (--allow-unknown-config): " + u.String())
	}
	var listeners []net.Listener // the client listeners, served by the broker
	var closers []io.Closer      // everything bound, closed on a failed start
	closeListeners := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	// On a node of a quorum the controller listener carries the metadata
	// log's Raft traffic and the controller APIs; a broker-only node
	// receives the log on its inter-broker listener.
	var (
		raftStream raft.StreamLayer
		ctrlSrv    *server.Server
		ctrlAPIs   = &node.ControllerListener{}
	)
	for _, lc := range cfg.Listeners {
		if cfg.IsControllerListener(lc.Name) && !cfg.Clustered() {
			logger.Warn("ignoring the controller listener: without controller.quorum.voters the node is a cluster of one", "listener", lc.String())
			continue
		}
		l, err := net.Listen("tcp", lc.Addr())
		if err != nil {
			closeListeners()
			return fmt.Errorf("listen on %s: %w", lc, err)
		}
		closers = append(closers, l)
		switch {
		case cfg.IsControllerListener(lc.Name):
			mux := controller.NewMux(l)
			closers = append(closers, mux)
			v, _ := cfg.Voter()
			raftStream = mux.Raft(v.Addr())
			ctrlSrv = server.New(server.Config{MaxRequestBytes: cfg.SocketRequestMaxBytes, Logger: logger.With("listener", lc.Name)}, ctrlAPIs)
			if err := ctrlSrv.Serve(mux.Kafka()); err != nil {
				closeListeners()
				return err
			}
		case cfg.Clustered() && !cfg.IsController() && lc.Name == cfg.InterBrokerListenerName:
			mux := controller.NewMux(l)
			closers = append(closers, mux)
			adv, _ := cfg.AdvertisedBrokerListener()
			raftStream = mux.Raft(adv.Addr())
			listeners = append(listeners, mux.Kafka())
		default:
			listeners = append(listeners, l)
		}
	}
	if ctrlSrv != nil {
		defer func() { _ = ctrlSrv.Shutdown(context.Background()) }()
	}
	if !cfg.IsBroker() {
		return serveController(ctx, cfg, logger, raftStream, ctrlAPIs, closeListeners)
	}
	// A configured port 0 advertises the port actually bound.
	adv, _ := cfg.AdvertisedBrokerListener()
	advAddr := adv.Addr()
	if adv.Port == 0 {
		_, port, _ := net.SplitHostPort(listeners[0].Addr().String())
		advAddr = net.JoinHostPort(adv.Host, port)
	}

	logAdvertised(logger, cfg, advAddr)

	// The admin server starts before the node opens its logs and metadata,
	// which after a crash means recovering them and may take minutes:
	// meanwhile /healthz answers and /readyz says the node is starting.
	// /readyz answers 503 again from the moment the shutdown begins.
	m := metrics.New()
	var (
		opened   atomic.Pointer[node.Broker]
		stopping atomic.Bool
	)
	ready := func() error {
		if stopping.Load() {
			return errors.New("node is shutting down")
		}
		if b := opened.Load(); b != nil {
			return b.Ready()
		}
		return errors.New("node is starting: opening its logs and metadata")
	}
	var admin *metrics.AdminServer
	if cfg.AdminListener != "" {
		var err error
		if admin, err = metrics.StartAdmin(cfg.AdminListener, m, ready, logger, metrics.WithPprof(cfg.AdminPprofEnable)); err != nil {
			closeListeners()
			return fmt.Errorf("admin listener %s: %w", cfg.AdminListener, err)
		}
	}
	b, err := node.New(cfg, node.Options{Logger: logger, Metrics: m, AdvertisedAddr: advAddr,
		Context: ctx, RaftStream: raftStream, ControllerAPIs: ctrlAPIs.Bind})
	if err != nil {
		closeListeners()
		if admin != nil {
			_ = admin.Close(context.Background())
		}
		return err
	}
	opened.Store(b)
	srv := server.New(server.Config{MaxRequestBytes: cfg.SocketRequestMaxBytes, Logger: logger, Observer: m}, b)
	for _, l := range listeners {
		if err := srv.Serve(l); err != nil {
			return err
		}
	}
	attrs := []any{"node_id", cfg.NodeID, "listeners", listenerAddrs(listeners), "advertised", advAddr, "log_dirs", cfg.LogDirs, "durability", cfg.LogDurability}
	if admin != nil {
		attrs = append(attrs, "admin", admin.Addr())
	}
	logger.Info("samsa node started", attrs...)
	if started != nil {
		started(listeners[0].Addr().String())
	}

	<-ctx.Done()
	stopping.Store(true)
	timeout := time.Duration(cfg.ShutdownTimeoutMs) * time.Millisecond
	logger.Info("shutting down", "timeout", timeout)
	// samsa.shutdown.timeout.ms bounds the whole shutdown: four fifths for
	// answering the requests already read, the rest (at least) for closing
	// the logs. Past it the process exits anyway; acknowledged records are
	// already on disk, and the next start recovers the logs it did not
	// mark clean.
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	drainCtx, cancelDrain := context.WithTimeout(sctx, timeout*4/5)
	defer cancelDrain()
	var errs []error
	// Leaderships move away first, so the requests in flight (produces
	// waiting for their followers) can finish.
	b.BeginShutdown()
	if err := srv.Shutdown(drainCtx); err != nil {
		errs = append(errs, fmt.Errorf("stop serving: %w", err))
	}
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			errs = append(errs, fmt.Errorf("close broker: %w", err))
		}
	case <-sctx.Done():
		errs = append(errs, fmt.Errorf("closing the node did not finish within samsa.shutdown.timeout.ms (%v); exiting without marking the logs clean, so the next start recovers them", timeout))
	}
	if admin != nil {
		_ = admin.Close(sctx)
	}
	if err := errors.Join(errs...); err != nil {
		logger.Error("shutdown finished with errors", "err", err)
		return err
	}
	logger.Info("shutdown complete")
	return nil
}

// serveController runs a controller-only node (process.roles=controller)
// until ctx ends: the metadata quorum's voter and the controller APIs on
// its controller listener, no partitions.
func serveController(ctx context.Context, cfg *config.Config, logger *slog.Logger, stream raft.StreamLayer, apis *node.ControllerListener, closeListeners func()) error {
	defer closeListeners()
	m := metrics.New()
	var opened atomic.Bool
	ready := func() error {
		if !opened.Load() {
			return errors.New("controller is starting: opening its metadata log")
		}
		return nil
	}
	var admin *metrics.AdminServer
	if cfg.AdminListener != "" {
		var err error
		if admin, err = metrics.StartAdmin(cfg.AdminListener, m, ready, logger, metrics.WithPprof(cfg.AdminPprofEnable)); err != nil {
			return fmt.Errorf("admin listener %s: %w", cfg.AdminListener, err)
		}
		defer func() { _ = admin.Close(context.Background()) }()
	}
	n, err := controller.OpenNode(cfg, stream, logger)
	if err != nil {
		return err
	}
	apis.Bind(n.Server)
	opened.Store(true)
	v, _ := cfg.Voter()
	logger.Info("samsa controller started", "node_id", cfg.NodeID, "controller_listener", v.Addr(), "metadata_log_dir", cfg.MetadataLogDir)
	<-ctx.Done()
	logger.Info("shutting down")
	if err := n.Close(); err != nil {
		logger.Error("shutdown finished with errors", "err", err)
		return err
	}
	logger.Info("shutdown complete")
	return nil
}

// logAdvertised says what clients are told when a listener binding every
// interface is advertised under this machine's host name because
// advertised.listeners is not set: Kafka's rule for an empty host, and
// Samsa's for 0.0.0.0 and :: (where Kafka refuses to start).
func logAdvertised(logger *slog.Logger, cfg *config.Config, advAddr string) {
	if cfg.Props["advertised.listeners"] != "" || len(cfg.Listeners) == 0 || !cfg.Listeners[0].Wildcard() {
		return
	}
	l := cfg.Listeners[0]
	if l.Host == "" {
		logger.Info("the listener binds every interface and advertised.listeners is not set: clients are told this machine's host name, as Kafka does; set advertised.listeners if they cannot resolve it",
			"listener", l.String(), "advertised", advAddr)
		return
	}
	logger.Warn(fmt.Sprintf("the listener binds every interface (%s) and advertised.listeners is not set: clients cannot connect to %s, so they are told this machine's host name instead (Kafka refuses to start here); set advertised.listeners if they cannot resolve it", l.Host, l.Host),
		"listener", l.String(), "advertised", advAddr)
}

func listenerAddrs(ls []net.Listener) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Addr().String())
	}
	return strings.Join(s, ",")
}
