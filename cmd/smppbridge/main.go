// Command smppbridge is the HTTP-to-SMPP messaging daemon. Without -config
// it runs its embedded default: loopback listeners, a bbolt file in the
// working directory and the bundled SMSC simulator as its only carrier.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
)

const usage = `NAME
  smppbridge - Bandwidth-V2-compatible HTTP messaging API over SMPP

SYNOPSIS
  smppbridge [-config FILE] [-log-format text|json] [-log-level LEVEL]
  smppbridge -check-config FILE
  smppbridge admin COMMAND …   (manage a running daemon; smppbridge admin -h)
  smppbridge -help
  smppbridge -version

DESCRIPTION
  Accepts messages on the V2 HTTP API, stores them durably (bbolt), paces
  them per carrier in segments per second and submits them over SMPP binds;
  delivery receipts and inbound messages become callbacks to the
  applications. Without -config it runs the embedded default: loopback
  listeners, ./smppbridge.db and the bundled SMSC simulator as carrier "sim".

SIGNALS
  SIGTERM, SIGINT  stop intake, drain the SMPP windows (bounded by
                   api.shutdown_timeout), keep what was not sent in the
                   store, exit 0.
  SIGHUP           reload carriers, routes and accounts from the -config file (rates,
                   queue sizes and routes live; changed connection settings
                   reconnect only that carrier), log.level and the HTTPS
                   certificate. An invalid file is refused and logged; the
                   running configuration stays.

ADMIN LISTENER (admin.listen)
  /healthz  process alive       /readyz   store open and a bind per carrier
  /metrics  Prometheus metrics

ENVIRONMENT
  GOGC        garbage collector target; unset: 400 (docs/operations.md)
  GOMEMLIMIT  soft bound on the Go heap
  GOMAXPROCS  unset: at least 2, even on one CPU (docs/operations.md)
  HTTP_PROXY, HTTPS_PROXY, NO_PROXY
              proxy for callbacks (never for loopback endpoints); a value
              that is not a URL, which Go ignores or misreads, is warned
              about at start

EXIT STATUS
  0 clean stop or valid -check-config; 1 configuration or start-up error;
  2 bad command line.

FILES
  /etc/smppbridge/smppbridge.toml   configuration (conf/REFERENCE.md)
  /var/lib/smppbridge/              store (store.path)

SEE ALSO
  docs/operations.md, conf/REFERENCE.md, smppbridge.service

OPTIONS
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("smppbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	configPath := fs.String("config", "", "TOML configuration `file`; without it the embedded default runs")
	check := fs.String("check-config", "", "validate the configuration `file` (and read the TLS files it names) and exit")
	logFormat := fs.String("log-format", "", "log `format`: text or json (default: log.format of the file, else text)")
	logLevel := fs.String("log-level", "", "log `level`: debug, info, warn or error (default: log.level of the file, else info)")
	showVersion := fs.Bool("version", false, "print the version (module, commit, Go) and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	emptyConfig := false
	fs.Visit(func(f *flag.Flag) {
		emptyConfig = emptyConfig || (f.Name == "config" || f.Name == "check-config") && f.Value.String() == ""
	})
	if emptyConfig {
		// -config "$UNSET_VARIABLE" would otherwise start the embedded demo.
		fmt.Fprintln(stderr, "smppbridge: -config and -check-config need a file name; leave -config out for the embedded default")
		return 2
	}
	// Bad flag values are a bad command line (exit 2), like unknown flags;
	// the same values in the file are configuration errors (exit 1).
	if _, err := newLogger(conf.Log{Format: *logFormat, Level: *logLevel}, new(slog.LevelVar), io.Discard); err != nil {
		fmt.Fprintf(stderr, "smppbridge: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		// Without this, "smppbridge /etc/smppbridge/smppbridge.toml" would
		// quietly start the embedded demo instead of the operator's file.
		fmt.Fprintf(stderr, "smppbridge: unexpected argument %q: give the configuration file as -config FILE (see smppbridge -help)\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "smppbridge", version())
		return 0
	}
	// Handled from here on: a SIGTERM during start-up (opening a large store
	// can take minutes) stops the daemon cleanly instead of killing it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *check != "" {
		cfg, err := loadConfig(*check)
		if err == nil {
			err = daemon.CheckFiles(cfg, *check)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok\n", *check)
		return 0
	}
	opts := daemon.Options{}
	var demo daemon.Demo
	if *configPath == "" {
		o, dm, err := daemon.Embedded()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		opts, demo = o, dm
	} else {
		cfg, err := loadConfig(*configPath)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		opts.Config = cfg
	}
	lc := opts.Config.Log
	if *logFormat != "" {
		lc.Format = *logFormat
	}
	if *logLevel != "" {
		lc.Level = *logLevel
	}
	level := new(slog.LevelVar)
	log, err := newLogger(lc, level, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	opts.Logger = log
	log.Info("smppbridge starting", "version", version())
	log.Debug("garbage collector", "gc_percent", daemon.TuneRuntime())
	if procs, raised := daemon.EnsureProcs(); raised {
		log.Info("GOMAXPROCS raised so a goroutine waiting for the disk does not stop the others; set GOMAXPROCS to choose", "gomaxprocs", procs)
	}
	running := make(chan *daemon.Daemon, 1)
	opts.Ready = func(d *daemon.Daemon) {
		running <- d
		if opts.Simulator != nil {
			fmt.Fprint(stdout, daemon.DemoBanner(d.HTTPAddr(), d.AdminAddr(), demo))
		}
		if err := sdNotify("READY=1"); err != nil {
			log.Warn("cannot notify systemd", "err", err)
		}
	}
	if opts.Simulator != nil {
		opts.Simulator.Logger = log.With("component", "smscsim")
	}
	go func() {
		<-ctx.Done()
		sdNotify("STOPPING=1")
	}()
	// SIGHUP: a non-blocking send into a channel of one, so signals that
	// arrive during a reload fold into one more reload; the daemon never
	// sees signals.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloads := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reloads <- struct{}{}:
			default:
			}
		}
	}()
	var reloadLevel *slog.LevelVar // log.level follows the file unless -log-level fixed it
	if *logLevel == "" {
		reloadLevel = level
	}
	go reloadLoop(ctx, *configPath, running, reloads, log, reloadLevel)
	if err := daemon.Run(ctx, opts); err != nil {
		log.Error("smppbridge stopped", "err", err)
		return 1
	}
	return 0
}

// newLogger builds the slog handler; level is set from c and stays
// adjustable (a reload changes it).
func newLogger(c conf.Log, level *slog.LevelVar, w io.Writer) (*slog.Logger, error) {
	if err := setLevel(level, c.Level); err != nil {
		return nil, err
	}
	o := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, o)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.Format)
}

// reloadLoop reloads the configuration file into the daemon on each
// request. An invalid file is refused and logged; the old configuration
// stays in force.
func setLevel(v *slog.LevelVar, s string) error {
	if s == "" {
		s = "info"
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	v.Set(l)
	return nil
}

// reloadLoop also sets the log level from the file when level is not nil.
func reloadLoop(ctx context.Context, path string, running <-chan *daemon.Daemon, reloads <-chan struct{}, log *slog.Logger, level *slog.LevelVar) {
	var d *daemon.Daemon
	select {
	case d = <-running:
	case <-ctx.Done():
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-reloads:
		}
		if path == "" {
			log.Warn("SIGHUP ignored: the embedded default has no configuration file")
			continue
		}
		sdNotify("RELOADING=1")
		cfg, err := loadConfig(path)
		if err == nil {
			err = d.Reload(cfg)
		}
		if err == nil && level != nil {
			err = setLevel(level, cfg.Log.Level) // validated by conf.Load: cannot fail
		}
		if err != nil {
			log.Error("configuration not reloaded; the running one stays", "file", path, "err", err)
		}
		sdNotify("READY=1")
	}
}

// loadConfig is conf.Load with a hint for the error an operator meets when
// the service's user cannot read the file (0640 root:root under the unit's
// dynamic user).
func loadConfig(path string) (*conf.Config, error) {
	cfg, err := conf.Load(path)
	return cfg, readHint(err)
}

func readHint(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: the user smppbridge runs as must be able to read it (under the systemd unit: group smppbridge, docs/operations.md \"Install\")", err)
	}
	return err
}

// version names the build from what the Go toolchain recorded in it: the
// module version (a tag, or (devel)), the commit and whether the tree had
// uncommitted changes, and the Go version — so an operator can tell
// which build runs, and a bug report says so, without a release process.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown build) " + runtime.Version()
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev != "" {
		v += " " + rev[:min(12, len(rev))] + modified
	}
	return v + " " + bi.GoVersion
}
