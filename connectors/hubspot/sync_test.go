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

// TestEmptiedListIsRefusedByTheGuard empties the list in HubSpot: the read
// is complete (the list's size is 0), and the removal guard stops the run
// before anything is removed.
func TestEmptiedListIsRefusedByTheGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, replica.Options{})
	svc := openService(t, b)
	rep, err := svc.Run(t.Context(), "newsletter", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(40), rep.Destinations[0].Applied.Added)

	members := `["` + strings.Join(b.rep.Members(replicacreds.NewsletterID), `","`) + `"]`
	require.Equal(t, http.StatusOK, b.call(t, http.MethodPut, "/crm/v3/lists/"+replicacreds.NewsletterID+"/memberships/remove", members))
	rep, err = svc.Run(t.Context(), "newsletter", syncs.RunOptions{})
	require.Error(t, err)
	require.Equal(t, report.StatusAborted, rep.Status)
	require.Equal(t, int64(0), rep.Source.Read)
	require.Zero(t, rep.Destinations[0].Applied.Removed)
}

// TestFailurePartWayRemovesNothing runs a sync once, then again with the
// read failing part-way in each way HubSpot can fail: the run fails, says
// what to do, and removes no one; a third run with HubSpot well finds
// nothing to change.
func TestFailurePartWayRemovesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   replica.Options
		faults string
		// intercept answers for the replica from the nth request of the
		// failing run on.
		intercept func(w http.ResponseWriter, r *http.Request) bool
		want      string
	}{
		{name: "server errors after retries", faults: "hubspot.batchread:503", want: "run again later"},
		{name: "connection resets", faults: "hubspot.batchread:reset", want: "no answer from HubSpot"},
		{name: "token revoked", faults: "hubspot:401", want: "check access_token"},
		{name: "rolling limit that never lifts", faults: "hubspot.memberships:429", want: "kept answering 429"},
		{name: "daily limit", opts: replica.Options{DailyLimit: 5}, want: "daily API request limit"},
		{name: "list deleted between runs", intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "lists" {
				return false
			}
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status":"error","message":"List does not exist","category":"OBJECT_NOT_FOUND"}`))
			return true
		}, want: "check source.audience"},
		{name: "list shorter than its size", intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if endpointOf(r) != "lists" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"list":{"listId":"3","name":"Newsletter subscribers","objectTypeId":"0-1","processingType":"MANUAL","size":60}}`))
			return true
		}, want: "declared 60 records but yielded 41"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.opts)
			svc := openService(t, b)
			rep, err := svc.Run(t.Context(), "newsletter", syncs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, rep.Status)
			require.Equal(t, int64(40), rep.Destinations[0].Applied.Added)

			require.NoError(t, b.faults.Load(tc.faults))
			if tc.intercept != nil {
				b.http.intercept = func(w http.ResponseWriter, r *http.Request, _ int) bool { return tc.intercept(w, r) }
			}
			rep, err = svc.Run(t.Context(), "newsletter", syncs.RunOptions{})
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

			require.NoError(t, b.faults.Load(""))
			b.http.intercept = nil
			if tc.opts.DailyLimit > 0 {
				require.NoError(t, b.clock.Sleep(t.Context(), 24*time.Hour)) // the limit resets
			}
			rep, err = svc.Run(t.Context(), "newsletter", syncs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, rep.Status)
			require.Zero(t, rep.Destinations[0].Applied.Added+rep.Destinations[0].Applied.Removed, "nothing changed in HubSpot")
		})
	}
}
