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
	t.Run("Members", func(t *testing.T) {
		t.Parallel()
		statetest.Members.Run(t, func(t *testing.T) state.MemberStore { return openStore(t) })
	})
	t.Run("AudienceIDs", func(t *testing.T) {
		t.Parallel()
		statetest.AudienceIDs.Run(t, func(t *testing.T) state.AudienceIDs { return openStore(t) })
	})
	t.Run("WriteAhead", func(t *testing.T) {
		t.Parallel()
		statetest.WriteAhead.Run(t, func(t *testing.T) statetest.WriteAheadStore { return openStore(t) })
	})
	t.Run("RunLog", func(t *testing.T) {
		t.Parallel()
		statetest.RunLog.Run(t, func(t *testing.T) state.RunLog { return openStore(t) })
	})
	t.Run("PendingRequests", func(t *testing.T) {
		t.Parallel()
		statetest.PendingRequests.Run(t, func(t *testing.T) state.PendingRequests { return openStore(t) })
	})
	t.Run("Locker", func(t *testing.T) {
		t.Parallel()
		statetest.Locker.Run(t, func(t *testing.T) state.Locker { return openStore(t) })
	})
	t.Run("Tokens", func(t *testing.T) {
		t.Parallel()
		statetest.Tokens.Run(t, func(t *testing.T) state.Tokens { return openStore(t) })
	})
	t.Run("Holdouts", func(t *testing.T) {
		t.Parallel()
		statetest.Holdouts.Run(t, func(t *testing.T) state.Holdouts { return openStore(t) })
	})
}
