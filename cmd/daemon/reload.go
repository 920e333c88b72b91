package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"smppbridge/bridge"
	"smppbridge/conf"
	"smppbridge/smpp"
)

// carrierRuntime is a running carrier: the configuration it runs with, its
// pool and the Sender the bridge knows it by.
type carrierRuntime struct {
	conf   conf.Carrier
	pool   *smpp.Pool
	sender bridge.Sender
}

// liveCarrierKeys are the carrier keys a reload applies to running binds;
// a change to any other key reconnects that carrier.
func sameConnection(a, b conf.Carrier) bool {
	for _, c := range []*conf.Carrier{&a, &b} {
		c.SegmentsPerSecond, c.Burst, c.QueueSeconds, c.QueueCapacity = 0, 0, 0, 0
		c.Routes, c.RouteAccounts, c.RouteFrom, c.RouteClasses = nil, nil, nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// ErrStopping is returned by Reload once shutdown has begun.
var ErrStopping = errors.New("daemon: stopping")

// Reload applies a new configuration (SIGHUP): carriers and routes now —
// a carrier whose connection settings are unchanged keeps its binds and
// takes a new rate, queue size and routes live; a changed one reconnects;
// an added one binds; a removed one unbinds after its in-flight submits
// (messages still queued for it fail with 4420). The HTTPS certificate is
// read again and the message list's rate limit set. Settings of
// listeners, the store, the rest of the API and callbacks take effect at
// the next start (logged). cfg must have passed conf validation; on error
// nothing has changed.
func (d *Daemon) Reload(cfg *conf.Config) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if d.stopping {
		return ErrStopping
	}
	// Everything that can fail is checked before anything changes.
	if err := d.api.CheckTLS(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	accounts, err := bridgeAccounts(cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	type planned struct {
		bc   bridge.Carrier
		pc   smpp.PoolConfig
		keep *carrierRuntime // nil: a new pool
	}
	plan := make([]planned, len(cfg.Carriers))
	for i := range cfg.Carriers {
		c := &cfg.Carriers[i]
		d.pointAtSimulator(c)
		bc, pc, err := carrierOptions(c, d.log)
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		plan[i] = planned{bc: bc, pc: pc}
		if old := d.carriers[c.Name]; old != nil && sameConnection(old.conf, *c) {
			plan[i].keep = old
		}
	}

	next := map[string]*carrierRuntime{}
	var fresh []*smpp.Pool
	list := make([]bridge.Carrier, len(plan))
	for i, p := range plan {
		c := cfg.Carriers[i]
		rt := p.keep
		if rt == nil {
			if p.bc.RegisteredDelivery != 0 {
				p.pc.Session.Handler = d.Bridge.InboundHandler(c.Name)
			}
			p.pc.OnLateResult = d.Bridge.LateResultHandler(c.Name)
			pool := smpp.NewPool(p.pc)
			fresh = append(fresh, pool)
			rt = &carrierRuntime{pool: pool, sender: pool}
		}
		rt = &carrierRuntime{conf: c, pool: rt.pool, sender: rt.sender}
		next[c.Name] = rt
		p.bc.Sender = rt.sender
		list[i] = p.bc
	}
	var gone []*smpp.Pool // pools the bridge stops sending through
	for name, old := range d.carriers {
		if rt := next[name]; rt == nil || rt.pool != old.pool {
			gone = append(gone, old.pool)
		}
	}
	// SetCarriers waits for the retired carriers' senders, and they for the
	// answers to submits already out, which a carrier that stopped
	// answering holds up to its response_timeout. Within the budget
	// (api.shutdown_timeout, cut short when the daemon stops) their pools
	// close instead: those submits end with their outcome unknown, as at a
	// stop. SetCarriers fails only before it changes anything, at once.
	ctx, cancel := context.WithTimeout(d.stopBegun, d.cfg.API.ShutdownTimeout.Std())
	defer cancel()
	forced := make(chan struct{})
	stopForcing := context.AfterFunc(ctx, func() {
		defer close(forced)
		closePools(ctx, gone)
	})
	if err := d.Bridge.SetCarriers(list); err != nil {
		if !stopForcing() {
			<-forced
		}
		closePools(ctx, fresh)
		return fmt.Errorf("reload: %w", err)
	}
	if !stopForcing() {
		<-forced
		d.log.Warn("reload: in-flight submits of replaced or removed carriers cut off at the end of api.shutdown_timeout (or the stop); their outcome is unknown")
	}

	for name, old := range d.carriers {
		rt := next[name]
		switch {
		case rt == nil:
			d.log.Info("reload: carrier removed", "carrier", name)
		case rt.pool != old.pool:
			d.log.Info("reload: carrier connection settings changed: reconnecting", "carrier", name)
		case rt.conf.SegmentsPerSecond != old.conf.SegmentsPerSecond || rt.conf.Burst != old.conf.Burst:
			rt.pool.SetRate(rt.conf.SegmentsPerSecond, rt.conf.Burst)
			d.log.Info("reload: carrier rate changed", "carrier", name, "segments_per_second", rt.conf.SegmentsPerSecond)
		}
	}
	for name := range next {
		if d.carriers[name] == nil {
			d.log.Info("reload: carrier added", "carrier", name)
		}
	}
	pools := make([]*smpp.Pool, 0, len(cfg.Carriers))
	for _, c := range cfg.Carriers {
		pools = append(pools, next[c.Name].pool)
	}
	d.poolsMu.Lock()
	d.Pools = pools
	d.poolsMu.Unlock()
	d.carriers = next
	// The bridge no longer sends through them: unbind after in-flight submits.
	closePools(ctx, gone)

	d.reloadAccounts(accounts)
	if d.adminCreds.Set(cfg.Admin.Username, cfg.Admin.PasswordHash) {
		d.log.Info("reload: admin credentials replaced; admin clients authenticate again")
	}
	if err := d.api.ReloadTLS(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile); err != nil {
		d.log.Error("reload: HTTPS certificate not replaced", "err", err) // checked above: only if the files changed since
	}
	if d.api.SetListRateLimit(cfg.API.ListRateLimit, cfg.API.ListRateWindow.Std()) {
		d.log.Info("reload: message list rate limit changed; counting starts afresh",
			"list_rate_limit", cfg.API.ListRateLimit, "list_rate_window", cfg.API.ListRateWindow.String())
	}
	d.warnRestartOnly(cfg)
	d.log.Info("configuration reloaded", "carriers", len(cfg.Carriers))
	return nil
}

// reloadAccounts applies the file's accounts, credentials, applications
// and numbers as the directory's bootstrap: entries created or changed
// through the admin API stay as they are (Bridge.ApplyBootstrap).
func (d *Daemon) reloadAccounts(accounts []bridge.Account) {
	if err := d.Bridge.ApplyBootstrap(accounts); err != nil {
		d.log.Error("reload: accounts not applied; the directory stays as it was", "err", err)
	}
}

// warnRestartOnly logs settings a reload does not apply.
func (d *Daemon) warnRestartOnly(cfg *conf.Config) {
	old := d.cfg
	httpOld, httpNew := old.HTTP, cfg.HTTP
	httpOld.TLSCertFile, httpOld.TLSKeyFile, httpNew.TLSCertFile, httpNew.TLSKeyFile = "", "", "", ""
	apiOld, apiNew := old.API, cfg.API // the list's rate limit is applied live
	apiOld.ListRateLimit, apiOld.ListRateWindow, apiNew.ListRateLimit, apiNew.ListRateWindow = 0, 0, 0, 0
	for _, s := range []struct {
		key  string
		same bool
	}{
		{"http", reflect.DeepEqual(httpOld, httpNew)},
		{"admin.listen", old.Admin.Listen == cfg.Admin.Listen}, // the credentials are applied live
		{"store", reflect.DeepEqual(old.Store, cfg.Store)},
		{"log.format", old.Log.Format == cfg.Log.Format}, // log.level: applied by cmd/smppbridge
		{"api", reflect.DeepEqual(apiOld, apiNew)},
		{"callbacks", reflect.DeepEqual(old.Callbacks, cfg.Callbacks)},
		{"policy", reflect.DeepEqual(old.Policy, cfg.Policy)},
	} {
		if !s.same {
			d.log.Warn("reload: settings changed that take effect at the next start", "section", s.key)
		}
	}
}

// pointAtSimulator gives carriers the embedded simulator serves its address.
func (d *Daemon) pointAtSimulator(c *conf.Carrier) {
	if d.Sim == nil {
		return
	}
	for _, name := range d.opts.SimulatorCarriers {
		if c.Name == name {
			c.Address = d.Sim.Addr()
		}
	}
}

// closePools closes pools in parallel (each unbinds after its in-flight
// submits, bounded by ctx).
func closePools(ctx context.Context, pools []*smpp.Pool) {
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Add(1)
		go func() { defer wg.Done(); p.Close(ctx) }()
	}
	wg.Wait()
}
