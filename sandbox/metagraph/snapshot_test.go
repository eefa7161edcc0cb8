package metagraph

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/meta"
)

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	id := b.srv.CreateAudience(adAccount, "snapshot")
	p := emails("a", "b")
	p["session"] = map[string]any{"session_id": 77, "batch_seq": 1, "last_batch_flag": true}
	_, err := s.Post("/"+id+"/users", p)
	require.NoError(t, err)
	replace := emails("c")
	replace["session"] = map[string]any{"session_id": 9001, "batch_seq": 1, "last_batch_flag": false}
	_, err = s.Post("/"+id+"/usersreplace", replace)
	require.NoError(t, err)
	snap := b.srv.Snapshot()
	require.NotNil(t, snap.Audiences[0].Replace)
	require.Equal(t, SessionSnapshot{Finished: true, FinalSeq: 1}, snap.Audiences[0].Sessions["77"])

	restored := setup(t, Options{})
	require.NoError(t, restored.srv.Restore(snap))
	require.Equal(t, snap, restored.srv.Snapshot())
	require.NotEqual(t, id, restored.srv.CreateAudience(adAccount, "next"), "ids are not reused")

	// The restored sessions behave as the originals: the finished /users
	// session takes no more batches, the replace session goes on at 2.
	s = restored.session(meta.ReplicaToken)
	replace["session"] = map[string]any{"session_id": 9001, "batch_seq": 2, "last_batch_flag": true}
	_, err = s.Post("/"+id+"/usersreplace", replace)
	require.NoError(t, err)
	require.Equal(t, []string{sha("c")}, restored.srv.Members(id))
	late := emails("late")
	late["session"] = map[string]any{"session_id": 77, "batch_seq": 2, "last_batch_flag": false}
	_, err = s.Post("/"+id+"/users", late)
	require.Equal(t, 100, graphErr(t, err).Code)

	for name, bad := range map[string]func(*Snapshot){
		"duplicate audience": func(s *Snapshot) { s.Audiences = append(s.Audiences, s.Audiences[0]) },
		"non-numeric id":     func(s *Snapshot) { s.Audiences[0].ID = "abc" },
		"replace at seq 0":   func(s *Snapshot) { s.Audiences[0].Replace.NextSeq = 0 },
	} {
		in := b.srv.Snapshot()
		bad(&in)
		target := New(Options{})
		target.CreateAudience(adAccount, "untouched")
		before := target.Snapshot()
		require.Error(t, target.Restore(in), name)
		require.Equal(t, before, target.Snapshot(), name)
	}
}
