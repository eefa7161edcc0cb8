package cluster

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// depthStates are the job states the queue depth is exported for; labels
// stay bounded by them and by the queue names.
var depthStates = []string{"available", "scheduled", "running", "retryable"}

// depthTimeout bounds the depth query of one scrape.
const depthTimeout = 2 * time.Second

// metrics is the queue's Prometheus collector: the depth, read from
// river_job at each scrape (so every node exports the whole queue's),
// and this node's job latency and duration, observed as it works jobs.
type metrics struct {
	pool     *pgxpool.Pool
	depth    *prometheus.Desc
	up       *prometheus.Desc
	latency  *prometheus.HistogramVec
	duration *prometheus.HistogramVec
}

func newMetrics(pool *pgxpool.Pool) *metrics {
	return &metrics{
		pool: pool,
		depth: prometheus.NewDesc("audiencesync_queue_jobs",
			"Jobs in the job queue (the whole cluster's), by queue and state: available, scheduled, running, retryable.",
			[]string{"queue", "state"}, nil),
		up: prometheus.NewDesc("audiencesync_queue_up",
			"1 when the last scrape could read the job queue's depth, else 0.", nil, nil),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "audiencesync_queue_job_latency_seconds",
			Help:    "Time from a job's scheduled time to this node's attempt at it, by queue.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12)}, []string{"queue"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "audiencesync_queue_job_duration_seconds",
			Help:    "How long this node took to work a job, by queue (a run's own duration is audiencesync_run_duration_seconds).",
			Buckets: prometheus.ExponentialBuckets(0.05, 3, 12)}, []string{"queue"}),
	}
}

// Describe is part of prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.depth
	ch <- m.up
	m.latency.Describe(ch)
	m.duration.Describe(ch)
}

// Collect is part of prometheus.Collector: it counts the jobs by queue
// and state. Our queue is always exported, zeros included, so that an
// alert on it has a series to look at.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.latency.Collect(ch)
	m.duration.Collect(ch)
	counts, err := m.counts()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 1)
	if counts[QueueName] == nil {
		counts[QueueName] = map[string]int64{}
	}
	for queue, byState := range counts {
		for _, st := range depthStates {
			ch <- prometheus.MustNewConstMetric(m.depth, prometheus.GaugeValue, float64(byState[st]), queue, st)
		}
	}
}

func (m *metrics) counts() (map[string]map[string]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), depthTimeout)
	defer cancel()
	rows, err := m.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state = ANY($1::river_job_state[]) GROUP BY queue, state`, depthStates)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var queue, st string
		var n int64
		if err := rows.Scan(&queue, &st, &n); err != nil {
			return nil, err
		}
		if out[queue] == nil {
			out[queue] = map[string]int64{}
		}
		out[queue][st] = n
	}
	return out, rows.Err()
}
