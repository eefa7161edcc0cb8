package salesforce_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/file"
	"github.com/audiencesync/audiencesync/connectors/salesforce"
	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	"github.com/audiencesync/audiencesync/report"
	replica "github.com/audiencesync/audiencesync/sandbox/salesforce"
	"github.com/audiencesync/audiencesync/syncs"
)

const syncConfig = `state:
  path: ./state.db
connections:
  crm:
    type: salesforce
    endpoint: %s
    client_id: %s
    client_secret: %s
    bulk_threshold: %d
  exports:
    type: file
    dir: ./out
    formats: [google]
syncs:
  - name: spring
    source:
      connection: crm
      audience: Spring launch
      fields: {email: Email, phone: Phone}
    destinations:
      - connection: exports
        consent: {ad_user_data: granted, ad_personalization: granted}
`

// openService opens the service layer on a config whose sync reads the
// replica's Spring campaign (client credentials flow) into a file
// destination; bulkThreshold picks the REST or Bulk path.
func openService(t *testing.T, b *bundle, bulkThreshold int) *syncs.Service {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "audiencesync.yaml")
	cfg := fmt.Appendf(nil, syncConfig, b.url, replicacreds.ClientID, replicacreds.ClientSecret, bulkThreshold)
	require.NoError(t, os.WriteFile(path, cfg, 0o600))
	reg := &connectors.Registry{}
	reg.Register(salesforce.SpecWithSleep(b.clock.Sleep))
	reg.Register(file.Spec())
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: path, Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

// TestFailurePartWayRemovesNothing runs a sync once, then again with the
// read failing part-way in each way Salesforce can fail, by REST and by
// Bulk: the run fails, says what to do, and removes no one; a third run
// with Salesforce well finds nothing to change.
func TestFailurePartWayRemovesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      replica.Options
		bulk      bool
		faults    string
		intercept func(w http.ResponseWriter, r *http.Request) bool
		want      string
	}{
		{name: "server errors after retries", faults: "salesforce.query:503", want: "run again later"},
		{name: "connection resets", faults: "salesforce.query:reset", want: "no answer from Salesforce"},
		{name: "bulk results reset", bulk: true, faults: "salesforce.results:reset", want: "no answer from Salesforce"},
		{name: "bulk job failed", bulk: true, intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "poll" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"750x","state":"Failed","errorMessage":"InternalServerError","apiVersion":62.0}`))
			return true
		}, want: "the job failed"},
		{name: "session revoked", faults: "salesforce.query:401", want: "refused again after authenticating anew"},
		{name: "daily limit", opts: replica.Options{DailyLimit: 4}, want: "REQUEST_LIMIT_EXCEEDED"},
		{name: "campaign deleted between runs", intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "campaign" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"totalSize":0,"done":true,"records":[]}`))
			return true
		}, want: "check source.audience"},
		{name: "fewer records than counted", intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "count" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"totalSize":40,"done":true,"records":[]}`))
			return true
		}, want: "declared 40 records but yielded 29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.opts)
			threshold := 1000
			if tc.bulk {
				threshold = 1
			}
			svc := openService(t, b, threshold)
			rep, err := svc.Run(t.Context(), "spring", syncs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, rep.Status)
			require.Equal(t, int64(springMembers), rep.Destinations[0].Applied.Added)

			require.NoError(t, b.faults.Load(tc.faults))
			b.http.setIntercept(tc.intercept)
			rep, err = svc.Run(t.Context(), "spring", syncs.RunOptions{})
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			require.NotNil(t, rep, "a failed run still has a report")
			require.Equal(t, report.StatusFailed, rep.Status)
			msg += " " + rep.Error
			require.Contains(t, msg, tc.want)
			require.Zero(t, rep.Destinations[0].Planned.Remove, "a failed read plans no removal")
			require.Zero(t, rep.Destinations[0].Applied.Removed)
			require.NotContains(t, msg, "@example.com", "no contact data in errors")

			require.NoError(t, b.faults.Load(""))
			b.http.setIntercept(nil)
			if tc.opts.DailyLimit > 0 {
				require.NoError(t, b.clock.Sleep(t.Context(), 24*time.Hour)) // the limit resets
			}
			rep, err = svc.Run(t.Context(), "spring", syncs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, rep.Status)
			require.Zero(t, rep.Destinations[0].Applied.Added+rep.Destinations[0].Applied.Removed, "nothing changed in Salesforce")
		})
	}
}

// TestEmptiedCampaignIsRefusedByTheGuard reads the empty campaign after a
// full one: the read is complete (the count is 0), and the removal guard
// stops the run before anything is removed.
func TestEmptiedCampaignIsRefusedByTheGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	svc := openService(t, b, 1000)
	rep, err := svc.Run(t.Context(), "spring", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(springMembers), rep.Destinations[0].Applied.Added)

	// Every member leaves: the count query answers 0 and so does the read.
	b.http.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if q := r.URL.Query().Get("q"); !strings.Contains(q, "FROM CampaignMember") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"totalSize":0,"done":true,"records":[]}`))
		return true
	})
	rep, err = svc.Run(t.Context(), "spring", syncs.RunOptions{})
	require.Error(t, err)
	require.Equal(t, report.StatusAborted, rep.Status)
	require.Zero(t, rep.Destinations[0].Applied.Removed)
}
