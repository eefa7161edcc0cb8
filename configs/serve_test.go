package configs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/configs"
)

// The serve: and alerts: sections and a sync's timezone: and alerts:
// have defaults, merge per sync, and reject bad values with the line and
// what to write instead, never repeating the webhook URL.
func TestServeAndAlerts(t *testing.T) {
	t.Parallel()
	withSync := func(top, sync string) string {
		return top + strings.Replace(minimal, "  - name: s1\n", "  - name: s1\n"+sync, 1)
	}
	vars := env(map[string]string{"HOOK": "https://hooks.example.com/services/T1/B1/s3cr3t", "BAD_HOOK": "s3cr3t-not-a-url"})

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := configs.Parse([]byte(minimal), "test.yaml", t.TempDir(), testRegistry(), configs.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sv := cfg.Serve
		if sv.Concurrency() != configs.DefaultMaxConcurrentRuns || sv.CatchUpPolicy() != configs.CatchUpOnce || sv.JitterBound() != configs.DefaultMaxJitter {
			t.Errorf("serve defaults = %d, %q, %s", sv.Concurrency(), sv.CatchUpPolicy(), sv.JitterBound())
		}
		if loc, err := cfg.Syncs[0].Location(); err != nil || loc != time.UTC {
			t.Errorf("Location() = %v, %v; want UTC", loc, err)
		}
		if al := cfg.SyncAlerts(cfg.Syncs[0]); !al.Webhook.IsZero() || al.StaleAfter != 0 {
			t.Errorf("alerts = %+v, want none", al)
		}
	})

	t.Run("set and merged", func(t *testing.T) {
		t.Parallel()
		yaml := withSync("serve: {max_concurrent_runs: 2, catch_up: none, max_jitter: 0s}\nalerts: {webhook: \"${env:HOOK}\", stale_after: 26h}\n",
			"    schedule: \"30 9 * * 1-5\"\n    timezone: Europe/Paris\n    alerts: {stale_after: 3h}\n")
		cfg, err := configs.Parse([]byte(yaml), "test.yaml", t.TempDir(), testRegistry(), configs.LoadOptions{LookupEnv: vars})
		if err != nil {
			t.Fatal(err)
		}
		if sv := cfg.Serve; sv.Concurrency() != 2 || sv.CatchUpPolicy() != configs.CatchUpNone || sv.JitterBound() != 0 {
			t.Errorf("serve = %d, %q, %s", sv.Concurrency(), sv.CatchUpPolicy(), sv.JitterBound())
		}
		if loc, err := cfg.Syncs[0].Location(); err != nil || loc.String() != "Europe/Paris" {
			t.Errorf("Location() = %v, %v", loc, err)
		}
		al := cfg.SyncAlerts(cfg.Syncs[0])
		if al.Webhook.Reveal() != "https://hooks.example.com/services/T1/B1/s3cr3t" || al.StaleAfter != 3*time.Hour {
			t.Errorf("merged alerts: stale_after %s, webhook resolved %v", al.StaleAfter, al.Webhook.Reveal() != "")
		}
	})

	t.Run("queue", func(t *testing.T) {
		t.Parallel()
		qvars := env(map[string]string{"QUEUE_DSN": "postgres://q.example/queue", "STATE_DSN": "postgres://s.example/state"})
		cfg, err := configs.Parse([]byte(withSync("serve: {queue: {dsn: \"${env:QUEUE_DSN}\", job_timeout: 10m, rescue_after: 15m}}\n", "")),
			"test.yaml", t.TempDir(), testRegistry(), configs.LoadOptions{LookupEnv: qvars})
		if err != nil {
			t.Fatal(err)
		}
		if q := cfg.Serve.Queue; q.JobTimeout != 10*time.Minute || q.RescueAfter != 15*time.Minute || cfg.QueueDSN().Reveal() != "postgres://q.example/queue" {
			t.Errorf("queue = %s, %s, dsn resolved %v", q.JobTimeout, q.RescueAfter, cfg.QueueDSN().Reveal() != "")
		}
		// Without its own, the queue uses the state's database.
		cfg, err = configs.Parse([]byte(withSync("state: {dsn: \"${env:STATE_DSN}\"}\n", "")),
			"test.yaml", t.TempDir(), testRegistry(), configs.LoadOptions{LookupEnv: qvars})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.QueueDSN().Reveal() != "postgres://s.example/state" {
			t.Errorf("QueueDSN() without serve.queue.dsn: resolved %v, want state.dsn", cfg.QueueDSN().Reveal() != "")
		}
	})

	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"bad time zone", withSync("", "    schedule: \"@daily\"\n    timezone: Mars/Olympus\n"),
			`test.yaml:12: sync "s1" timezone "Mars/Olympus": not a known time zone: use an IANA name such as Europe/Paris or America/New_York (empty means UTC)`},
		{"bad schedule", withSync("", "    schedule: \"every day\"\n"),
			`test.yaml:11: sync "s1" schedule "every day"`},
		{"catch_up", withSync("serve: {catch_up: always}\n", ""),
			`test.yaml:1: serve catch_up "always": use once (run a sync at start if a tick was missed) or none`},
		{"max_concurrent_runs", withSync("serve: {max_concurrent_runs: -1}\n", ""),
			`test.yaml:1: serve max_concurrent_runs -1: must be at least 1 (default 4)`},
		{"max_jitter", withSync("serve: {max_jitter: -1s}\n", ""),
			`test.yaml:1: serve max_jitter -1s: must be 0s (no jitter) or more, such as 30s`},
		{"stale_after too short", withSync("alerts: {stale_after: 30s}\n", ""),
			`test.yaml:1: alerts stale_after 30s: must be at least 1m`},
		{"webhook not a URL", withSync("", "    alerts: {webhook: \"${env:BAD_HOOK}\"}\n"),
			`test.yaml:11: sync "s1" alerts webhook: not an http(s) URL`},
		{"unknown serve key", withSync("serve: {max_runs: 3}\n", ""),
			`test.yaml:1: unknown key "max_runs" in serve (known: max_concurrent_runs, catch_up, max_jitter, queue)`},
		{"queue rescue_after not after job_timeout", withSync("serve: {queue: {job_timeout: 10m, rescue_after: 5m}}\n", ""),
			`test.yaml:1: serve queue rescue_after 5m0s: must be longer than job_timeout (10m0s)`},
		{"queue job_timeout negative", withSync("serve: {queue: {job_timeout: -1s}}\n", ""),
			`test.yaml:1: serve queue job_timeout -1s: must be more than 0s`},
		{"queue dsn unresolved", withSync("serve: {queue: {dsn: \"${env:NO_SUCH_DSN}\"}}\n", ""),
			`test.yaml:1: serve queue dsn`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := configs.Parse([]byte(tc.yaml), "test.yaml", t.TempDir(), testRegistry(), configs.LoadOptions{LookupEnv: vars})
			var ce *configs.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *configs.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%s\ndoes not contain\n%s", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error repeats the webhook: %s", err)
			}
		})
	}
}
