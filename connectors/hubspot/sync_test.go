package hubspot_test

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
	"github.com/audiencesync/audiencesync/connectors/hubspot"
	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/report"
	replica "github.com/audiencesync/audiencesync/sandbox/hubspot"
	"github.com/audiencesync/audiencesync/syncs"
)

const syncConfig = `state:
  path: ./state.db
connections:
  crm:
    type: hubspot
    endpoint: %s
    access_token: %s
  exports:
    type: file
    dir: ./out
    formats: [google]
syncs:
  - name: newsletter
    source:
      connection: crm
      audience: Newsletter subscribers
      fields: {email: email, phone: phone}
    destinations:
      - connection: exports
        consent: {ad_user_data: granted, ad_personalization: granted}
`

// openService opens the service layer on a config whose sync reads the
// replica's newsletter list into a file destination.
func openService(t *testing.T, b *bundle) *syncs.Service {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, syncConfig, b.url, replicacreds.AccessToken), 0o600))
	reg := &connectors.Registry{}
	reg.Register(hubspot.SpecWithSleep(b.clock.Sleep))
	reg.Register(file.Spec())
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: path, Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

// runNewsletter runs the newsletter sync of svc once.
func runNewsletter(svc *syncs.Service) func(t *testing.T) (*report.Report, error) {
	return func(t *testing.T) (*report.Report, error) {
		return svc.Run(t.Context(), "newsletter", syncs.RunOptions{})
	}
}

// TestEmptiedListIsRefusedByTheGuard empties the list in HubSpot: the read
// is complete (the list's size is 0), and the removal guard stops the run
// before anything is removed.
func TestEmptiedListIsRefusedByTheGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	connectortest.RunEmptiedSource(t, runNewsletter(openService(t, b)), 40, func(t *testing.T) {
		members := `["` + strings.Join(b.rep.Members(replicacreds.NewsletterID), `","`) + `"]`
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPut, "/crm/v3/lists/"+replicacreds.NewsletterID+"/memberships/remove", members))
	})
}

// TestFailurePartWayRemovesNothing runs a sync once, then again with the
// read failing part-way in each way HubSpot can fail: the run fails, says
// what to do, and removes no one; a third run with HubSpot well finds
// nothing to change.
func TestFailurePartWayRemovesNothing(t *testing.T) {
	t.Parallel()
	// failure is a case: faults for the replica, or intercept answering
	// for it during the failing run.
	failure := func(name string, opts replica.Options, faults string, intercept func(w http.ResponseWriter, r *http.Request) bool, want string) connectortest.ReadFailure {
		return connectortest.ReadFailure{Name: name, Want: want, Setup: func(t *testing.T) connectortest.SyncRun {
			b := setup(t, opts)
			return connectortest.SyncRun{
				Run: runNewsletter(openService(t, b)),
				Break: func(t *testing.T) {
					require.NoError(t, b.faults.Load(faults))
					if intercept != nil {
						b.http.intercept = func(w http.ResponseWriter, r *http.Request, _ int) bool { return intercept(w, r) }
					}
				},
				Mend: func(t *testing.T) {
					require.NoError(t, b.faults.Load(""))
					b.http.intercept = nil
					if opts.DailyLimit > 0 {
						require.NoError(t, b.clock.Sleep(t.Context(), 24*time.Hour)) // the limit resets
					}
				},
			}
		}}
	}
	connectortest.RunReadFailures(t, connectortest.ReadFailures{Added: 40, Cases: []connectortest.ReadFailure{
		failure("server errors after retries", replica.Options{}, "hubspot.batchread:503", nil, "run again later"),
		failure("connection resets", replica.Options{}, "hubspot.batchread:reset", nil, "no answer from HubSpot"),
		failure("token revoked", replica.Options{}, "hubspot:401", nil, "check access_token"),
		failure("rolling limit that never lifts", replica.Options{}, "hubspot.memberships:429", nil, "kept answering 429"),
		failure("daily limit", replica.Options{DailyLimit: 5}, "", nil, "daily API request limit"),
		failure("list deleted between runs", replica.Options{}, "", func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "lists" {
				return false
			}
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status":"error","message":"List does not exist","category":"OBJECT_NOT_FOUND"}`))
			return true
		}, "check source.audience"),
		failure("list shorter than its size", replica.Options{}, "", func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "lists" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"list":{"listId":"3","name":"Newsletter subscribers","objectTypeId":"0-1","processingType":"MANUAL","size":60}}`))
			return true
		}, "declared 60 records but yielded 41"),
	}})
}
