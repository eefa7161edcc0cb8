package xads

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/x"
)

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	c := b.good()
	id := b.create(t, c, "snapshot")
	r := do(t, c, "POST", b.accountURL("/custom_audiences/"+id+"/users"), "application/json",
		ops(update(map[string]any{"email": []string{sha("a@example.com")}})))
	require.Equal(t, 200, r.status, r.body)
	snap := b.srv.Snapshot()

	restored := New(Options{})
	require.NoError(t, restored.Restore(snap))
	require.Equal(t, snap, restored.Snapshot())
	require.Equal(t, []string{sha("a@example.com")}, restored.Members(id))
	require.NotEqual(t, id, restored.CreateAudience(x.ReplicaAccount, "next"), "ids are not reused")

	for name, bad := range map[string]func(*Snapshot){
		"duplicate audience": func(s *Snapshot) { s.CustomAudiences = append(s.CustomAudiences, s.CustomAudiences[0]) },
		"bad id":             func(s *Snapshot) { s.CustomAudiences[0].ID = "Not/An/Id" },
		"no account":         func(s *Snapshot) { s.CustomAudiences[0].Account = "" },
	} {
		in := b.srv.Snapshot()
		bad(&in)
		target := New(Options{})
		target.CreateAudience(x.ReplicaAccount, "untouched")
		before := target.Snapshot()
		require.Error(t, target.Restore(in), name)
		require.Equal(t, before, target.Snapshot(), name)
	}
}
