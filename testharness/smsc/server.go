// Package smsc is a scriptable SMPP 3.4 SMSC simulator: the test harness for
// every end-to-end test of the bridge, and the engine of cmd/smscsim.
//
// Tests start it on 127.0.0.1:0, point a client at Addr(), inspect what
// arrived with Messages and Stats, and wait for conditions with WaitFor
// instead of sleeping. Behaviour (receipt mixes, throttling, faults) can be
// changed while it runs.
package smsc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a running simulator. All exported methods are safe for
// concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	ln, tlsLn net.Listener
	tlsConf   *tls.Config
	started   time.Time

	mu           sync.Mutex
	beh          Behaviour
	refuseUntil  time.Time
	rng          *rand.Rand
	accounts     map[string]Account
	sessions     map[*session]struct{}
	nextSession  int
	acct         map[string]*accountState
	total        Counters
	msgs         []msgRecord // ring of the last KeepMessages messages, oldest first from msgHead
	msgHead      int
	parts        map[string]*partState // by message id as sent in submit_sm_resp
	partial      map[string]*partial
	freeReceipts []*delivery // acknowledged receipts for reuse
	submitDates  dateCache
	doneDates    dateCache
	idSeq        uint64
	deliverySeq  uint64
	epoch        uint64 // bumped by Reset: outcomes and retries scheduled before it are dropped
	changed      chan struct{}
	watched      bool
	closed       bool

	pdusIn, pdusOut atomic.Int64

	sched *scheduler
	wg    sync.WaitGroup
}

// accountState is per-system_id state: counters, rate limiter, queued deliveries.
type accountState struct {
	counters  Counters
	tokens    float64
	tokensAt  time.Time
	accepted  int // submits accepted since the last 0x14 burst
	qfullLeft int // remaining 0x14 answers in the current burst
	queue     []*delivery
}

// Start listens and serves until Close. cfg.SMPPAddr defaults to 127.0.0.1:0.
func Start(cfg Config) (*Server, error) {
	cfg.Behaviour = cfg.Behaviour.clone() // the caller keeps its slices
	cfg.setDefaults()
	cfg.Behaviour.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("smsc: invalid configuration: %w", err)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		beh:      cfg.Behaviour,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		accounts: map[string]Account{},
		sessions: map[*session]struct{}{},
		acct:     map[string]*accountState{},
		parts:    map[string]*partState{},
		partial:  map[string]*partial{},
		changed:  make(chan struct{}),
		started:  time.Now(),
	}
	for _, a := range cfg.Accounts {
		s.accounts[a.SystemID] = a
	}
	s.applyRefusal(cfg.Behaviour)
	ln, err := net.Listen("tcp", cfg.SMPPAddr)
	if err != nil {
		return nil, fmt.Errorf("smsc: listen %s: %w", cfg.SMPPAddr, err)
	}
	s.ln = ln
	if cfg.TLSAddr != "" {
		conf, err := tlsConfig(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("smsc: TLS: %w", err)
		}
		tln, err := tls.Listen("tcp", cfg.TLSAddr, conf)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("smsc: listen TLS %s: %w", cfg.TLSAddr, err)
		}
		s.tlsLn, s.tlsConf = tln, conf
	}
	s.sched = newScheduler()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.sched.run() }()
	if len(cfg.Accounts) == 0 {
		s.log.Warn("no accounts configured: any system_id and password will be accepted")
	}
	s.log.Info("SMSC simulator listening", "smpp", ln.Addr().String(), "tls", s.TLSAddr())
	s.serve(ln)
	if s.tlsLn != nil {
		s.serve(s.tlsLn)
	}
	return s, nil
}

// Addr is the plain SMPP listener's address, e.g. "127.0.0.1:40123".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// TLSAddr is the TLS listener's address, or "" without one.
func (s *Server) TLSAddr() string {
	if s.tlsLn == nil {
		return ""
	}
	return s.tlsLn.Addr().String()
}

// TLSCertificate returns the certificate the TLS listener presents, so a
// test client can trust the generated self-signed certificate.
func (s *Server) TLSCertificate() *tls.Certificate {
	if s.tlsConf == nil || len(s.tlsConf.Certificates) == 0 {
		return nil
	}
	return &s.tlsConf.Certificates[0]
}

func (s *Server) serve(ln net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var delay time.Duration
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// Temporary accept errors (EMFILE): back off instead of spinning.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			delay = 0
			s.startSession(c)
		}
	}()
}

// Close stops the listeners, drops every bind and waits for all goroutines.
// Deliveries still queued are discarded.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.ln.Close()
	if s.tlsLn != nil {
		s.tlsLn.Close()
	}
	for _, ss := range sessions {
		ss.close()
	}
	s.sched.stop()
	s.wg.Wait()
	return nil
}

// notifyLocked wakes WaitFor callers. A fresh channel is only made when
// someone is waiting, so the hot path does not allocate for nobody.
func (s *Server) notifyLocked() {
	if s.watched {
		close(s.changed)
		s.changed = make(chan struct{})
		s.watched = false
	}
}

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated once
// at the start and again after every change of the simulator's state, so no
// polling interval is involved. cond may call the Server's methods.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.watched = true
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("smsc: condition not met: %w", context.Cause(ctx))
		}
	}
}

// WaitMessages waits until at least n complete messages have arrived in total
// and returns all kept messages.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	err := s.WaitFor(ctx, func() bool { return s.Stats().Messages >= int64(n) })
	return s.Messages(), err
}

// Behaviour returns the behaviour in force.
func (s *Server) Behaviour() Behaviour {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beh.clone()
}

// SetBehaviour replaces the behaviour. Defaults are filled in and the result
// validated; an invalid behaviour is refused and the old one stays.
func (s *Server) SetBehaviour(b Behaviour) error { return s.setBehaviour(b, true) }

// setBehaviour is SetBehaviour; rearm false keeps the refusal period in
// force, for a partial PUT that does not name refuse_binds_for.
func (s *Server) setBehaviour(b Behaviour, rearm bool) error {
	b = b.clone() // setDefaults writes into the slices; they stay the caller's
	b.setDefaults()
	if err := b.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.beh = b
	if rearm {
		s.applyRefusal(b)
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.log.Info("behaviour changed")
	return nil
}

func (s *Server) applyRefusal(b Behaviour) {
	s.refuseUntil = time.Time{}
	if b.RefuseBindsFor > 0 {
		s.refuseUntil = time.Now().Add(b.RefuseBindsFor.D())
	}
}

// Reset forgets received messages, counters, partial messages and queued
// deliveries, and restores the configured behaviour. Binds stay up.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.beh = s.cfg.Behaviour
	s.applyRefusal(s.beh)
	s.msgs, s.msgHead = nil, 0
	s.parts = map[string]*partState{}
	s.partial = map[string]*partial{}
	binds := s.total.BindsActive
	s.total = Counters{BindsActive: binds}
	for id, a := range s.acct {
		s.acct[id] = &accountState{counters: Counters{BindsActive: a.counters.BindsActive}}
	}
	for ss := range s.sessions {
		ss.forgetDeliveries()
	}
	s.notifyLocked()
}

// Counters are the simulator's statistics, in total and per account.
type Counters struct {
	BindsActive     int64 `json:"binds_active"`
	Binds           int64 `json:"binds"`
	BindsRefused    int64 `json:"binds_refused"`
	Unbinds         int64 `json:"unbinds"`
	Drops           int64 `json:"drops"` // connections closed by fault injection
	SubmitSM        int64 `json:"submit_sm"`
	SubmitMulti     int64 `json:"submit_multi"`
	DataSM          int64 `json:"data_sm"`
	QuerySM         int64 `json:"query_sm"`
	CancelSM        int64 `json:"cancel_sm"`
	ReplaceSM       int64 `json:"replace_sm"`
	Segments        int64 `json:"segments"` // accepted parts
	Messages        int64 `json:"messages"` // complete messages recorded
	Rejected        int64 `json:"rejected"` // submits answered with an error other than 0x58/0x14
	Throttled       int64 `json:"throttled"`
	QueueFull       int64 `json:"queue_full"`
	WindowExceeded  int64 `json:"window_exceeded"`
	NotAnswered     int64 `json:"not_answered"`
	ReceiptsSent    int64 `json:"receipts_sent"`
	ReceiptsAcked   int64 `json:"receipts_acked"`
	ReceiptsNacked  int64 `json:"receipts_nacked"` // answered with an error status: will be resent
	MOSent          int64 `json:"mo_sent"`
	MOAcked         int64 `json:"mo_acked"`
	MONacked        int64 `json:"mo_nacked"`
	EnquireLinksIn  int64 `json:"enquire_links_in"`
	EnquireLinksOut int64 `json:"enquire_links_out"`
	GenericNacks    int64 `json:"generic_nacks"`     // sent by us
	PDUsIn          int64 `json:"pdus_in"`           // in total only
	PDUsOut         int64 `json:"pdus_out"`          // in total only
	QueuedDeliver   int64 `json:"queued_deliveries"` // receipts and MO waiting for a bind or a window slot
}

// Stats is a snapshot of the counters.
type Stats struct {
	Counters
	Accounts map[string]Counters `json:"accounts"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Counters: s.total, Accounts: make(map[string]Counters, len(s.acct))}
	st.PDUsIn, st.PDUsOut = s.pdusIn.Load(), s.pdusOut.Load()
	for id, a := range s.acct {
		st.Accounts[id] = a.counters
	}
	return st
}

// count applies f to the total and to the account's counters. Callers hold s.mu.
func (s *Server) count(systemID string, f func(*Counters)) {
	f(&s.total)
	f(&s.account(systemID).counters)
	s.notifyLocked()
}

func (s *Server) account(systemID string) *accountState {
	a := s.acct[systemID]
	if a == nil {
		a = &accountState{}
		s.acct[systemID] = a
	}
	return a
}

// newMessageIDLocked mints the next id in the configured form.
func (s *Server) newMessageIDLocked() (string, uint64) {
	s.idSeq++
	n := s.idSeq
	switch s.beh.IDFormat {
	case "uuid":
		var b [16]byte
		hi, lo := s.rng.Uint64(), s.rng.Uint64()
		for i := 0; i < 8; i++ {
			b[i] = byte(hi >> (56 - 8*i))
			b[8+i] = byte(lo >> (56 - 8*i))
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), n
	default:
		return formatID(s.beh.IDFormat, n, s.beh.IDWidth), n
	}
}

// formatID renders a numeric message id. Hex ids are upper case, as most
// SMSCs send them.
func formatID(format string, n uint64, width int) string {
	switch format {
	case "hex":
		return fmt.Sprintf("%X", n)
	case "padded-hex":
		return fmt.Sprintf("%0*X", width, n)
	case "padded-decimal":
		return fmt.Sprintf("%0*d", width, n)
	default:
		return strconv.FormatUint(n, 10)
	}
}

func (s *Server) randFloat() float64 { return s.rng.Float64() }

func (s *Server) draw(d Dist) time.Duration {
	lo, hi := d.Min.D(), d.Max.D()
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)+1))
}
