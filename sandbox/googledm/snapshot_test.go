package googledm

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/google"
)

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{PollsBeforeDone: 1})
	list := b.newList(t, "snapshot")
	r := b.call(t, "POST", "/v1/audienceMembers:ingest", ingestBody(list, emailMember("a@example.com")), google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	reqID := r.body["requestId"].(string)
	snap := b.srv.Snapshot()

	fresh := New(Options{PollsBeforeDone: 1})
	require.NoError(t, fresh.Restore(snap))
	require.Equal(t, snap, fresh.Snapshot())
	require.Equal(t, b.srv.State(true), fresh.State(true))
	require.NotEqual(t, list, fresh.CreateList(account, "next"), "ids are not reused")

	t.Run("inconsistent snapshots change nothing", func(t *testing.T) {
		t.Parallel()
		for name, bad := range map[string]func(*Snapshot){
			"duplicate list":     func(s *Snapshot) { s.UserLists = append(s.UserLists, s.UserLists[0]) },
			"list without id":    func(s *Snapshot) { s.UserLists[0].Resource = json.RawMessage(`{"displayName":"x"}`) },
			"unknown field":      func(s *Snapshot) { s.UserLists[0].Resource = json.RawMessage(`{"id":"1","owner":"x"}`) },
			"unknown kind":       func(s *Snapshot) { s.Requests[0].Kind = "upsert" },
			"duplicate request":  func(s *Snapshot) { s.Requests = append(s.Requests, s.Requests[0]) },
			"request without id": func(s *Snapshot) { s.Requests[0].ID = "" },
		} {
			in := b.srv.Snapshot()
			bad(&in)
			target := New(Options{})
			target.CreateList(account, "untouched")
			before := target.Snapshot()
			require.Error(t, target.Restore(in), name)
			require.Equal(t, before, target.Snapshot(), name)
		}
	})

	// The restored request answers as the original would.
	ts := setup(t, Options{PollsBeforeDone: 1})
	require.NoError(t, ts.srv.Restore(snap))
	r = ts.call(t, "GET", "/v1/requestStatus:retrieve?requestId="+reqID, nil, google.ReplicaToken)
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, "PROCESSING", r.body["requestStatusPerDestination"].([]any)[0].(map[string]any)["requestStatus"])
	r = ts.call(t, "GET", "/v1/requestStatus:retrieve?requestId="+reqID, nil, google.ReplicaToken)
	require.Equal(t, "SUCCESS", r.body["requestStatusPerDestination"].([]any)[0].(map[string]any)["requestStatus"])
}
