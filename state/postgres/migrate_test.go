package postgres

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/internal/pgtest"
	"github.com/audiencesync/audiencesync/state"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

var testScope = state.Scope{Sync: "buyers", Destination: "google"}

func openSteps(t *testing.T, dsn string, steps []migration) *Store {
	t.Helper()
	s, err := open(t.Context(), dsn, Options{}, steps)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// migrationRows returns schema_migrations as version → applied_at.
func migrationRows(t *testing.T, s *Store) map[int]time.Time {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT version, applied_at FROM schema_migrations`)
	require.NoError(t, err)
	out := map[int]time.Time{}
	var (
		v  int
		at time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&v, &at}, func() error { out[v] = at; return nil })
	require.NoError(t, err)
	return out
}

// TestMigrateFromVersion1 opens a database at schema version 1 holding
// members and a run, opens it again with every step, and finds the data
// kept, the later tables usable and each version recorded once; opening
// it a third time changes nothing.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Database(t, pg)
	ctx := t.Context()
	old := openSteps(t, dsn, migrations[:1])
	v, err := old.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v)
	key := audience.KeyFromSource("contact-1")
	require.NoError(t, old.Commit(ctx, testScope, []state.Change{{Key: key, LastSent: time.Unix(1700000000, 0)}}))
	require.NoError(t, old.BeginRun(ctx, state.Run{ID: "run-1", Sync: "buyers", Status: "running", Started: time.Unix(1700000000, 0)}))
	_, err = old.ListTokens(ctx)
	require.Error(t, err, "version 1 has no token table")
	require.NoError(t, old.Close())

	s := openSteps(t, dsn, migrations)
	v, err = s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, len(migrations), v)
	n, err := s.Count(ctx, testScope)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "members survive the upgrade")
	r, err := s.Run(ctx, "run-1")
	require.NoError(t, err)
	require.Equal(t, "buyers", r.Sync)
	require.NoError(t, s.CreateToken(ctx, state.Token{ID: "t1", Name: "ci", Role: "viewer", Hash: []byte{1}, Created: time.Now()}))
	require.NoError(t, s.Check(ctx))
	applied := migrationRows(t, s)
	require.Len(t, applied, len(migrations))
	require.NoError(t, s.Close())

	again := openSteps(t, dsn, migrations)
	require.Equal(t, applied, migrationRows(t, again), "reopening a current database is a no-op")
}

// TestConcurrentOpenMigratesOnce opens one new database from several
// stores at once: each opens, and every version is applied once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Database(t, pg)
	const nodes = 4
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = open(t.Context(), dsn, Options{}, migrations) })
	}
	wg.Wait()
	for i := range nodes {
		require.NoError(t, errs[i])
		defer stores[i].Close()
	}
	require.Len(t, migrationRows(t, stores[0]), len(migrations))
}

// TestOpenRefuses checks the databases Open will not use: one written by
// a newer build, and one holding another application's table of a name
// the schema uses.
func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(ctx context.Context, conn *pgx.Conn) error
		want  error
	}{
		{"newer schema", func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
				INSERT INTO schema_migrations (version) VALUES (1), (99)`)
			return err
		}, ErrSchemaTooNew},
		{"foreign table", func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, `CREATE TABLE members (id serial PRIMARY KEY, email text)`)
			return err
		}, ErrForeignDatabase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := pgtest.Database(t, pg)
			conn, err := pgx.Connect(t.Context(), dsn)
			require.NoError(t, err)
			require.NoError(t, tc.setup(t.Context(), conn))
			require.NoError(t, conn.Close(t.Context()))
			_, err = Open(t.Context(), dsn, Options{})
			require.ErrorIs(t, err, tc.want)
			if errors.Is(tc.want, ErrForeignDatabase) {
				require.Contains(t, err.Error(), "members")
			}
		})
	}
}
