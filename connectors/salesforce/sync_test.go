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
	"github.com/audiencesync/audiencesync/connectors/connectortest"
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

// runSpring runs the spring sync of svc once.
func runSpring(svc *syncs.Service) func(t *testing.T) (*report.Report, error) {
	return func(t *testing.T) (*report.Report, error) {
		return svc.Run(t.Context(), "spring", syncs.RunOptions{})
	}
}

// TestFailurePartWayRemovesNothing runs a sync once, then again with the
// read failing part-way in each way Salesforce can fail, by REST and by
// Bulk: the run fails, says what to do, and removes no one; a third run
// with Salesforce well finds nothing to change.
func TestFailurePartWayRemovesNothing(t *testing.T) {
	t.Parallel()
	// failure is a case: faults for the replica, or intercept answering
	// for it during the failing run; bulk reads by Bulk 2.0.
	failure := func(name string, opts replica.Options, bulk bool, faults string, intercept func(w http.ResponseWriter, r *http.Request) bool, want string) connectortest.ReadFailure {
		return connectortest.ReadFailure{Name: name, Want: want, Setup: func(t *testing.T) connectortest.SyncRun {
			b := setup(t, opts)
			threshold := 1000
			if bulk {
				threshold = 1
			}
			return connectortest.SyncRun{
				Run: runSpring(openService(t, b, threshold)),
				Break: func(t *testing.T) {
					require.NoError(t, b.faults.Load(faults))
					b.http.setIntercept(intercept)
				},
				Mend: func(t *testing.T) {
					require.NoError(t, b.faults.Load(""))
					b.http.setIntercept(nil)
					if opts.DailyLimit > 0 {
						require.NoError(t, b.clock.Sleep(t.Context(), 24*time.Hour)) // the limit resets
					}
				},
			}
		}}
	}
	none := replica.Options{}
	connectortest.RunReadFailures(t, connectortest.ReadFailures{Added: springMembers, Cases: []connectortest.ReadFailure{
		failure("server errors after retries", none, false, "salesforce.query:503", nil, "run again later"),
		failure("connection resets", none, false, "salesforce.query:reset", nil, "no answer from Salesforce"),
		failure("bulk results reset", none, true, "salesforce.results:reset", nil, "no answer from Salesforce"),
		failure("bulk job failed", none, true, "", func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "poll" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"750x","state":"Failed","errorMessage":"InternalServerError","apiVersion":62.0}`))
			return true
		}, "the job failed"),
		failure("session revoked", none, false, "salesforce.query:401", nil, "refused again after authenticating anew"),
		failure("daily limit", replica.Options{DailyLimit: 4}, false, "", nil, "REQUEST_LIMIT_EXCEEDED"),
		failure("campaign deleted between runs", none, false, "", func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "campaign" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"totalSize":0,"done":true,"records":[]}`))
			return true
		}, "check source.audience"),
		failure("fewer records than counted", none, false, "", func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "count" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"totalSize":40,"done":true,"records":[]}`))
			return true
		}, "declared 40 records but yielded 29"),
	}})
}

// TestEmptiedCampaignIsRefusedByTheGuard reads the empty campaign after a
// full one: the read is complete (the count is 0), and the removal guard
// stops the run before anything is removed.
func TestEmptiedCampaignIsRefusedByTheGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	connectortest.RunEmptiedSource(t, runSpring(openService(t, b, 1000)), springMembers, func(t *testing.T) {
		// Every member leaves: the count query answers 0 and so does the read.
		b.http.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if q := r.URL.Query().Get("q"); !strings.Contains(q, "FROM CampaignMember") {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"totalSize":0,"done":true,"records":[]}`))
			return true
		})
	})
}
