package configs

import (
	"net/url"
	"reflect"
	"time"
	// The zone database is embedded so that timezone: works the same on
	// hosts (and containers) without /usr/share/zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/auth"
)

// Serve tunes the scheduler of `audiencesync serve`.
type Serve struct {
	// MaxConcurrentRuns caps the runs in progress at once across all syncs
	// (default 4); a tick beyond it waits for a slot.
	MaxConcurrentRuns int `yaml:"max_concurrent_runs"`
	// CatchUp says what to do at start for ticks missed while the daemon
	// was down: "once" (the default) runs a sync once if a tick passed
	// since its last recorded run; "none" waits for the next tick.
	CatchUp string `yaml:"catch_up"`
	// MaxJitter bounds the delay added to every tick of a sync (default
	// 30s, and never more than a tenth of the time to the next tick); 0s
	// turns jitter off. Each sync's delay is fixed, derived from its name.
	MaxJitter *time.Duration `yaml:"max_jitter"`
	// Queue configures `serve --workers`, where several nodes share the
	// syncs through a River job queue in PostgreSQL.
	Queue Queue `yaml:"queue"`
}

// Queue is the job queue of `serve --workers` (package cluster).
type Queue struct {
	// DSN is the PostgreSQL database of the job queue: a postgres:// URL
	// or key=value string, usually a secret reference. Empty means
	// state.dsn, so that one database holds the state and the queue.
	DSN auth.Secret `yaml:"dsn"`
	// JobTimeout cancels a run job that has run this long (default: the
	// longest safety.max_run_duration of the syncs plus a minute, so the
	// sync's own deadline stops it first).
	JobTimeout time.Duration `yaml:"job_timeout"`
	// RescueAfter is how long a run job may stay running before the queue
	// takes it for abandoned (its worker was killed) and hands it to
	// another worker; it must exceed JobTimeout (default: JobTimeout plus
	// five minutes).
	RescueAfter time.Duration `yaml:"rescue_after"`
}

// QueueDSN returns the job queue's database: Queue.DSN, else state.dsn;
// zero when neither is set.
func (c *Config) QueueDSN() auth.Secret {
	if !c.Serve.Queue.DSN.IsZero() {
		return c.Serve.Queue.DSN
	}
	return c.State.DSN
}

// Catch-up policies (Serve.CatchUp).
const (
	CatchUpOnce = "once"
	CatchUpNone = "none"
)

// Serve defaults.
const (
	DefaultMaxConcurrentRuns = 4
	DefaultMaxJitter         = 30 * time.Second
)

// Concurrency returns MaxConcurrentRuns or its default.
func (s Serve) Concurrency() int {
	if s.MaxConcurrentRuns > 0 {
		return s.MaxConcurrentRuns
	}
	return DefaultMaxConcurrentRuns
}

// CatchUpPolicy returns CatchUp or its default, CatchUpOnce.
func (s Serve) CatchUpPolicy() string {
	if s.CatchUp == "" {
		return CatchUpOnce
	}
	return s.CatchUp
}

// JitterBound returns MaxJitter or its default.
func (s Serve) JitterBound() time.Duration {
	if s.MaxJitter == nil {
		return DefaultMaxJitter
	}
	return *s.MaxJitter
}

// Alerts is where failure alerts go. Set globally, it applies to every
// sync; a sync's own alerts: replaces the keys it sets.
type Alerts struct {
	// Webhook is the URL alerts are POSTed to as JSON with a
	// Slack-compatible text field. It usually holds a token: write it as a
	// reference, ${env:NAME} or ${file:PATH}.
	Webhook auth.Secret `yaml:"webhook"`
	// StaleAfter alerts when a sync has not succeeded for this long; 0
	// (the default) never does.
	StaleAfter time.Duration `yaml:"stale_after"`
}

// SyncAlerts returns the alerts of sync s: the global ones with the keys
// the sync sets replaced.
func (c *Config) SyncAlerts(s *Sync) Alerts {
	out := c.Alerts
	if s.Alerts != nil {
		if !s.Alerts.Webhook.IsZero() {
			out.Webhook = s.Alerts.Webhook
		}
		if s.Alerts.StaleAfter != 0 {
			out.StaleAfter = s.Alerts.StaleAfter
		}
	}
	return out
}

// Location returns the time zone the sync's schedule is read in: UTC
// unless timezone: names one.
func (s *Sync) Location() (*time.Location, error) {
	if s.Timezone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(s.Timezone)
}

// serve checks the serve and alerts sections and each sync's timezone
// and alerts.
func (l *loader) serve() {
	sv := l.cfg.Serve
	if sv.MaxConcurrentRuns < 0 {
		l.ps.addf(lineAt(l.serveNode, "max_concurrent_runs"), "serve max_concurrent_runs %d: must be at least 1 (default %d)", sv.MaxConcurrentRuns, DefaultMaxConcurrentRuns)
	}
	if c := sv.CatchUp; c != "" && c != CatchUpOnce && c != CatchUpNone {
		l.ps.addf(lineAt(l.serveNode, "catch_up"), "serve catch_up %q: use once (run a sync at start if a tick was missed) or none", c)
	}
	if j := sv.MaxJitter; j != nil && *j < 0 {
		l.ps.addf(lineAt(l.serveNode, "max_jitter"), "serve max_jitter %s: must be 0s (no jitter) or more, such as 30s", *j)
	}
	l.queue()
	l.alerts(&l.cfg.Alerts, l.alertsNode, "alerts")
	for i, s := range l.cfg.Syncs {
		if s == nil || l.syncsNode == nil || i >= len(l.syncsNode.Content) {
			continue
		}
		n := deref(l.syncsNode.Content[i])
		where := elemLabel("syncs", i, n)
		if _, err := s.Location(); err != nil {
			l.ps.addf(lineAt(n, "timezone"), "%s timezone %q: not a known time zone: use an IANA name such as Europe/Paris or America/New_York (empty means UTC)", where, s.Timezone)
		}
		if s.Alerts != nil {
			l.alerts(s.Alerts, child(n, "alerts"), join(where, "alerts"))
		}
	}
}

// queue resolves the job queue's DSN and checks its timeouts.
func (l *loader) queue() {
	q := &l.cfg.Serve.Queue
	n := child(l.serveNode, "queue")
	if q.JobTimeout < 0 {
		l.ps.addf(lineAt(n, "job_timeout"), "serve queue job_timeout %s: must be more than 0s, such as 2h (empty: the longest max_run_duration plus 1m)", q.JobTimeout)
	}
	if q.RescueAfter < 0 || (q.RescueAfter > 0 && q.JobTimeout > 0 && q.RescueAfter <= q.JobTimeout) {
		l.ps.addf(lineAt(n, "rescue_after"), "serve queue rescue_after %s: must be longer than job_timeout (%s), or empty for job_timeout plus 5m", q.RescueAfter, q.JobTimeout)
	}
	if !q.DSN.IsZero() && !l.skipSecrets {
		l.resolveSecrets(reflect.ValueOf(&q.DSN), "serve queue dsn", lineAt(n, "dsn"))
	}
}

// alerts resolves the webhook of one alerts section and checks its keys.
func (l *loader) alerts(a *Alerts, n *yaml.Node, where string) {
	if a.StaleAfter < 0 || (a.StaleAfter > 0 && a.StaleAfter < time.Minute) {
		l.ps.addf(lineAt(n, "stale_after"), "%s stale_after %s: must be at least 1m, such as 26h for a daily sync (0 turns the check off)", where, a.StaleAfter)
	}
	if a.Webhook.IsZero() || l.skipSecrets {
		return
	}
	before := len(l.ps.list)
	l.resolveSecrets(reflect.ValueOf(&a.Webhook), join(where, "webhook"), lineAt(n, "webhook"))
	if len(l.ps.list) > before {
		return
	}
	// The message never repeats the URL: it may carry a token.
	if u, err := url.Parse(a.Webhook.Reveal()); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		l.ps.addf(lineAt(n, "webhook"), "%s webhook: not an http(s) URL: give the full URL of the receiver, such as ${env:SLACK_WEBHOOK_URL}", where)
	}
}
