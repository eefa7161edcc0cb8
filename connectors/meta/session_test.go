package meta_test

import (
	"errors"
	"iter"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
)

func emails(names ...string) iter.Seq2[connectors.Upload, error] {
	return func(yield func(connectors.Upload, error) bool) {
		for _, n := range names {
			if !yield(emailMember(n+"@example.com"), nil) {
				return
			}
		}
	}
}

// TestReplaceInSessionResumes: a replace session an earlier process left
// open is finished by the next one, from the recorded batch on, instead of
// blocking the audience; a recorded session Meta no longer has open gives
// way to a new one.
func TestReplaceInSessionResumes(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	aud := b.ensure(b.destRows(2), "resumed")
	var recorded []connectors.ReplaceSession
	stopAt2 := func(s connectors.ReplaceSession) error {
		recorded = append(recorded, s)
		if s.Batch == 2 {
			return errors.New("the process died")
		}
		return nil
	}
	// Batch 1 of three goes up; the session stays open.
	_, _, err := b.destRows(2).ReplaceInSession(t.Context(), aud, 6, emails("a", "b", "c", "d", "e", "f"), connectors.ReplaceSession{}, stopAt2)
	require.Error(t, err)
	require.Len(t, recorded, 2)
	open := recorded[1]
	require.Equal(t, 2, open.Batch)
	require.NotEmpty(t, b.calls("usersreplace"))
	_, err = b.destRows(2).Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{emailMember("z@example.com")}})
	require.ErrorContains(t, err, "2650", "the open session blocks the audience")

	// A new process resumes it with a new membership.
	before := len(b.calls("usersreplace"))
	recorded = nil
	res, resumed, err := b.destRows(2).ReplaceInSession(t.Context(), aud, 3, emails("c", "x", "y"), open,
		func(s connectors.ReplaceSession) error { recorded = append(recorded, s); return nil })
	require.NoError(t, err)
	require.True(t, resumed)
	require.Equal(t, open.ID, res.RequestID)
	require.Equal(t, []connectors.ReplaceSession{{ID: open.ID, Batch: 2}, {ID: open.ID, Batch: 3}}, recorded)
	for _, r := range b.calls("usersreplace")[before:] {
		require.Equal(t, open.ID, strconv.FormatUint(sessionOf(t, r).SessionID, 10))
	}
	// What batch 1 staged (a, b) stays; the engine removes it if unwanted.
	want := []string{sha("a@example.com"), sha("b@example.com"), sha("c@example.com"), sha("x@example.com"), sha("y@example.com")}
	require.ElementsMatch(t, want, b.sb.Members("meta", aud.ID))

	// The session is finished: resuming it again opens a new one.
	recorded = nil
	_, resumed, err = b.destRows(2).ReplaceInSession(t.Context(), aud, 1, emails("q"), open,
		func(s connectors.ReplaceSession) error { recorded = append(recorded, s); return nil })
	require.NoError(t, err)
	require.False(t, resumed)
	require.Len(t, recorded, 1)
	require.NotEqual(t, open.ID, recorded[0].ID)
	require.Equal(t, 1, recorded[0].Batch)
	require.Equal(t, []string{sha("q@example.com")}, b.sb.Members("meta", aud.ID))
}
