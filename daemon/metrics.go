package daemon

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

// metrics is the daemon's Prometheus registry and the engine observer
// that feeds it. Labels are sync, destination, op, status and reason
// names, all bounded by the config and the code: never a member, a run id
// or error text.
type metrics struct {
	reg *prometheus.Registry

	runs         *prometheus.CounterVec
	runDuration  *prometheus.HistogramVec
	lastSuccess  *prometheus.GaugeVec
	members      *prometheus.CounterVec
	batches      *prometheus.CounterVec
	batchLatency *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	rateWaits    *prometheus.CounterVec
	rateWaited   *prometheus.CounterVec
	sourceRead   *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	normRejected *prometheus.CounterVec
	audience     *prometheus.GaugeVec
	running      prometheus.Gauge

	// planned keeps each destination's planned audience size until its
	// DestinationDone says whether it was reached.
	mu      sync.Mutex
	planned map[plannedKey]int64
}

type plannedKey struct{ run, destination string }

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), planned: map[plannedKey]int64{}}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_runs_total",
		Help: "Runs by sync and final status; skipped counts ticks skipped because the sync was still running."}, []string{"sync", "status"})
	m.runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "audiencesync_run_duration_seconds",
		Help: "How long runs took, by sync.", Buckets: prometheus.ExponentialBuckets(0.05, 3, 12)}, []string{"sync"})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "audiencesync_last_success_timestamp_seconds",
		Help: "Unix time a run of the sync last succeeded."}, []string{"sync"})
	m.members = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_members_total",
		Help: "Members the destination acknowledged (op added, removed, updated, refreshed) or that failed, by sync and destination."},
		[]string{"sync", "destination", "op"})
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_batches_total",
		Help: "Batches sent, by destination, op and result (ok or failed)."}, []string{"destination", "op", "result"})
	m.batchLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "audiencesync_batch_duration_seconds",
		Help:    "Time from a batch's first call to its last answer, back-off included, by destination and op.",
		Buckets: prometheus.ExponentialBuckets(0.005, 3, 12)}, []string{"destination", "op"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_batch_retries_total",
		Help: "Extra calls batches took, by destination and op."}, []string{"destination", "op"})
	m.rateWaits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_rate_limit_waits_total",
		Help: "Waits a rate limit imposed on batches (the platform asked for them, or the connector held a batch while its window was spent), by destination and op."},
		[]string{"destination", "op"})
	m.rateWaited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_rate_limit_wait_seconds_total",
		Help: "Seconds batches waited for rate limits, by destination and op."}, []string{"destination", "op"})
	m.sourceRead = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_source_rows_read_total",
		Help: "Source records read, by sync."}, []string{"sync"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_source_rows_rejected_total",
		Help: "Source records rejected, by sync and reason."}, []string{"sync", "reason"})
	m.normRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencesync_members_rejected_total",
		Help: "Members or identifiers a destination's normalisation profile rejected, by sync, destination and reason."},
		[]string{"sync", "destination", "reason"})
	m.audience = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "audiencesync_audience_members",
		Help: "Members the audience holds after the last run that reached it, by sync and destination."}, []string{"sync", "destination"})
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: "audiencesync_runs_in_progress",
		Help: "Runs in progress in this daemon."})
	for _, c := range []prometheus.Collector{m.runs, m.runDuration, m.lastSuccess, m.members, m.batches, m.batchLatency,
		m.retries, m.rateWaits, m.rateWaited, m.sourceRead, m.rejected, m.normRejected, m.audience, m.running,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Observe is the engine.Observer that counts batches and members.
func (m *metrics) Observe(ev engine.Event) {
	switch e := ev.(type) {
	case engine.RunStarted:
		m.running.Inc()
	case engine.BatchApplied:
		op := e.Op.String()
		result := "ok"
		if e.Err != nil {
			result = "failed"
		}
		m.batches.WithLabelValues(e.Destination, op, result).Inc()
		m.batchLatency.WithLabelValues(e.Destination, op).Observe(e.Latency.Seconds())
		if e.Retries > 0 {
			m.retries.WithLabelValues(e.Destination, op).Add(float64(e.Retries))
		}
		if e.RateLimitWaits > 0 {
			m.rateWaits.WithLabelValues(e.Destination, op).Add(float64(e.RateLimitWaits))
			m.rateWaited.WithLabelValues(e.Destination, op).Add(e.RateLimitWait.Seconds())
		}
	case engine.DestinationPlanned:
		m.mu.Lock()
		m.planned[plannedKey{e.Run.ID, e.Destination}] = e.Members
		m.mu.Unlock()
	case engine.DestinationDone:
		k := plannedKey{e.Run.ID, e.Destination}
		m.mu.Lock()
		size, ok := m.planned[k]
		delete(m.planned, k)
		m.mu.Unlock()
		if ok && (e.Status == report.StatusSucceeded || e.Status == report.StatusPartial) {
			m.audience.WithLabelValues(e.Run.Sync, e.Destination).Set(float64(size))
		}
		for op, n := range map[string]int64{"added": e.Applied.Added, "removed": e.Applied.Removed,
			"updated": e.Applied.Updated, "refreshed": e.Applied.Refreshed, "failed": e.Applied.Failed} {
			m.members.WithLabelValues(e.Run.Sync, e.Destination, op).Add(float64(n))
		}
	case engine.RunFinished:
		m.running.Dec()
		m.runs.WithLabelValues(e.Run.Sync, string(e.Status)).Inc()
		m.runDuration.WithLabelValues(e.Run.Sync).Observe(e.Duration.Seconds())
	}
}

// finished records what only the report holds: source figures by reason
// and the time of the last success.
func (m *metrics) finished(rep *report.Report) {
	m.sourceRead.WithLabelValues(rep.Sync).Add(float64(rep.Source.Read))
	for reason, n := range rep.Source.Rejected {
		m.rejected.WithLabelValues(rep.Sync, reason).Add(float64(n))
	}
	for _, d := range rep.Destinations {
		for reason, n := range d.Rejected {
			m.normRejected.WithLabelValues(rep.Sync, d.Name, reason).Add(float64(n))
		}
	}
	if rep.Status == report.StatusSucceeded {
		m.lastSuccess.WithLabelValues(rep.Sync).Set(float64(rep.FinishedAt.Unix()))
	}
}

// skipped counts a tick skipped because the sync was still running.
func (m *metrics) skipped(sync string) { m.runs.WithLabelValues(sync, "skipped").Inc() }
