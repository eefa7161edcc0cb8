package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/report"
)

// Alert is the JSON body POSTed to an alerts webhook. Text is what Slack
// (and the many receivers that copy its incoming-webhook format) shows;
// the other fields are for receivers that route or store alerts. It holds
// names, statuses and counts, never contact data.
type Alert struct {
	Text   string `json:"text"`
	Sync   string `json:"sync"`
	RunID  string `json:"run_id,omitempty"`
	Status string `json:"status"`
	// Reason is failed, partial, interrupted, aborted (the removal guard
	// stopped the run), stale (no success for alerts.stale_after) or test.
	Reason string       `json:"reason"`
	Counts *AlertCounts `json:"counts,omitempty"`
	// Error is the run's error, URLs redacted and cut to errorMax bytes.
	Error       string     `json:"error,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
}

// AlertCounts are a run's figures, summed over its destinations.
type AlertCounts struct {
	Read      int64 `json:"read"`
	Rejected  int64 `json:"rejected"`
	Added     int64 `json:"added"`
	Removed   int64 `json:"removed"`
	Refreshed int64 `json:"refreshed"`
	Failed    int64 `json:"failed"`
}

// errorMax bounds the error text an alert carries.
const errorMax = 500

// alertFor returns the alert a finished run calls for, or nil when it
// succeeded (or was only planned).
func alertFor(rep *report.Report) *Alert {
	var reason string
	switch rep.Status {
	case report.StatusFailed, report.StatusPartial, report.StatusInterrupted, report.StatusAborted:
		reason = string(rep.Status)
	default:
		return nil
	}
	c := &AlertCounts{Read: rep.Source.Read}
	for _, n := range rep.Source.Rejected {
		c.Rejected += n
	}
	for _, d := range rep.Destinations {
		c.Added += d.Applied.Added
		c.Removed += d.Applied.Removed
		c.Refreshed += d.Applied.Refreshed
		c.Failed += d.Applied.Failed
	}
	a := &Alert{Sync: rep.Sync, RunID: rep.RunID, Status: string(rep.Status), Reason: reason, Counts: c, Error: summarize(rep.Error)}
	what := map[string]string{
		"failed":      "failed",
		"partial":     "finished partially (some members did not go in; the next run sends them)",
		"interrupted": "was interrupted (the next run carries on)",
		"aborted":     "was stopped by the removal guard (run it with --force if the removals are wanted)",
	}[reason]
	a.Text = fmt.Sprintf("audiencesync: sync %s %s. Run %s: %d read, %d rejected, %d added, %d removed, %d failed.",
		rep.Sync, what, rep.RunID, c.Read, c.Rejected, c.Added, c.Removed, c.Failed)
	if a.Error != "" {
		a.Text += " Error: " + a.Error
	}
	return a
}

// staleAlert is the alert for a sync without a success for too long.
func staleAlert(sync string, last time.Time, after time.Duration) *Alert {
	a := &Alert{Sync: sync, Status: "stale", Reason: "stale"}
	since := "since the daemon started"
	if !last.IsZero() {
		a.LastSuccess = &last
		since = "since " + last.UTC().Format(time.RFC3339)
	}
	a.Text = fmt.Sprintf("audiencesync: sync %s has not succeeded %s (alerts.stale_after is %s): see `audiencesync runs --sync %s`.",
		sync, since, after, sync)
	return a
}

// TestAlert is the sample `audiencesync alert test` sends.
func TestAlert(sync string) *Alert {
	return &Alert{Sync: sync, Status: "test", Reason: "test", Counts: &AlertCounts{},
		Text: fmt.Sprintf("audiencesync: test alert for sync %s. If you read this, failure alerts reach you.", sync)}
}

func summarize(s string) string {
	s = auth.RedactText(s)
	if len(s) <= errorMax {
		return s
	}
	cut := errorMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Sender posts alerts to webhooks, retrying with back-off.
type Sender struct {
	// Client sends the requests; nil means a client with a 10s timeout.
	Client *http.Client
	// Attempts is how many times a failing post is tried (default 4).
	Attempts int
	// Backoff is the wait before the second attempt, doubled for each
	// next one (default 1s).
	Backoff time.Duration
	// Clock times the back-off; nil means the real clock.
	Clock clockwork.Clock
	// Logger logs retries; nil discards them.
	Logger *zap.Logger
}

// Send posts a to the webhook at rawURL. The URL is never written to a
// log line or an error, since it usually carries a token: messages name
// its host only.
func (s *Sender) Send(ctx context.Context, rawURL string, a *Alert) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return errors.New("send alert: the webhook is not a URL: check alerts.webhook")
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	client, clock, log := s.Client, s.Clock, s.Logger
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if log == nil {
		log = zap.NewNop()
	}
	attempts, wait := max(s.Attempts, 1), s.Backoff
	if s.Attempts == 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = time.Second
	}
	for i := 1; ; i++ {
		err = post(ctx, client, rawURL, body)
		if err == nil {
			return nil
		}
		var perm permanent
		if i >= attempts || errors.As(err, &perm) || ctx.Err() != nil {
			return fmt.Errorf("send alert for sync %s to webhook at %s (attempt %d of %d): %w", a.Sync, u.Host, i, attempts, err)
		}
		log.Warn("send alert: trying again", zap.String("sync", a.Sync), zap.String("webhook_host", u.Host),
			zap.Int("attempt", i), zap.Duration("wait", wait), zap.Error(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("send alert for sync %s to webhook at %s: %w", a.Sync, u.Host, ctx.Err())
		case <-clock.After(wait):
		}
		wait *= 2
	}
}

// permanent is an answer that retrying will not change (a 4xx other than
// 408 and 429).
type permanent struct{ code int }

func (p permanent) Error() string {
	return fmt.Sprintf("the receiver answered HTTP %d: check the webhook URL and the receiver's settings", p.code)
}

func post(ctx context.Context, client *http.Client, rawURL string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("build the request: the webhook is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("the receiver answered HTTP %d", c)
	default:
		return permanent{code: c}
	}
}
