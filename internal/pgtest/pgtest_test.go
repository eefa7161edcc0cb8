package pgtest_test

import (
	"database/sql"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/internal/pgtest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// TestDatabasesAreSeparate creates two databases: each is empty and
// writable, and a table made in one is absent from the other.
func TestDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := pgtest.Database(t, pg), pgtest.Database(t, pg)
	require.NotEqual(t, a, b)
	dbA, err := sql.Open("pgx", a)
	require.NoError(t, err)
	defer dbA.Close()
	dbB, err := sql.Open("pgx", b)
	require.NoError(t, err)
	defer dbB.Close()
	_, err = dbA.ExecContext(t.Context(), "CREATE TABLE t (x int)")
	require.NoError(t, err)
	var n int
	require.NoError(t, dbB.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_tables WHERE tablename = 't'").Scan(&n))
	require.Zero(t, n)
	var user string
	require.NoError(t, dbA.QueryRowContext(t.Context(), "SELECT current_user").Scan(&user))
	require.Equal(t, "postgres", user)
}

// TestStopRemovesTheCluster starts a second server, stops it twice, and
// finds its directory gone.
func TestStopRemovesTheCluster(t *testing.T) {
	t.Parallel()
	if pg == nil {
		pgtest.Database(t, pg) // skips, or fails under CI
	}
	s, err := pgtest.Start()
	require.NoError(t, err)
	dir := s.Dir()
	require.DirExists(t, dir)
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "a second Stop is harmless")
	require.NoDirExists(t, dir)
}
