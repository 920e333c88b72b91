// Command smscsim runs the bundled SMSC simulator on its own, for rehearsing
// carrier behaviour against smppbridge or any other ESME.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"smppbridge/testharness/smsc"
)

const usage = `smscsim - scriptable SMPP 3.4 SMSC simulator

Usage:
  smscsim [-smpp ADDR] [-http ADDR] [-config FILE] [-log-format text|json] [-log-level LEVEL]

With no accounts configured any system_id and password is accepted.
The HTTP control API (JSON) offers:
  GET /stats, GET /messages, GET /binds, POST /mo, GET|PUT /behaviour,
  POST /unbind, POST /drop, POST /reset

Flags:
`

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

type options struct {
	smppAddr, httpAddr, config, logFormat, logLevel string
	smppSet                                         bool // -smpp given: it wins over smpp_addr in the file
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("smscsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&o.smppAddr, "smpp", "127.0.0.1:2775", "SMPP listen `address` (overrides smpp_addr in the config file)")
	fs.StringVar(&o.httpAddr, "http", "127.0.0.1:2776", "control API listen `address`; empty disables it")
	fs.StringVar(&o.config, "config", "", "TOML configuration `file` (accounts, TLS, behaviour)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fs.Visit(func(f *flag.Flag) { o.smppSet = o.smppSet || f.Name == "smpp" })
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments %v: smscsim takes flags only (smscsim -h)", fs.Args())
		fmt.Fprintf(stderr, "smscsim: %v\n", err)
		return o, err
	}
	return o, nil
}

// loadConfig decodes the TOML file strictly: an unknown key is an error, so
// a typo never silently leaves a fault switched off.
func loadConfig(path string) (smsc.Config, error) {
	var cfg smsc.Config
	if path == "" {
		return cfg, nil
	}
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, fmt.Errorf("%s: unknown keys %v", path, und)
	}
	return cfg, nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "smscsim: -log-level: %v\n", err)
		return 2
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	} else if o.logFormat != "text" {
		fmt.Fprintf(stderr, "smscsim: -log-format %q is not text or json\n", o.logFormat)
		return 2
	}
	log := slog.New(h)
	cfg, err := loadConfig(o.config)
	if err != nil {
		log.Error("cannot load configuration", "err", err)
		return 2
	}
	if o.smppSet || cfg.SMPPAddr == "" {
		cfg.SMPPAddr = o.smppAddr
	}
	cfg.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, o.httpAddr, log, nil)
}

// serve runs the simulator until ctx ends. ready, when set, receives the
// simulator and the control API address once both listen (for tests).
func serve(ctx context.Context, cfg smsc.Config, httpAddr string, log *slog.Logger, ready func(*smsc.Server, string)) int {
	srv, err := smsc.Start(cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer srv.Close()
	var hs *http.Server
	apiAddr := ""
	if httpAddr != "" {
		ln, err := net.Listen("tcp", httpAddr)
		if err != nil {
			log.Error("cannot listen for the control API", "addr", httpAddr, "err", err)
			return 1
		}
		apiAddr = ln.Addr().String()
		hs = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("control API stopped", "err", err)
			}
		}()
		log.Info("control API listening", "http", apiAddr)
	}
	if ready != nil {
		ready(srv, apiAddr)
	}
	<-ctx.Done()
	log.Info("shutting down")
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}
	return 0
}
