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
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
)

const usage = `smppbridge - Bandwidth-V2-compatible HTTP messaging API over SMPP

Usage:
  smppbridge [-config FILE]        run the daemon (embedded default without -config)
  smppbridge -check-config FILE    validate a configuration file and exit
  smppbridge admin …               manage a running daemon (smppbridge admin -h)

Signals: SIGTERM and SIGINT stop intake, drain the SMPP windows (bounded by
api.shutdown_timeout), keep everything not yet sent in the store, exit 0.

Flags:
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
	check := fs.String("check-config", "", "validate the configuration `file` and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *check != "" {
		if _, err := conf.Load(*check); err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok\n", *check)
		return 0
	}
	opts := daemon.Options{}
	var demoPassword string
	if *configPath == "" {
		o, pw, err := daemon.Embedded()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		opts, demoPassword = o, pw
	} else {
		cfg, err := conf.Load(*configPath)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		opts.Config = cfg
	}
	log, err := newLogger(opts.Config.Log, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	opts.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts.Ready = func(d *daemon.Daemon) {
		if opts.Simulator != nil {
			fmt.Fprint(stdout, daemon.DemoBanner(d.HTTPAddr(), demoPassword))
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
	if err := daemon.Run(ctx, opts); err != nil {
		log.Error("smppbridge stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c conf.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	o := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return slog.New(slog.NewTextHandler(w, o)), nil
}
