package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/internal/pgtest"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/postgres"
	"github.com/audiencesync/audiencesync/state/statetest"
)

// database returns a new database of t's own (see pgtest.Database).
func database(t testing.TB) string {
	t.Helper()
	return pgtest.Database(t, postgres.PGServer())
}

// openStore opens a store on a new database of its own.
func openStore(t testing.TB) *postgres.Store {
	t.Helper()
	return openOn(t, database(t))
}

// openOn opens a store on dsn, closed when t ends.
func openOn(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	statetest.Run(t, func(t *testing.T) state.Store { return openStore(t) })
}

// TestPartSuites runs each part's suite alone, as a backend built part by
// part would.
func TestPartSuites(t *testing.T) {
	t.Parallel()
	for name, run := range map[string]func(t *testing.T){
		"Members":         func(t *testing.T) { statetest.Members.Run(t, open[state.MemberStore]) },
		"AudienceIDs":     func(t *testing.T) { statetest.AudienceIDs.Run(t, open[state.AudienceIDs]) },
		"WriteAhead":      func(t *testing.T) { statetest.WriteAhead.Run(t, open[statetest.WriteAheadStore]) },
		"RunLog":          func(t *testing.T) { statetest.RunLog.Run(t, open[state.RunLog]) },
		"PendingRequests": func(t *testing.T) { statetest.PendingRequests.Run(t, open[state.PendingRequests]) },
		"Locker":          func(t *testing.T) { statetest.Locker.Run(t, open[state.Locker]) },
		"Tokens":          func(t *testing.T) { statetest.Tokens.Run(t, open[state.Tokens]) },
		"Holdouts":        func(t *testing.T) { statetest.Holdouts.Run(t, open[state.Holdouts]) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t)
		})
	}
}

// open opens a store on a database of its own, as the part S.
func open[S any](t *testing.T) S { return any(openStore(t)).(S) }
