package daemon

// Prometheus metrics of the admin listener's /metrics. Only cmd imports
// client_golang (layout_test.go): the core packages expose plain Stats()
// snapshots, read here at scrape time by one Collector, and a few observer
// hooks in their Options for what only they see happen (a request's
// status, a receipt's code, a callback's outcome), fed into counters and
// histograms here.

import (
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"smppbridge/bridge"
	"smppbridge/dlrmap"
	"smppbridge/smpp"
)

const ns = "smppbridge"

// metrics are the event-driven series; daemonCollector reads the rest.
type metrics struct {
	reg              *prometheus.Registry
	httpRequests     *prometheus.CounterVec
	httpAccepted     prometheus.Histogram
	receipts         *prometheus.CounterVec
	receiptsUnmatch  *prometheus.CounterVec
	callbackAttempts *prometheus.CounterVec
	callbackDuration *prometheus.HistogramVec
	callbackDead     *prometheus.CounterVec

	// Resolved children by label values: a lock-free sync.Map load per
	// event instead of the vectors' hashing and read lock and strconv.
	httpByKey    sync.Map // httpKey -> prometheus.Counter, past httpRoutes' reach
	receiptByKey sync.Map // receiptKey -> receiptCounters
	// httpRoutes resolves the request counters once per request without
	// hashing: the server names few routes (constant strings), each with an
	// array of counters by status code.
	httpRoutes httpRouteTable
}

// httpRouteTable is an append-only list of routes: readers load n, then
// read the first n entries without a lock; a new route is written under
// mu before n is raised.
type httpRouteTable struct {
	mu   sync.Mutex
	n    atomic.Int32
	list [8]httpRouteCounters
}

type httpRouteCounters struct {
	route    string
	byStatus [600]atomic.Pointer[prometheus.Counter]
}

// counter returns the counter slot of route and status, adding the route
// on first sight; nil when the table is full or the status out of range.
func (t *httpRouteTable) counter(route string, status int) *atomic.Pointer[prometheus.Counter] {
	if status < 0 || status >= 600 {
		return nil
	}
	n := int(t.n.Load())
	for i := 0; i < n; i++ {
		if t.list[i].route == route {
			return &t.list[i].byStatus[status]
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n = int(t.n.Load())
	for i := 0; i < n; i++ {
		if t.list[i].route == route {
			return &t.list[i].byStatus[status]
		}
	}
	if n == len(t.list) {
		return nil
	}
	t.list[n].route = route
	t.n.Store(int32(n + 1))
	return &t.list[n].byStatus[status]
}

type httpKey struct {
	route  string
	status int
}

type receiptKey struct {
	carrier string
	outcome dlrmap.Outcome
	code    int
}

type receiptCounters struct{ all, unmatched prometheus.Counter }

func newMetrics(d *Daemon) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
		Help: "API requests by route pattern and response status."}, []string{"route", "code"})
	m.httpAccepted = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "http_accepted_duration_seconds",
		Help:    "Time to answer 202 Accepted (the message is durable in the store).",
		Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}})
	m.receipts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "receipts_total",
		Help: "Delivery receipts recorded, by carrier, outcome (delivered, failed, pending) and V2 error code (0 when delivered)."},
		[]string{"carrier", "outcome", "code"})
	m.receiptsUnmatch = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "receipts_unmatched_on_arrival_total",
		Help: "Final receipts that matched no recorded message on arrival: early (before the submit_sm_resp was recorded) or foreign; held until matched."},
		[]string{"carrier"})
	m.callbackAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "callback_attempts_total",
		Help: "Callback delivery attempts by application and outcome (success: 2xx; failure: anything else, retried)."},
		[]string{"application", "outcome"})
	m.callbackDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "callback_duration_seconds",
		Help:    "Callback request duration by application and outcome.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"application", "outcome"})
	m.callbackDead = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "callbacks_dead_lettered_total",
		Help: "Callback jobs given up after callbacks.retry_for, by application."}, []string{"application"})
	m.reg.MustRegister(m.httpRequests, m.httpAccepted, m.receipts, m.receiptsUnmatch, m.callbackAttempts,
		m.callbackDuration, m.callbackDead, &daemonCollector{d: d},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// observeHTTP is httpapi.Options.Observe.
func (m *metrics) observeHTTP(route string, status int, took time.Duration) {
	if slot := m.httpRoutes.counter(route, status); slot != nil {
		c := slot.Load()
		if c == nil {
			// Two first requests may both resolve it: the vector returns the
			// same child to both.
			child := m.httpRequests.WithLabelValues(route, strconv.Itoa(status))
			slot.Store(&child)
			c = &child
		}
		(*c).Inc()
	} else {
		m.observeHTTPSlow(route, status)
	}
	if status == http.StatusAccepted {
		m.httpAccepted.Observe(took.Seconds())
	}
}

// observeHTTPSlow counts a request httpRoutes has no slot for.
func (m *metrics) observeHTTPSlow(route string, status int) {
	k := httpKey{route, status}
	c, ok := m.httpByKey.Load(k)
	if !ok {
		c, _ = m.httpByKey.LoadOrStore(k, m.httpRequests.WithLabelValues(route, strconv.Itoa(status)))
	}
	c.(prometheus.Counter).Inc()
}

// observeReceipt is bridge.Options.OnReceipt.
func (m *metrics) observeReceipt(carrier string, outcome dlrmap.Outcome, code int, matched bool) {
	k := receiptKey{carrier, outcome, code}
	c, ok := m.receiptByKey.Load(k)
	if !ok {
		c, _ = m.receiptByKey.LoadOrStore(k, receiptCounters{
			all:       m.receipts.WithLabelValues(carrier, outcome.String(), strconv.Itoa(code)),
			unmatched: m.receiptsUnmatch.WithLabelValues(carrier),
		})
	}
	rc := c.(receiptCounters)
	rc.all.Inc()
	// Intermediate receipts are never matched (nor held): only final ones
	// can be unmatched.
	if !matched && outcome != dlrmap.Pending {
		rc.unmatched.Inc()
	}
}

// observeCallback is bridge.WebhookOptions.OnAttempt.
func (m *metrics) observeCallback(app string, jobs int, ok bool, took time.Duration) {
	outcome := "failure"
	if ok {
		outcome = "success"
	}
	m.callbackAttempts.WithLabelValues(app, outcome).Inc()
	m.callbackDuration.WithLabelValues(app, outcome).Observe(took.Seconds())
}

// observeDead is bridge.WebhookOptions.OnDeadLetter.
func (m *metrics) observeDead(app string, jobs int) {
	m.callbackDead.WithLabelValues(app).Add(float64(jobs))
}

// daemonCollector turns the components' Stats() into series at scrape time.
type daemonCollector struct{ d *Daemon }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

var (
	descQueueSegments  = desc("queue_segments", "Segments queued for a carrier (accepted, not yet taken by the carrier).", "carrier")
	descQueueCapacity  = desc("queue_capacity_segments", "A carrier's queue capacity in segments (segments_per_second × queue_seconds).", "carrier")
	descQueueMessages  = desc("queue_messages", "Messages queued for a carrier.", "carrier")
	descPoolQueued     = desc("smpp_pool_queued_segments", "Segments waiting in the carrier's SMPP pool for the throttle or a window slot.", "carrier")
	descRate           = desc("smpp_rate_segments_per_second", "Segment rate in force for a carrier (0: unlimited).", "carrier")
	descPaused         = desc("smpp_paused", "1 while the carrier is paused after 0x58/0x14.", "carrier")
	descPauses         = desc("smpp_throttle_pauses_total", "Pauses after the carrier answered 0x58 (throttled) or 0x14 (queue full).", "carrier")
	descResends        = desc("smpp_resends_total", "Segments sent again after 0x58/0x14.", "carrier")
	descBindsUp        = desc("smpp_binds_up", "Binds up per carrier.", "carrier")
	descBindsWanted    = desc("smpp_binds_configured", "Binds configured per carrier.", "carrier")
	descBindUp         = desc("smpp_bind_up", "1 while the bind is up.", "carrier", "bind")
	descReconnects     = desc("smpp_bind_reconnects_total", "Times a bind went down after being up.", "carrier", "bind")
	descWindowInUse    = desc("smpp_window_in_use", "Requests awaiting a response on the bind.", "carrier", "bind")
	descWindowSize     = desc("smpp_window_size", "The bind's window (0 while down).", "carrier", "bind")
	descSubmits        = desc("smpp_submits_total", "submit_sm responses by status: ok (segments sent), throttled (0x58), queue_full (0x14), rejected (other errors), timeout (no response: outcome unknown).", "carrier", "bind", "status")
	descLate           = desc("smpp_late_responses_total", "submit_sm_resp that came after response_timeout: applied (the part's message id or refusal recorded after all) or too_late (the message had already ended, or its outcome could not be waited for; nothing changed).", "carrier", "outcome")
	descInbound        = desc("smpp_inbound_total", "deliver_sm/data_sm received (receipts and inbound messages).", "carrier", "bind")
	descSubmitLatency  = desc("smpp_submit_response_seconds", "submit_sm to submit_sm_resp latency.", "carrier")
	descStoreSize      = desc("store_size_bytes", "Size of the bbolt database file.")
	descStoreCommits   = desc("store_commits_total", "Store write transactions committed (each one fsync).")
	descStoreWrites    = desc("store_writes_total", "Writes grouped into those commits.")
	descReceiptsHeld   = desc("receipts_unmatched", "Receipts held now that matched no message yet (early receipts waiting, or foreign ones).")
	descCBNew          = desc("callbacks_pending", "Callback jobs in the outbox never tried yet (due now or soon).")
	descCBRetry        = desc("callbacks_retrying", "Callback jobs in the outbox waiting for a retry after a failure.")
	descCBDead         = desc("callbacks_dead_letter", "Callback jobs in the dead-letter bucket now.")
	descCBInFlight     = desc("callbacks_in_flight", "Callback requests in flight.")
	descCBDelivered    = desc("callbacks_delivered_total", "Callback jobs acknowledged with 2xx.")
	descCBStoreErrors  = desc("callbacks_store_errors_total", "Callback outcomes that could not be written (sent again).")
	latencyUpperBounds = func() []float64 {
		out := make([]float64, len(smpp.LatencyBuckets))
		for i, b := range smpp.LatencyBuckets {
			out[i] = b.Seconds()
		}
		return out
	}()
)

// Describe sends nothing: the collector is unchecked, its series (per
// carrier and bind) change with reloads.
func (c *daemonCollector) Describe(chan<- *prometheus.Desc) {}

func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	gauge := func(dc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(dc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(dc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(dc, prometheus.CounterValue, v, labels...)
	}
	if br := d.Bridge; br != nil {
		for _, q := range br.Queues() {
			gauge(descQueueSegments, float64(q.Segments), q.Carrier)
			gauge(descQueueCapacity, float64(q.Capacity), q.Carrier)
			gauge(descQueueMessages, float64(q.Messages), q.Carrier)
		}
	}
	var late map[string]bridge.LateResponseStats
	if br := d.Bridge; br != nil {
		late = br.LateResponses()
	}
	for _, p := range d.CurrentPools() {
		st := p.Stats()
		name := st.Name
		// Folded into a pending Submit result by the pool, or recorded
		// on the written copy by the bridge.
		counter(descLate, float64(st.LateFolded+late[name].Applied), name, "applied")
		counter(descLate, float64(late[name].TooLate), name, "too_late")
		gauge(descPoolQueued, float64(st.Queued), name)
		gauge(descRate, st.Rate, name)
		gauge(descPaused, b2f(st.Paused), name)
		counter(descPauses, float64(st.ThrottlePauses), name)
		counter(descResends, float64(st.Resends), name)
		gauge(descBindsUp, float64(st.BindsUp), name)
		gauge(descBindsWanted, float64(len(st.Binds)), name)
		buckets := make(map[float64]uint64, len(latencyUpperBounds))
		var count uint64
		var sum float64
		for _, b := range st.Binds {
			bind := strconv.Itoa(b.Index)
			gauge(descBindUp, b2f(b.Up), name, bind)
			counter(descReconnects, float64(b.Reconnects), name, bind)
			gauge(descWindowInUse, float64(b.Session.WindowInUse), name, bind)
			gauge(descWindowSize, float64(b.Session.WindowSize), name, bind)
			t := b.Total
			counter(descSubmits, float64(t.Submitted), name, bind, "ok")
			counter(descSubmits, float64(t.Throttled), name, bind, "throttled")
			counter(descSubmits, float64(t.QueueFull), name, bind, "queue_full")
			counter(descSubmits, float64(t.Rejected), name, bind, "rejected")
			counter(descSubmits, float64(t.Timeouts), name, bind, "timeout")
			counter(descInbound, float64(t.Inbound), name, bind)
			// Prometheus buckets are cumulative; the session's are not.
			var cum uint64
			for i, n := range t.LatencyCounts {
				cum += uint64(n)
				if i < len(latencyUpperBounds) {
					buckets[latencyUpperBounds[i]] += cum
				}
			}
			count += cum
			sum += t.LatencySum.Seconds()
		}
		ch <- prometheus.MustNewConstHistogram(descSubmitLatency, count, sum, buckets, name)
		// Receiver binds (transmitter_receiver) never submit, but they carry
		// every receipt and inbound message of the carrier: without them
		// inbound_total would stay 0 and a receiver down would not show.
		for _, b := range st.Receivers {
			bind := "receiver-" + strconv.Itoa(b.Index)
			gauge(descBindUp, b2f(b.Up), name, bind)
			counter(descReconnects, float64(b.Reconnects), name, bind)
			counter(descInbound, float64(b.Total.Inbound), name, bind)
		}
	}
	if st := d.Store; st != nil {
		s := st.Stats()
		counter(descStoreCommits, float64(s.Commits))
		counter(descStoreWrites, float64(s.Writes))
		if fi, err := os.Stat(d.cfg.Store.Path); err == nil {
			gauge(descStoreSize, float64(fi.Size()))
		}
		if n, err := st.PendingReceipts(); err == nil {
			gauge(descReceiptsHeld, float64(n))
		}
		if cb, err := st.CallbackStats(); err == nil {
			gauge(descCBNew, float64(cb.New))
			gauge(descCBRetry, float64(cb.Retry))
			gauge(descCBDead, float64(cb.Dead))
		}
	}
	if wh := d.Webhooks; wh != nil {
		s := wh.Stats()
		gauge(descCBInFlight, float64(s.InFlight))
		counter(descCBDelivered, float64(s.Delivered))
		counter(descCBStoreErrors, float64(s.StoreErrors))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
